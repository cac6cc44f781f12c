// Ended streams' re-attach logs in the SQLite file (src/generation/sqlite-ended-logs.ts): read back
// exactly from any offset for the retention and no longer, out of the process's memory once
// stored, kept in memory when the store fails, and replayed whole by a server started again on the
// same file. (Across the workers of `serve --workers 2`: test/cluster.test.ts.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openDatabase, type Db } from '../../src/db/connect.js';
import { MemoryEventLog, type EndedLogStore } from '../../src/generation/event-log.js';
import { SqliteEndedLogs } from '../../src/generation/sqlite-ended-logs.js';
import { settingsFromEnv } from '../../src/config/env.js';
import { startServer } from '../../src/server.js';
import { createAccount } from '../../src/accounts/service.js';
import { createKey } from '../../src/accounts/keys.js';
import { startFakeOpenAI } from '../support/fake-openai.js';
import { rawStream } from '../support/raw-stream.js';

const frames = ['id: 7:1\ndata: {"type":"generation_start"}\n\n', 'id: 7:2\ndata: {"delta":"Привет 👋"}\n\n', 'id: 7:3\ndata: {"type":"generation_end"}\n\n'];

describe('SqliteEndedLogs', () => {
  let dir: string;
  let db: Db;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumengate-ended-'));
    db = await openDatabase(`sqlite:${join(dir, 'e.db')}`);
  });
  after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a stored log back from every offset for its retention, then not; the sweep deletes it', async () => {
    let clock = Date.parse('2026-12-06T00:00:00Z');
    const errors: unknown[] = [];
    const store = new SqliteEndedLogs(
      db.sqlite!,
      30_000,
      (e) => errors.push(e),
      () => clock,
    );
    try {
      await store.put(7, frames);
      for (let after = 0; after <= frames.length; after++) assert.deepEqual(store.get(7, after), frames.slice(after), `after ${after}`);
      assert.equal(store.get(8, 0), undefined, 'no log was stored for 8');
      clock += 30_000;
      assert.deepEqual(store.get(7, 0), frames, 'kept for its whole retention');
      assert.equal(await store.sweep(), 0);
      clock += 1;
      assert.equal(store.get(7, 0), undefined, 'past its retention');
      assert.equal(await store.sweep(), 1);
      assert.equal((db.sqlite!.prepare('select count(*) as n from stream_logs').get() as { n: number }).n, 0);
      assert.deepEqual(errors, []);
    } finally {
      store.close();
    }
  });

  it('a MemoryEventLog hands its ended logs to the store: they leave its memory budget and stay readable', async () => {
    const store = new SqliteEndedLogs(db.sqlite!, 60_000, (e) => assert.fail(String(e)));
    const log = new MemoryEventLog({ retainMs: 60_000, maxTotalBytes: 200, ended: store });
    try {
      const big = 'x'.repeat(150);
      log.append(100, 1, [big], true);
      assert.deepEqual(await log.read(100, 0), { frames: [big], ended: true }, 'readable while it is being stored');
      await store.idle();
      // The budget holds 200 bytes: a second 150-byte log fits only once the first has left memory.
      // Kept in memory, the first would have been evicted for it (ended logs go first).
      log.append(101, 1, [big], false);
      assert.deepEqual(await log.read(101, 0), { frames: [big], ended: false });
      assert.deepEqual(await log.read(100, 0), { frames: [big], ended: true }, 'the stored log is still there');
    } finally {
      log.close();
    }
  });

  it('an ended log the store fails to keep stays in memory, and the failure is reported', async () => {
    const failing: EndedLogStore = { put: () => Promise.reject(new Error('disk full')), get: () => undefined, close: () => {} };
    const errors: unknown[] = [];
    const log = new MemoryEventLog({ retainMs: 60_000, maxTotalBytes: 1000, ended: failing, onStoreError: (e) => errors.push(e) });
    try {
      log.append(5, 1, ['a', 'b'], true);
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.match(String(errors[0]), /disk full/);
      assert.deepEqual(await log.read(5, 1), { frames: ['b'], ended: true });
    } finally {
      log.close();
    }
  });
});

// The server's own choice of backend: SQLite without Redis only.
const onSqlite = !process.env.TEST_DATABASE_URL && !process.env.TEST_REDIS_URL;

describe('a server on SQLite', { skip: !onSqlite && 'the SQLite store is used without Redis on SQLite' }, () => {
  it('replays an ended stream whole after a restart on the same file', async () => {
    const fake = await startFakeOpenAI();
    fake.respondWith({ chunks: ['Once ', 'upon ', 'a time'] });
    const dir = mkdtempSync(join(tmpdir(), 'lumengate-ended-'));
    const settings = settingsFromEnv({
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'r.db')}`,
      OPENAI_API_KEY: 'sk-fake-test-key',
      OPENAI_BASE_URL: `${fake.origin}/v1`,
    });
    const start = () => startServer({ settings, logger: pino({ level: 'silent' }) });
    try {
      let server = await start();
      const account = await createAccount(server.db, { plan: 'pro', tokens: 100 });
      const { key } = await createKey(server.db, account.id, 'test');
      const first = await rawStream(`${server.url}/api/v2/generate/stream`, { method: 'POST', key, body: { model: 'gpt-5-nano', prompt: 'hi' } });
      const gen = Number(first.headers['x-generation-id']);
      await first.ended;
      const sent = first.frames();
      assert.equal(sent.filter((f) => f.data.type === 'content_delta').length, 3);
      await server.close();

      server = await start();
      try {
        const again = await rawStream(`${server.url}/api/v2/generate/${gen}/stream`, { method: 'GET', key, headers: { 'last-event-id': `${gen}:1` } });
        assert.equal(again.status, 200);
        await again.ended;
        assert.deepEqual(again.frames(), sent.slice(1), 'every event after the first, then [DONE]');
      } finally {
        await server.close();
      }
    } finally {
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
