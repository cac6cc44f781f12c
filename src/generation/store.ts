// Reads of the `generations` table used by the lifecycle and the surfaces. (The hold and the
// settlement write it inside the ledger's transactions: src/billing/*-ledger.ts.)
import type { Db } from '../db/connect.js';
import type { Generation } from '../db/schema.js';

export async function findGeneration(db: Db, id: number): Promise<Generation | undefined> {
  return db.kysely.selectFrom('generations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** One of the caller's own generations, unless deleted. */
export async function findOwnGeneration(db: Db, accountId: number, id: number): Promise<Generation | undefined> {
  return db.kysely.selectFrom('generations').selectAll().where('id', '=', id).where('account_id', '=', accountId).where('deleted_at', 'is', null).executeTakeFirst();
}
