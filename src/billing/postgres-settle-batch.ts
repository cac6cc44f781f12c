// Settlements on PostgreSQL, batched across concurrent requests (postgres-batch.ts): the same
// transition as the single settlement (postgres-ledger.ts), for several generations in one
// statement and one commit. A generation named twice in one batch (concurrent settlements of the
// same generation) is settled by its first call; the others are asked again alone and find it
// settled (applied: false), as they would have one by one.
import { preparedSql } from '../db/prepared.js';
import type { Db } from '../db/connect.js';
import type { Settled, Settlement } from './ledger.js';
import { batched, type BatchKind } from '../db/postgres-batch.js';
import { backFromGen, settleGenerationPostgres, settlementValues } from './postgres-ledger.js';

interface SettleCall {
  generationId: number;
  st: Settlement;
}

const settlements: BatchKind<SettleCall, Settled> = {
  single: (db, c) => settleGenerationPostgres(db, c.generationId, c.st),
  batch: settleBatch,
};

/** settleGenerationPostgres, batched with the settlements that arrive while others are in flight. */
export function settleGenerationPostgresBatched(db: Db, generationId: number, st: Settlement): Promise<Settled> {
  return batched(db, settlements, { generationId, st });
}

/**
 * One statement for several settlements, by index in `calls`. The balance each answer carries is
 * the account's after the whole batch. An index missing from the result (a generation named twice,
 * or none by that id) is asked again alone.
 */
export async function settleBatch(db: Db, calls: SettleCall[]): Promise<Map<number, Settled>> {
  const completedAt = new Date();
  const completed = completedAt.toISOString();
  const seen = new Set<number>();
  const index: number[] = [];
  const values: ReturnType<typeof settlementValues>[] = [];
  const ids: number[] = [];
  for (const [i, c] of calls.entries()) {
    if (seen.has(c.generationId)) continue;
    seen.add(c.generationId);
    index.push(i);
    ids.push(c.generationId);
    values.push(settlementValues(c.st, completedAt));
  }
  const col = <T>(f: (v: ReturnType<typeof settlementValues>) => T) => values.map(f);
  // Same CTEs as the single settlement, over `s` (one row per generation): `given` gives back each
  // account's total at once; data-modifying CTEs run whether or not the final SELECT reads them,
  // and it reads the statement's starting snapshot, so an account this statement changed answers
  // from `given`.
  // Rows are reached by key, one lookup per row: the generation's account from `gen` when this
  // statement settled it, else (already settled, or no such id) by its primary key; the balance
  // from `given`, else from the account's row. Written as joins, a plan PostgreSQL kept from when
  // the tables were small hashed a sequential scan of all of `generations` into every batch, and
  // the plan is kept per connection until the table is analyzed again (bench/NOTES.md, twelfth
  // session; test/core/prepared.test.ts). A COALESCE runs its subquery only when needed.
  const { rows } = await preparedSql<{ ord: string; applied: boolean; spent: number; balance: number | null; account_id: number | null }>`/* prepared: settle_batch */
    with s as (
      select * from unnest(${ids}::integer[], ${col((v) => v.status)}::text[], ${col((v) => v.resultText)}::text[], ${col((v) => v.resultJson)}::text[],
        ${col((v) => v.error)}::text[], ${col((v) => v.finishReason)}::text[], ${col((v) => v.usageJson)}::text[], ${col((v) => v.route)}::text[],
        ${col((v) => v.firstTokenAt)}::text[], ${col((v) => v.charge)}::integer[], ${col((v) => v.processingMs)}::integer[])
        with ordinality as s(id, status, result_text, result_json, error, finish_reason, usage_json, route, first_token_at, charge, processing_ms, ord)
    ), gen as (
      update generations g set status = s.status, result_text = s.result_text, result_json = s.result_json, error = s.error,
        finish_reason = s.finish_reason, usage_json = s.usage_json, route = s.route, first_token_at = s.first_token_at,
        tokens_spent = case when s.status <> 'completed' then 0 else least(coalesce(s.charge, g.held_plan + g.held_package), g.held_plan + g.held_package) end,
        completed_at = ${completed}, processing_ms = s.processing_ms
      from s where g.id = s.id and g.status = 'pending'
      returning g.id, g.account_id, g.held_plan, g.held_package, g.tokens_spent, s.status as settled_as, s.error as settle_error
    ), ${backFromGen}, given as (
      update accounts a set plan_tokens = a.plan_tokens + t.back_plan, package_tokens = a.package_tokens + t.back_package
      from (select account_id, sum(back_plan) as back_plan, sum(back_package) as back_package from back group by account_id having sum(back_plan + back_package) > 0) t
      where a.id = t.account_id
      returning a.id, a.plan_tokens + a.package_tokens as balance
    ), charged as (
      insert into ledger (account_id, generation_id, kind, amount, plan_delta, package_delta, note, created_at)
      select account_id, id, 'charge', tokens_spent, 0, 0, null, ${completed} from gen where settled_as = 'completed'
      returning generation_id
    ), released as (
      insert into ledger (account_id, generation_id, kind, amount, plan_delta, package_delta, note, created_at)
      select account_id, id, 'release', back_plan + back_package, back_plan, back_package, settle_error, ${completed}
      from back where settled_as <> 'completed' or back_plan + back_package > 0
      returning generation_id
    )
    select s.ord, gen.id is not null as applied, coalesce(gen.tokens_spent, 0) as spent,
      coalesce(given.balance, (select plan_tokens + package_tokens from accounts where id = target.account_id)) as balance, target.account_id
    from s
      left join gen on gen.id = s.id
      cross join lateral (select coalesce(gen.account_id, (select account_id from generations where id = s.id)) as account_id) target
      left join given on given.id = target.account_id`.execute(db);
  const out = new Map<number, Settled>();
  for (const r of rows) {
    // No generation by that id: the single statement throws, as it would alone.
    if (r.account_id === null) continue;
    out.set(index[Number(r.ord) - 1]!, { applied: r.applied, tokensSpent: Number(r.spent), balance: Number(r.balance), completedAt: completed });
  }
  return out;
}
