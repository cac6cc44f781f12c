// What the multi-process tests (test/scale/*, test/jobs/crash and queue tests) share: one test
// database that several `lumengate serve` children and the test itself open, the children started
// on it and stopped at the end, the account's money read straight from the database, and a raw
// SSE stream collected until the server ends or drops it.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount } from '../../src/accounts/service.js';
import { createKey } from '../../src/accounts/keys.js';
import { openDatabase, type Db } from '../../src/db/connect.js';
import type { PlanName } from '../../src/config/catalog.js';
import { startGatedOpenAI, type GatedUpstream } from './gated-openai.js';
import { startHarness, type Harness } from './harness.js';
import { startInstance, type Instance } from './instances.js';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.js';
import { createTestDatabase, dropRedisKeys, type TestDatabase } from './test-database.js';

const pgUrl = process.env.TEST_DATABASE_URL ?? '';
const redisUrl = process.env.TEST_REDIS_URL ?? '';

/** `skip` for tests that need the PostgreSQL pass of `npm test`. */
export const needsPg: string | false = !/^postgres/.test(pgUrl) ? 'needs TEST_DATABASE_URL=postgres://… (the PostgreSQL pass of npm test)' : false;
/** `skip` for tests that need the PostgreSQL + Redis pass of `npm test` (several instances). */
export const needsPgRedis: string | false = !/^postgres/.test(pgUrl) || !redisUrl ? 'needs TEST_DATABASE_URL=postgres://… and TEST_REDIS_URL (the PostgreSQL + Redis pass of npm test)' : false;

export interface SharedDatabase {
  testDb: TestDatabase;
  /** The test's own connection to the database the instances use. */
  db: Db;
  /** A scratch directory removed at close (files of the instances, the SQLite file). */
  dir: string;
  /** DATABASE_URL, and REDIS_URL + a prefix of its own when the run has Redis. */
  env: Record<string, string>;
  /** Starts `lumengate serve` on this database with `env` added; it is stopped at close. */
  start(env: Record<string, string>): Promise<Instance>;
  /** An account with plan tokens and a key for it. */
  account(plan?: PlanName, tokens?: number): Promise<{ id: number; key: string; keyId: number }>;
  /** Plan + package tokens of an account now. */
  balance(accountId: number): Promise<number>;
  /** The ledger kinds of one generation, sorted (`['charge', 'hold']` for a completed one). */
  ledgerKinds(generationId: number): Promise<string[]>;
  /**
   * Stops every instance started so far: a test's own, at its end. Instances on one database claim
   * each other's jobs, so one left running may take the next test's job (and fail it, without that
   * test's provider).
   */
  stopInstances(): Promise<void>;
  /** Stops every instance it started, drops the database and its Redis keys, removes the directory. */
  close(): Promise<void>;
}

/** A fresh database: PostgreSQL (TEST_DATABASE_URL) or a SQLite file in a scratch directory. */
export async function openSharedDatabase(): Promise<SharedDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-shared-'));
  const testDb = await createTestDatabase(pgUrl || `sqlite:${join(dir, 'test.db')}`);
  const db = await openDatabase(testDb.url);
  let started: Instance[] = [];
  // A killed instance has exited already: stopping it again only awaits that exit.
  const stopInstances = async () => {
    const stopping = started;
    started = [];
    await Promise.all(stopping.map((i) => i.stop()));
  };
  const env = { DATABASE_URL: testDb.url, ...(redisUrl ? { REDIS_URL: redisUrl, LUMENGATE_REDIS_PREFIX: testDb.name } : {}) };
  return {
    testDb,
    db,
    dir,
    env,
    async start(extra) {
      const instance = await startInstance({ ...env, ...extra });
      started.push(instance);
      return instance;
    },
    async account(plan = 'pro', tokens = 10) {
      const a = await createAccount(db, { plan, tokens });
      const k = await createKey(db, a.id, 'test');
      return { id: a.id, key: k.key, keyId: k.id };
    },
    balance: (accountId) => balanceOf(db, accountId),
    ledgerKinds: (generationId) => ledgerKinds(db, generationId),
    stopInstances,
    async close() {
      await stopInstances();
      await db.close();
      await testDb.drop();
      if (redisUrl) await dropRedisKeys(redisUrl, testDb.name);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function balanceOf(db: Db, accountId: number): Promise<number> {
  const a = await db.kysely.selectFrom('accounts').select(['plan_tokens', 'package_tokens']).where('id', '=', accountId).executeTakeFirstOrThrow();
  return a.plan_tokens + a.package_tokens;
}

/** The ledger kinds of one generation, sorted (`['charge', 'hold']` for a completed one). */
export async function ledgerKinds(db: Db, generationId: number): Promise<string[]> {
  const rows = await db.kysely.selectFrom('ledger').select('kind').where('generation_id', '=', generationId).execute();
  return rows.map((r) => r.kind).sort();
}

/**
 * POSTs a v2 stream and resolves with the whole body once the server ends or drops the connection
 * (never rejects: a killed instance gives what arrived before it died, or '').
 */
export function rawStream(url: string, key: string, body: unknown = { model: 'gpt-5-nano', prompt: 'long story' }): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${url}/api/v2/generate/stream`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
      res.on('error', () => resolve(text));
      res.on('close', () => resolve(text));
    });
    req.on('error', () => resolve(''));
    req.end(JSON.stringify(body));
  });
}

export interface PrivatePostgresRig {
  /** The private server the harness runs on: the test may stop and start it. */
  pg: PrivatePostgres;
  /** Holds every generation mid-answer until released; its answer is `answer`. */
  upstream: GatedUpstream;
  h: Harness;
  /** Starts PostgreSQL again if the test left it stopped, then ends everything. */
  close(): Promise<void>;
}

/** A harness on a private PostgreSQL server of its own, in front of a gated upstream (outage tests). */
export async function harnessOnPrivatePostgres(): Promise<PrivatePostgresRig> {
  const pg = await startPrivatePostgres();
  const upstream = await startGatedOpenAI('answer');
  const h = await startHarness({ env: { DATABASE_URL: pg.url, OPENAI_BASE_URL: `${upstream.origin}/v1` } });
  return {
    pg,
    upstream,
    h,
    async close() {
      try {
        pg.start();
      } catch {
        /* running */
      }
      await h.close();
      await upstream.close();
      pg.destroy();
    },
  };
}
