// Work that instances sharing a PostgreSQL database must do one at a time (a queue's claims, which
// count what is running before taking more): a transaction that first takes a transaction-level
// advisory lock on `key`, released by its commit. SQLite has one writer (one process): run as is.
import { sql, type Kysely } from 'kysely';
import type { Db } from './connect.js';
import type { Database } from './schema.js';

export async function inTurn<T>(db: Db, key: number, work: (k: Kysely<Database>) => Promise<T>): Promise<T> {
  if (db.dialect !== 'postgres') return work(db.kysely);
  return db.kysely.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${key})`.execute(trx);
    return work(trx);
  });
}
