// Starts a real lumengate server on 127.0.0.1 (own SQLite file, or TEST_DATABASE_URL) in front of
// a fake OpenAI upstream, and gives tests small helpers to talk to it over HTTP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { settingsFromEnv } from '../../src/config/env.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createAccount } from '../../src/accounts/service.js';
import { createKey } from '../../src/accounts/keys.js';
import { ledgerMismatches } from '../../src/billing/ledger.js';
import type { PlanName } from '../../src/config/catalog.js';
import { startFakeOpenAI, type FakeUpstream } from './fake-openai.js';
import { createTestDatabase, dropRedisKeys } from './test-database.js';
import { serverEvents, untilEvent } from './server-events.js';

export interface HarnessOptions {
  env?: Record<string, string>;
  catalog?: Record<string, unknown>;
  heartbeatMs?: number;
  /** Server logger (default: silent). */
  logger?: Logger;
}

export interface Harness {
  server: RunningServer;
  fake: FakeUpstream;
  url: string;
  /** Creates an account (plan tokens, package tokens) and a key for it. */
  account(opts?: { plan?: PlanName; tokens?: number; packageTokens?: number }): Promise<{ id: number; key: string }>;
  post(path: string, body: unknown, key?: string, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: any; text: string }>;
  get(path: string, key?: string): Promise<{ status: number; headers: Headers; json: any; text: string }>;
  balance(accountId: number): Promise<number>;
  ledgerMismatches(): ReturnType<typeof ledgerMismatches>;
  close(): Promise<void>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const fake = await startFakeOpenAI();
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-test-'));
  // Each harness gets its own database: a SQLite file, or a fresh PostgreSQL database.
  const testDb = await createTestDatabase(process.env.TEST_DATABASE_URL ?? `sqlite:${join(dir, 'test.db')}`);
  const settings = settingsFromEnv({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: testDb.url,
    ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL, LUMENGATE_REDIS_PREFIX: testDb.name } : {}),
    OPENAI_API_KEY: 'sk-fake-test-key',
    OPENAI_BASE_URL: `${fake.origin}/v1`,
    LUMENGATE_HEARTBEAT_MS: String(opts.heartbeatMs ?? 15_000),
    ...opts.env,
  });
  const server = await startServer({
    settings,
    logger: opts.logger ?? pino({ level: 'silent' }),
    catalogOverrides: [{ retries: { attempts: 1, backoff_ms: 5 } }, ...(opts.catalog ? [opts.catalog] : [])],
  });
  const url = server.url;
  const call = async (method: string, path: string, body?: unknown, key?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url + path, {
      method,
      // A FormData body is sent as multipart (fetch sets the boundary); anything else as JSON.
      headers: { ...(body !== undefined && !(body instanceof FormData) ? { 'content-type': 'application/json' } : {}), ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' || body instanceof FormData ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* SSE, text/plain or empty */
    }
    return { status: res.status, headers: res.headers, json, text };
  };
  return {
    server,
    fake,
    url,
    async account({ plan = 'pro', tokens = 100, packageTokens = 0 } = {}) {
      const a = await createAccount(server.db, { plan, tokens, package_tokens: packageTokens });
      const k = await createKey(server.db, a.id, 'test');
      return { id: a.id, key: k.key };
    },
    post: (path, body, key, headers) => call('POST', path, body, key, headers),
    get: (path, key) => call('GET', path, undefined, key),
    async balance(accountId) {
      const a = await server.db.kysely.selectFrom('accounts').select(['plan_tokens', 'package_tokens']).where('id', '=', accountId).executeTakeFirstOrThrow();
      return a.plan_tokens + a.package_tokens;
    },
    ledgerMismatches: () => ledgerMismatches(server.db),
    async close() {
      await server.close();
      await fake.close();
      await testDb.drop();
      if (process.env.TEST_REDIS_URL) await dropRedisKeys(process.env.TEST_REDIS_URL, testDb.name);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A harness for media jobs: stored files in a directory of its own (removed on close), the job
 * queue and the provider polled every few ms, backoffs short; `env` adds or overrides.
 */
export async function startJobHarness(env: Record<string, string>): Promise<Harness> {
  const filesDir = mkdtempSync(join(tmpdir(), 'lumengate-files-'));
  const h = await startHarness({
    env: { LUMENGATE_FILES_DIR: filesDir, LUMENGATE_JOB_PROVIDER_POLL_MS: '20', LUMENGATE_JOB_IDLE_POLL_MS: '50', LUMENGATE_JOB_BACKOFF_MS: '10', ...env },
  });
  return {
    ...h,
    async close() {
      await h.close();
      rmSync(filesDir, { recursive: true, force: true });
    },
  };
}

/** Parses an SSE body into its `data:` payloads (JSON objects, or the string "[DONE]"); `id:` and `event:` lines are skipped. */
export function sseEvents(body: string): any[] {
  return sseFrames(body).map((f) => f.data);
}

/** Each SSE frame of a body: its `id:` (if any) and its parsed `data:`. */
export function sseFrames(body: string): Array<{ id?: string; data: any }> {
  return body.split('\n\n').flatMap((b) => {
    const lines = b.split('\n');
    const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
    if (data === undefined) return [];
    const id = lines.find((l) => l.startsWith('id: '))?.slice(4);
    return [{ ...(id !== undefined ? { id } : {}), data: data === '[DONE]' ? '[DONE]' : JSON.parse(data) }];
  });
}

/**
 * A generation as its owner reads it once it is no longer pending (settlement runs after the
 * response ends): read now and again at each settlement the server publishes (server-events.ts).
 */
export async function settled(h: Harness, id: number, key: string): Promise<any> {
  return untilEvent(
    [serverEvents.settled],
    async () => {
      const g = (await h.get(`/api/v2/generate/${id}`, key)).json;
      return g.status !== 'pending' && g;
    },
    `generation ${id} settled`,
  );
}

/** The account's generations once there is at least one and none is pending, read again at each settlement. */
export async function allSettled(h: Harness, accountId: number): Promise<any[]> {
  return untilEvent(
    [serverEvents.settled],
    async () => {
      const rows = await h.server.db.kysely.selectFrom('generations').selectAll().where('account_id', '=', accountId).execute();
      return rows.length > 0 && rows.every((r) => r.status !== 'pending') && rows;
    },
    `the generations of account ${accountId} settled`,
  );
}
