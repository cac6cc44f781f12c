// Holds on PostgreSQL, batched across concurrent requests (postgres-batch.ts). Every hold on an
// account locks its row until the hold commits, so concurrent holds on one account run one commit
// at a time, and each waiter pays PostgreSQL for the wait (bench/NOTES.md: one account, eight
// concurrent holders: ~550 µs of PostgreSQL CPU per hold against ~250 µs spread over 32 accounts).
// A batch locks each account row once (in id order, so two batches never deadlock) and applies the
// same rules as the single hold (postgres-ledger.ts) in arrival order. Each hold still commits
// before its caller goes on.
import { preparedSql } from '../db/prepared.js';
import type { Db } from '../db/connect.js';
import type { Hold, HoldRequest } from './ledger.js';
import { batched, type BatchKind } from '../db/postgres-batch.js';
import { holdTokensPostgres, pgText } from './postgres-ledger.js';

const holds: BatchKind<HoldRequest, Hold | null> = { single: holdTokensPostgres, batch: holdBatch };

/** holdTokensPostgres, batched with the holds that arrive while others are in flight. */
export function holdTokensPostgresBatched(db: Db, req: HoldRequest): Promise<Hold | null> {
  // A media hold also creates its job row: those go one by one (they are few and slow anyway).
  return req.job ? holdTokensPostgres(db, req) : batched(db, holds, req);
}

/**
 * One statement for several holds, by index in `reqs`: the ones that fit the balance in arrival
 * order (a running sum per account), plan tokens first, each with its pending generation and its
 * `hold` ledger row. An index missing from the result did not fit after the earlier ones.
 */
export async function holdBatch(db: Db, reqs: HoldRequest[]): Promise<Map<number, Hold>> {
  const createdAt = new Date();
  const created = createdAt.toISOString();
  const col = <T>(f: (r: HoldRequest) => T) => reqs.map(f);
  // `ok` calls nextval(): a volatile CTE is computed once, so the generation, its ledger row and the
  // answer share each id. FOR UPDATE with ORDER BY locks the rows in id order. The data-modifying
  // CTEs run whether or not the final SELECT reads them.
  const { rows } = await preparedSql<{ ord: string; id: number }>`/* prepared: hold_batch */
    with req as (
      select * from unnest(${col((r) => r.accountId)}::integer[], ${col((r) => r.apiKeyId)}::integer[], ${col((r) => r.price)}::integer[],
        ${col((r) => r.modelSlug)}::text[], ${col((r) => r.category)}::text[], ${col((r) => pgText(r.prompt))}::text[],
        ${col((r) => new Date(createdAt.getTime() + r.holdTtlMs).toISOString())}::text[], ${col((r) => r.instanceId ?? null)}::text[],
        ${col((r) => r.callbackUrl ?? null)}::text[])
        with ordinality as r(account_id, api_key_id, price, model_slug, category, prompt, expires, instance_id, callback_url, ord)
    ), acc as (
      select id, plan_tokens, package_tokens from accounts where id in (select account_id from req) order by id for update
    ), run as (
      select req.*, acc.plan_tokens, acc.package_tokens, sum(req.price) over (partition by req.account_id order by req.ord) as upto
      from req join acc on acc.id = req.account_id
    ), ok as (
      select run.*, greatest(0, least(run.price, run.plan_tokens - (run.upto - run.price)))::integer as from_plan,
        nextval(pg_get_serial_sequence('generations', 'id'))::integer as gid
      from run where run.upto <= run.plan_tokens + run.package_tokens
    ), taken as (
      update accounts a set plan_tokens = a.plan_tokens - t.from_plan, package_tokens = a.package_tokens - t.from_package
      from (select account_id, sum(from_plan) as from_plan, sum(price - from_plan) as from_package from ok group by account_id) t
      where a.id = t.account_id
    ), gen as (
      insert into generations (id, account_id, api_key_id, model_slug, category, status, prompt, held_plan, held_package,
        tokens_spent, created_at, hold_expires_at, instance_id, callback_url)
      select gid, account_id, api_key_id, model_slug, category, 'pending', prompt, from_plan, price - from_plan, 0, ${created}, expires, instance_id, callback_url
      from ok
    ), led as (
      insert into ledger (account_id, generation_id, kind, amount, plan_delta, package_delta, note, created_at)
      select account_id, gid, 'hold', price, -from_plan, -(price - from_plan), null, ${created} from ok
    )
    select ok.ord, ok.gid as id from ok`.execute(db);
  return new Map(rows.map((r) => [Number(r.ord) - 1, { generationId: Number(r.id), createdAt: created, price: reqs[Number(r.ord) - 1]!.price }]));
}
