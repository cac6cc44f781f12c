// The ledger's two hot transactions on PostgreSQL, each as ONE statement (one round trip, one
// implicit commit). Hold: lock the account row, check the balance, move the price out of it (plan
// tokens first), create the pending generation, its `hold` ledger row (and a media generation's job row). Settle: the pending ->
// completed|failed transition, the release back to the account when failed, and the charge or
// release ledger row. As multi-statement transactions each step waited for a turn of a busy Node
// event loop while holding a pooled connection (and, for holds, the account's row lock): 64
// concurrent callers drained the pool and the bench measured ~220 req/s. Semantics are those of
// the SQLite path (sqlite-ledger.ts).
import { preparedSql, SqlText } from '../db/prepared.js';
import type { Db } from '../db/connect.js';
import type { Hold, HoldRequest, Settled, Settlement } from './ledger.js';

/**
 * PostgreSQL text cannot hold NUL (U+0000): a statement with one fails ("invalid byte sequence
 * 0x00"). Request input with NUL is refused at the HTTP layer (http/nul.ts), but a model may emit
 * one, and the client has the answer by the time it is settled: NUL is stored as U+FFFD (the
 * replacement character) so the settlement always succeeds. SQLite stores NUL as it is.
 */
export const pgText = <T extends string | null>(v: T): T => (v !== null && v.includes('\0') ? (v.replaceAll('\0', '\uFFFD') as T) : v);

export async function holdTokensPostgres(db: Db, req: HoldRequest): Promise<Hold | null> {
  const createdAt = new Date();
  const created = createdAt.toISOString();
  const expires = new Date(createdAt.getTime() + req.holdTtlMs).toISOString();
  const price = req.price;
  // FOR UPDATE waits for the row lock and then re-evaluates the WHERE on the newest row version
  // (READ COMMITTED), so the balance check always sees every committed hold.
  // Prepared once per connection (db/prepared.ts): the text below never changes.
  const { rows } = await preparedSql<{ id: number }>`/* prepared: hold */
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
        tokens_spent, created_at, hold_expires_at, instance_id, callback_url)
      select acc.id, ${req.apiKeyId}, ${req.modelSlug}, ${req.category}, 'pending', ${pgText(req.prompt)}, acc.from_plan,
        ${price}::integer - acc.from_plan, 0, ${created}, ${expires}, ${req.instanceId ?? null}, ${req.callbackUrl ?? null}
      from acc join taken on taken.id = acc.id
      returning id, account_id, held_plan, held_package
    ), job as (
      insert into jobs (generation_id, account_id, state, attempts, max_attempts, run_after, input_json, created_at, updated_at)
      select gen.id, gen.account_id, 'queued', 0, ${req.job?.maxAttempts ?? 0}::integer, ${req.job?.runAfter ?? created}, ${req.job?.inputJson ?? ''}, ${created}, ${created}
      from gen where ${req.job !== undefined}::boolean
    )
    insert into ledger (account_id, generation_id, kind, amount, plan_delta, package_delta, note, created_at)
    select gen.account_id, gen.id, 'hold', ${price}::integer, -gen.held_plan, -gen.held_package, null, ${created} from gen
    returning generation_id as id`.execute(db);
  const row = rows[0];
  return row ? { generationId: Number(row.id), createdAt: created, price } : null;
}

/**
 * The settlement's `back` CTE, over `gen` (the rows it settled): what returns to the account, the
 * whole hold when failed, the rest of a partial charge when completed, package tokens first (the
 * hold took plan tokens first; sqlite-ledger.ts has the same rule). Raw text: the statement's text
 * never changes, so it can stay prepared.
 */
export const backFromGen = new SqlText(`back as (
      select gen.*, least(held_package, held_plan + held_package - tokens_spent) as back_package,
        held_plan + held_package - tokens_spent - least(held_package, held_plan + held_package - tokens_spent) as back_plan
      from gen
    )`);

/** A settlement's column values as PostgreSQL stores them (NUL replaced, usage as JSON, the charge floored). */
export function settlementValues(st: Settlement, completedAt: Date) {
  return {
    status: st.status,
    failed: st.status !== 'completed',
    resultText: pgText(st.resultText),
    resultJson: pgText(st.resultJson ?? null),
    error: pgText(st.error),
    finishReason: pgText(st.finishReason),
    route: pgText(st.route),
    // JSON.stringify writes NUL as the escape \u0000 (six characters): nothing to replace.
    usageJson: st.usage == null ? null : JSON.stringify(st.usage),
    firstTokenAt: st.firstTokenAt,
    charge: st.charge === undefined ? null : Math.max(0, Math.floor(st.charge)),
    processingMs: st.createdAt ? completedAt.getTime() - Date.parse(st.createdAt) : null,
  };
}

export async function settleGenerationPostgres(db: Db, generationId: number, st: Settlement): Promise<Settled> {
  const completedAt = new Date();
  const completed = completedAt.toISOString();
  const { failed, resultText, resultJson, error, finishReason, route, usageJson, charge, processingMs } = settlementValues(st, completedAt);
  // Data-modifying CTEs run exactly once whether or not the final SELECT reads them. The final
  // SELECT sees the statement's starting snapshot, so the balance after a release is taken from
  // `given`; otherwise this statement did not change the account.
  // `back` is what returns to the account: the whole hold when failed, the rest of a partial
  // charge when completed; package tokens first (the hold took plan tokens first). Same rule as
  // sqlite-ledger.ts.
  const { rows } = await preparedSql<{ applied: boolean; spent: number; balance: number | null; account_id: number | null }>`/* prepared: settle */
    with gen as (
      update generations set status = ${st.status}, result_text = ${resultText}, result_json = ${resultJson}, error = ${error},
        finish_reason = ${finishReason}, usage_json = ${usageJson}, route = ${route},
        first_token_at = ${st.firstTokenAt},
        tokens_spent = case when ${failed}::boolean then 0 else least(coalesce(${charge}::integer, held_plan + held_package), held_plan + held_package) end,
        completed_at = ${completed}, processing_ms = ${processingMs}::integer
      where id = ${generationId} and status = 'pending'
      returning id, account_id, held_plan, held_package, tokens_spent
    ), ${backFromGen}, given as (
      update accounts a set plan_tokens = a.plan_tokens + back.back_plan, package_tokens = a.package_tokens + back.back_package
      from back where a.id = back.account_id and back.back_plan + back.back_package > 0
      returning a.plan_tokens + a.package_tokens as balance
    ), charged as (
      insert into ledger (account_id, generation_id, kind, amount, plan_delta, package_delta, note, created_at)
      select account_id, id, 'charge', tokens_spent, 0, 0, null, ${completed} from gen where not ${failed}::boolean
      returning generation_id
    ), released as (
      insert into ledger (account_id, generation_id, kind, amount, plan_delta, package_delta, note, created_at)
      select account_id, id, 'release', back_plan + back_package, back_plan, back_package, ${error}, ${completed}
      from back where ${failed}::boolean or back_plan + back_package > 0
      returning generation_id
    ), target as (
      select account_id from generations where id = ${generationId}
    )
    select exists (select 1 from gen) as applied,
      coalesce((select tokens_spent from gen), 0) as spent,
      coalesce((select balance from given), (select plan_tokens + package_tokens from accounts where id = (select account_id from target))) as balance,
      (select account_id from target) as account_id`.execute(db);
  const row = rows[0];
  if (!row || row.account_id === null) throw new Error(`no generation ${generationId}`);
  return { applied: row.applied, tokensSpent: Number(row.spent), balance: Number(row.balance), completedAt: completed };
}
