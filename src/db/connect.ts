// Opens the database named by DATABASE_URL: `sqlite:<path>` (default) or `postgres://…`.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.js';
import { migrateToLatest } from './migrations.js';
import { BusyRetryingSqliteDialect } from './sqlite-dialect.js';
import type { Statement } from './prepared.js';
import { statementResultClass } from './pg-result.js';
import type { Submittable } from 'pg';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** The raw SQLite handle, for the ledger's synchronous transactions (billing/sqlite-ledger.ts). */
  sqlite?: import('better-sqlite3').Database;
  /**
   * PostgreSQL only: one hot statement on a pooled connection, without Kysely's executor
   * (db/prepared.ts). Named (prepared) when it has a name and prepared statements are on.
   */
  pgQuery?: (statement: Statement, values: unknown[]) => Promise<{ rows: unknown[] }>;
  close(): Promise<void>;
}

/**
 * SQLite's page cache per connection when none is given: SQLite's own default (2 MB), not the
 * 16 MB better-sqlite3 builds in. The gateway's writes touch the newest pages of a few tables and
 * indexes: with 2 MB a closed loop read 0.15 pages per request from the OS instead of 0.11, and the
 * 10-minute soak's RSS grew 5.9 % instead of 17.4 % (bench/NOTES.md, fifth session).
 */
export const DEFAULT_SQLITE_CACHE_KIB = 2048;

export async function openDatabase(url: string, opts: { migrate?: boolean; poolSize?: number; preparedStatements?: boolean; sqliteCacheKib?: number } = {}): Promise<Db> {
  let kysely: Kysely<Database>;
  let dialect: Dialect;
  let raw: import('better-sqlite3').Database | undefined;
  let pgQuery: Db['pgQuery'];
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length) || ':memory:';
    const { default: SQLite } = await import('better-sqlite3');
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const sqlite = new SQLite(path);
    // WAL lets readers run beside the writer. Opening may wait for another process's lock (nothing
    // is served yet); afterwards busy_timeout is 0: a locked database is waited for asynchronously
    // (busy.ts), never inside a synchronous call with the event loop blocked.
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // Negative: a size in KiB, not a page count.
    sqlite.pragma(`cache_size = -${Math.floor(opts.sqliteCacheKib ?? DEFAULT_SQLITE_CACHE_KIB)}`);
    sqlite.pragma('busy_timeout = 0');
    kysely = new Kysely<Database>({ dialect: new BusyRetryingSqliteDialect(sqlite) });
    dialect = 'sqlite';
    raw = sqlite;
  } else if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { default: pg } = await import('pg');
    // A bounded wait for a connection: a full pool or a down server answers 503 instead of hanging.
    const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10, connectionTimeoutMillis: 10_000, keepAlive: true });
    pool.on('error', () => {}); // an idle client's connection dropped (server restart): the pool replaces it
    const named = opts.preparedStatements !== false;
    kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    dialect = 'postgres';
    // As Kysely runs a statement: released without destroying the connection (pg's pool.query
    // would destroy it after any error, a refused statement included); a broken one is dropped by pg.
    // The Query is built from the text, its name set after: handed a config object, pg copies it
    // property descriptor by property descriptor and wraps the answer in two promises of its own,
    // per statement (bench/NOTES.md, eighth session).
    const Query = pg.Query as unknown as new (
      text: string,
      values: unknown[],
      callback: (err: Error | null, res: { rows: unknown[] }) => void,
    ) => Submittable & { name?: string; _result?: unknown; _results?: unknown };
    // Each result describes the statement's columns once per process, not once per result (db/pg-result.ts).
    const StatementResult = statementResultClass(pg);
    pgQuery = async ({ name, text }, values) => {
      const client = await pool.connect();
      return new Promise((resolve, reject) => {
        const query = new Query(text, values, (err, res) => {
          client.release();
          if (err) reject(err);
          else resolve(res);
        });
        if (named && name) query.name = name;
        // pg 8's Query keeps its result as _result (and _results, the same object for one statement).
        if (query._result !== undefined) query._result = query._results = new StatementResult(text);
        client.query(query);
      });
    };
  } else {
    throw new Error(`DATABASE_URL must start with sqlite: or postgres://, got ${JSON.stringify(url.split(':')[0])}`);
  }
  if (opts.migrate !== false) await migrateToLatest(kysely, dialect);
  return { kysely, dialect, sqlite: raw, pgQuery, close: () => kysely.destroy() };
}

export const nowIso = (): string => new Date().toISOString();
