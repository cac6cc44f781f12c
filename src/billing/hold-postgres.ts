// The hold on PostgreSQL as ONE statement: lock the account row, check the balance, move the
// price out of it (plan tokens first), create the pending generation and its `hold` ledger row.
// One round trip means the row lock is held for microseconds plus the commit, not for several
// trips through a busy Node event loop: with many instances hammering one account, that is what
// keeps throughput up. Semantics are those of the SQLite path in ledger.ts.
import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import type { Hold, HoldRequest } from './ledger.js';

export async function holdTokensPostgres(db: Db, req: HoldRequest): Promise<Hold | null> {
  const createdAt = new Date();
  const created = createdAt.toISOString();
  const expires = new Date(createdAt.getTime() + req.holdTtlMs).toISOString();
  const price = req.price;
  // FOR UPDATE waits for the row lock and then re-evaluates the WHERE on the newest row version
  // (READ COMMITTED), so the balance check always sees every committed hold.
  const { rows } = await sql<{ id: number }>`
    with acc as (
      select id, least(plan_tokens, ${price}::integer) as from_plan
      from accounts where id = ${req.accountId} and plan_tokens + package_tokens >= ${price}::integer
      for update
    ), taken as (
      update accounts a set plan_tokens = a.plan_tokens - acc.from_plan, package_tokens = a.package_tokens - (${price}::integer - acc.from_plan)
      from acc where a.id = acc.id
      returning a.id
    ), gen as (
      insert into generations (account_id, api_key_id, model_slug, category, status, prompt, held_plan, held_package,
        tokens_spent, created_at, hold_expires_at, instance_id)
      select acc.id, ${req.apiKeyId}, ${req.modelSlug}, ${req.category}, 'pending', ${req.prompt}, acc.from_plan,
        ${price}::integer - acc.from_plan, 0, ${created}, ${expires}, ${req.instanceId ?? null}
      from acc join taken on taken.id = acc.id
      returning id, account_id, held_plan, held_package
    )
    insert into ledger (account_id, generation_id, kind, amount, plan_delta, package_delta, note, created_at)
    select gen.account_id, gen.id, 'hold', ${price}::integer, -gen.held_plan, -gen.held_package, null, ${created} from gen
    returning generation_id as id`.execute(db.kysely);
  const row = rows[0];
  return row ? { generationId: Number(row.id), createdAt: created, price } : null;
}
