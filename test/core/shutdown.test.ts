// Graceful shutdown (docs/deploy.md): a generation whose client has already left still ends in its
// settlement. close() waits for the generations running in this process after the HTTP server has
// closed and before the providers and the database do. Before, on PostgreSQL, requests whose
// client had left while their hold was in flight reached the upstream after the provider pool had
// closed, and their settlement found the database closed ("driver has already been destroyed"):
// their holds stayed pending until the sweeper's expiry (the second test failed every time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { settingsFromEnv } from '../../src/config/env.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openDatabase, type Db } from '../../src/db/connect.js';
import { createAccount } from '../../src/accounts/service.js';
import { createKey } from '../../src/accounts/keys.js';
import { ledgerMismatches } from '../../src/billing/ledger.js';
import type { PlanName } from '../../src/config/catalog.js';
import { startGatedOpenAI } from '../support/gated-openai.js';
import { startFakeOpenAI } from '../support/fake-openai.js';
import { rawStream } from '../support/raw-stream.js';
import { createTestDatabase, dropRedisKeys } from '../support/test-database.js';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { request } from 'node:http';

interface Upstream {
  origin: string;
  close(): Promise<void>;
}

interface Stage<U extends Upstream> {
  server: RunningServer;
  upstream: U;
  key: string;
  accountId: number;
  /** After server.close(): reads the database with a connection of its own. */
  afterClose<T>(read: (db: Db) => Promise<T>): Promise<T>;
}

/** A server in front of the given upstream, with one account. */
async function withServer<U extends Upstream>(opts: { upstream: () => Promise<U>; plan: PlanName; tokens: number }, run: (stage: Stage<U>) => Promise<void>): Promise<void> {
  const upstream = await opts.upstream();
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-shutdown-'));
  const testDb = await createTestDatabase(process.env.TEST_DATABASE_URL ?? `sqlite:${join(dir, 'test.db')}`);
  const redis = process.env.TEST_REDIS_URL;
  try {
    const settings = settingsFromEnv({
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: testDb.url,
      ...(redis ? { REDIS_URL: redis, LUMENGATE_REDIS_PREFIX: testDb.name } : {}),
      OPENAI_API_KEY: 'sk-fake-test-key',
      OPENAI_BASE_URL: `${upstream.origin}/v1`,
      LUMENGATE_FILES_DIR: join(dir, 'files'),
    });
    const server = await startServer({ settings, logger: pino({ level: 'silent' }) });
    const account = await createAccount(server.db, { name: 'shutdown', plan: opts.plan, tokens: opts.tokens });
    const { key } = await createKey(server.db, account.id, 'shutdown');
    const afterClose = async <T>(read: (db: Db) => Promise<T>) => {
      const db = await openDatabase(testDb.url, { migrate: false });
      try {
        return await read(db);
      } finally {
        await db.close();
      }
    };
    await run({ server, upstream, key, accountId: account.id, afterClose });
  } finally {
    await upstream.close();
    if (redis) await dropRedisKeys(redis, testDb.name);
    await testDb.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('SIGTERM-style close: a background stream whose client left is completed and charged, not left pending', () =>
  // The gated upstream holds each answer until released.
  withServer({ upstream: () => startGatedOpenAI('half an answer'), plan: 'pro', tokens: 10 }, async ({ server, upstream: gated, key, afterClose }) => {
    // The client reads the first delta, then leaves; the generation goes on in the background.
    const s = await rawStream(`${server.url}/api/v2/generate/stream`, { method: 'POST', key, body: { model: 'gpt-5-nano', prompt: 'long', background: true } });
    assert.equal(s.status, 200);
    await s.until((f) => f.some((e) => e.data.type === 'content_delta'));
    const gen = Number(s.headers['x-generation-id']);
    s.destroy();
    await gated.waitFor(1);

    // The shutdown starts with the generation held at the upstream; the upstream then finishes it.
    const closing = server.close();
    gated.release();
    await closing;

    await afterClose(async (db) => {
      const row = await db.kysely.selectFrom('generations').select(['status', 'result_text', 'tokens_spent']).where('id', '=', gen).executeTakeFirstOrThrow();
      assert.equal(row.status, 'completed');
      assert.equal(row.result_text, 'half an answer');
      assert.ok(Number(row.tokens_spent) > 0, 'charged');
      assert.deepEqual(await ledgerMismatches(db), []);
    });
  }));

test('close while requests whose clients left are between their key check and their hold: each is settled, none left pending', () =>
  // An upstream whose first chunk comes 300 ms after the request: the generations are still in
  // flight there when the shutdown starts.
  withServer({ upstream: () => startFakeOpenAI(), plan: 'elite', tokens: 1000 }, async ({ server, upstream, key, accountId, afterClose }) => {
    upstream.respondWith({ chunks: ['x'], firstChunkDelayMs: 300 });
    const n = 20;
    const port = new URL(server.url).port;
    const body = JSON.stringify({ model: 'gpt-5-nano', prompt: 'hi' });

    // Every request has passed its key check: its client leaves, and the server is told to stop.
    let authenticated = 0;
    let allIn!: () => void;
    const ready = new Promise<void>((r) => (allIn = r));
    const onAuth = () => void (++authenticated === n && allIn());
    subscribe('lumengate:request:authenticated', onAuth);
    const clients = Array.from({ length: n }, () => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v2/generate', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } });
      req.on('error', () => {});
      req.end(body);
      return req;
    });
    await ready;
    unsubscribe('lumengate:request:authenticated', onAuth);
    for (const c of clients) c.destroy();
    await server.close();

    await afterClose(async (db) => {
      const rows = await db.kysely.selectFrom('generations').select(['status']).where('account_id', '=', accountId).execute();
      assert.ok(rows.length <= n);
      assert.deepEqual(
        rows.filter((r) => r.status === 'pending'),
        [],
        'no generation left pending',
      );
      assert.deepEqual(await ledgerMismatches(db), []);
    });
  }));
