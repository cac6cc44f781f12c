// Accounts: creation, listing, and token grants (each grant is a ledger row).
import type { Db } from '../db/connect.js';
import { nowIso } from '../db/connect.js';
import { PLANS, type PlanName } from '../config/catalog.js';
import { grantTokens } from '../billing/ledger.js';

export function isPlan(p: string): p is PlanName {
  return (PLANS as readonly string[]).includes(p);
}

export async function createAccount(db: Db, opts: { name?: string; plan: PlanName; planTokens?: number; packageTokens?: number }) {
  const row = await db.kysely.insertInto('accounts')
    .values({ name: opts.name ?? '', plan: opts.plan, plan_tokens: 0, package_tokens: 0, status: 'active', plan_expires_at: null, created_at: nowIso() })
    .returning('id').executeTakeFirstOrThrow();
  if (opts.planTokens) await grantTokens(db, row.id, opts.planTokens, 'plan', 'initial plan tokens');
  if (opts.packageTokens) await grantTokens(db, row.id, opts.packageTokens, 'package', 'initial package tokens');
  return getAccount(db, row.id);
}

export async function getAccount(db: Db, id: number) {
  const a = await db.kysely.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!a) throw new Error(`no account ${id}`);
  return a;
}

export async function listAccounts(db: Db) {
  return db.kysely.selectFrom('accounts').selectAll().orderBy('id').execute();
}
