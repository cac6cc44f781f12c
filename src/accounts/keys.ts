// API keys: `nb_` + 45 base62 characters. Only a SHA-256 hash is stored; keys carry 268 bits of
// randomness, so a fast hash is enough and lookups stay a single indexed read.
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { sql, type CompiledQuery, type Kysely } from 'kysely';
import type { Db } from '../db/connect.js';
import { nowIso } from '../db/connect.js';
import type { Account, ApiKeyRow, Database } from '../db/schema.js';
import { whenNotBusy } from '../db/busy.js';
import { prepared, runPrepared, type Statement } from '../db/prepared.js';
import { batched, type BatchKind } from '../db/postgres-batch.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const KEY_PATTERN = /^nb_[0-9A-Za-z]{45}$/;

export function newKeySecret(): string {
  let s = 'nb_';
  for (let i = 0; i < 45; i++) s += BASE62[randomInt(62)];
  return s;
}

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');
export const displayPrefix = (key: string): string => `${key.slice(0, 7)}…`;

export interface CreatedKey {
  id: number;
  account_id: number;
  name: string;
  key: string;
  display_prefix: string;
  created_at: string;
}

export async function createKey(db: Db, accountId: number, name: string): Promise<CreatedKey> {
  const key = newKeySecret();
  const created_at = nowIso();
  const row = await db.kysely
    .insertInto('api_keys')
    .values({ account_id: accountId, name, key_hash: hashKey(key), display_prefix: displayPrefix(key), created_at, last_used_at: null, revoked_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, account_id: accountId, name, key, display_prefix: displayPrefix(key), created_at };
}

/**
 * Creates a key unless the account already has `maxActive` active keys (then null). The count and
 * the insert are one statement, so on SQLite (writers serialised) no two calls can both pass the
 * check. On PostgreSQL that statement's snapshot would not see a concurrent insert, so the account
 * row is locked first (FOR UPDATE, same transaction): callers for one account take turns, and each
 * count, a new statement under READ COMMITTED, sees every key committed before it.
 */
export async function createKeyWithinLimit(db: Db, accountId: number, name: string, maxActive: number): Promise<CreatedKey | null> {
  const key = newKeySecret();
  const created_at = nowIso();
  const insert = async (k: Kysely<Database>) =>
    (
      await sql<{ id: number }>`
    insert into api_keys (account_id, name, key_hash, display_prefix, created_at, last_used_at, revoked_at)
    select cast(${accountId} as integer), cast(${name} as text), cast(${hashKey(key)} as text), cast(${displayPrefix(key)} as text), cast(${created_at} as text), null, null
    where (select count(*) from api_keys where account_id = ${accountId} and revoked_at is null) < ${maxActive}
    returning id`.execute(k)
    ).rows[0];
  const row =
    db.dialect === 'postgres'
      ? await db.kysely.transaction().execute(async (trx) => {
          await sql`select id from accounts where id = ${accountId} for update`.execute(trx);
          return insert(trx);
        })
      : await insert(db.kysely);
  return row ? { id: Number(row.id), account_id: accountId, name, key, display_prefix: displayPrefix(key), created_at } : null;
}

export interface Caller {
  account: Account;
  key: ApiKeyRow;
}

/**
 * The key-to-account query, built and compiled once per database: it runs on every request. On
 * SQLite the compiled SQL is also prepared once and read synchronously (the Kysely driver would add
 * its connection mutex and promise hops around the same native call); on PostgreSQL it runs as a
 * named statement on a pooled connection, without Kysely's executor (db/prepared.ts `runPrepared`).
 */
const callerQueries = new WeakMap<Db, CallerQuery>();
type CallerRow = ReturnType<typeof compileCallerQuery> extends CompiledQuery<infer R> ? R : never;
interface CallerQuery {
  sqlite?: import('better-sqlite3').Statement<[string], CallerRow>;
  /** On PostgreSQL: the same SQL, prepared once per connection (db/prepared.ts). */
  postgres?: Statement;
  /** On PostgreSQL: the same read for an array of key hashes (several callers in one statement). */
  postgresBatch?: Statement;
}
function callerQuery(db: Db): CallerQuery {
  let q = callerQueries.get(db);
  if (!q) {
    const compiled = compileCallerQuery(db);
    q = {
      ...(db.dialect === 'postgres' ? { postgres: prepared('caller', compiled.sql), postgresBatch: prepared('caller_batch', batchCallerSql(compiled.sql)) } : {}),
      ...(db.sqlite ? { sqlite: db.sqlite.prepare<[string], CallerRow>(compiled.sql) } : {}),
    };
    callerQueries.set(db, q);
  }
  return q;
}
function compileCallerQuery(db: Db) {
  const compiled = db.kysely
    .selectFrom('api_keys')
    .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
    .select([
      'api_keys.id as key_id',
      'api_keys.account_id',
      'api_keys.name as key_name',
      'api_keys.key_hash',
      'api_keys.display_prefix',
      'api_keys.created_at as key_created_at',
      'api_keys.last_used_at',
      'api_keys.revoked_at',
      'accounts.name',
      'accounts.plan',
      'accounts.plan_tokens',
      'accounts.package_tokens',
      'accounts.status',
      'accounts.plan_expires_at',
      'accounts.created_at',
    ])
    .where('api_keys.key_hash', '=', '')
    .compile();
  if (compiled.parameters.length !== 1) throw new Error('the caller query must take exactly one parameter (the key hash)');
  return compiled;
}

/** The caller query's `key_hash = $1` as `key_hash = any($1::text[])`. */
function batchCallerSql(single: string): string {
  const where = '"api_keys"."key_hash" = $1';
  if (!single.endsWith(where)) throw new Error(`unexpected caller query: ${single}`);
  return `${single.slice(0, -where.length)}"api_keys"."key_hash" = any($1::text[])`;
}

async function readCaller(db: Db, hash: string): Promise<CallerRow | undefined> {
  const st = callerQuery(db).sqlite;
  // Synchronous on SQLite; a (rare) SQLITE_BUSY on a WAL read is waited for asynchronously.
  if (st) return whenNotBusy(() => st.get(hash));
  // On PostgreSQL the reads that arrive while one is in flight share one statement (db/postgres-batch.ts):
  // each is still made after its request arrived, so a revocation holds at once as before.
  return batched(db, callerReads, hash);
}

const callerReads: BatchKind<string, CallerRow | undefined> = {
  async single(db, hash) {
    const q = callerQuery(db);
    return (await runPrepared<CallerRow>(db, q.postgres!, [hash])).rows[0];
  },
  async batch(db, hashes) {
    const q = callerQuery(db);
    const { rows } = await runPrepared<CallerRow>(db, q.postgresBatch!, [[...new Set(hashes)]]);
    const byHash = new Map(rows.map((r) => [r.key_hash, r]));
    // Every index answered (an unknown key too); each caller gets its own copy of a shared row.
    return new Map(
      hashes.map((h, i) => {
        const row = byHash.get(h);
        return [i, row ? { ...row } : undefined];
      }),
    );
  },
};

/**
 * Resolves a bearer key to its account. Null when unknown, revoked, or the account is suspended.
 * Read from the database on every request so a revocation anywhere takes effect at once.
 */
export async function findCaller(db: Db, presented: string): Promise<Caller | null> {
  if (!KEY_PATTERN.test(presented)) return null;
  const hash = hashKey(presented);
  const row = await readCaller(db, hash);
  // The index lookup already matched; compare again in constant time so equality never short-circuits.
  if (!row || !timingSafeEqual(Buffer.from(row.key_hash), Buffer.from(hash))) return null;
  if (row.revoked_at !== null || row.status !== 'active') return null;
  return {
    account: {
      id: row.account_id,
      name: row.name,
      plan: row.plan,
      plan_tokens: row.plan_tokens,
      package_tokens: row.package_tokens,
      status: row.status,
      plan_expires_at: row.plan_expires_at,
      created_at: row.created_at,
    },
    key: {
      id: row.key_id,
      account_id: row.account_id,
      name: row.key_name,
      key_hash: row.key_hash,
      display_prefix: row.display_prefix,
      created_at: row.key_created_at,
      last_used_at: row.last_used_at,
      revoked_at: row.revoked_at,
    },
  };
}

/**
 * last_used_at is bookkeeping, not billing: written at most once a minute per key so that
 * authentication stays a read.
 */
export class KeyUsageTracker {
  private lastWrite = new Map<number, number>();
  constructor(
    private db: Db,
    private intervalMs = 60_000,
  ) {}
  touch(keyId: number): void {
    const now = Date.now();
    if (now - (this.lastWrite.get(keyId) ?? 0) < this.intervalMs) return;
    this.lastWrite.set(keyId, now);
    this.db.kysely
      .updateTable('api_keys')
      .set({ last_used_at: new Date(now).toISOString() })
      .where('id', '=', keyId)
      .execute()
      .catch(() => {
        this.lastWrite.delete(keyId);
      });
  }
}
