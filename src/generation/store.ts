// Every query on the `generations` table outside the ledger's own transactions (the hold inserts
// the row and the settlement updates it, in src/billing/*-ledger.ts, beside the balance change).
import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { nowIso } from '../db/connect.js';
import type { Generation } from '../db/schema.js';

export async function findGeneration(db: Db, id: number): Promise<Generation | undefined> {
  return db.kysely.selectFrom('generations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** One of the caller's own generations, unless deleted. */
export async function findOwnGeneration(db: Db, accountId: number, id: number): Promise<Generation | undefined> {
  return db.kysely.selectFrom('generations').selectAll().where('id', '=', id).where('account_id', '=', accountId).where('deleted_at', 'is', null).executeTakeFirst();
}

/**
 * One of the caller's own generations with the account's balance, in one statement (polling,
 * GET /api/v2/generate/{id}): one round trip instead of two, and the balance is read in the same
 * snapshot as the generation, so a completed generation is never shown with its pre-settlement
 * balance (the settlement changes both in one transaction).
 */
export async function findOwnGenerationWithBalance(db: Db, accountId: number, id: number): Promise<{ generation: Generation; balance: number } | undefined> {
  const row = await db.kysely
    .selectFrom('generations')
    .innerJoin('accounts', 'accounts.id', 'generations.account_id')
    .selectAll('generations')
    .select(['accounts.plan_tokens as balance_plan_tokens', 'accounts.package_tokens as balance_package_tokens'])
    .where('generations.id', '=', id)
    .where('generations.account_id', '=', accountId)
    .where('generations.deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  const { balance_plan_tokens, balance_package_tokens, ...generation } = row;
  return { generation, balance: balance_plan_tokens + balance_package_tokens };
}

/** Adds keys to a generation's structured result (e.g. the conversation /v1/responses continues). */
/** Moves a pending generation's hold deadline (the stale-hold sweeper releases it after that). */
export async function setHoldExpiry(db: Db, id: number, expiresAt: string): Promise<void> {
  await db.kysely.updateTable('generations').set({ hold_expires_at: expiresAt }).where('id', '=', id).where('status', '=', 'pending').execute();
}

export async function mergeResultJson(db: Db, id: number, patch: Record<string, unknown>): Promise<void> {
  const row = await db.kysely.selectFrom('generations').select('result_json').where('id', '=', id).executeTakeFirst();
  const stored = row?.result_json ? (JSON.parse(row.result_json) as Record<string, unknown>) : {};
  await db.kysely
    .updateTable('generations')
    .set({ result_json: JSON.stringify({ ...stored, ...patch }) })
    .where('id', '=', id)
    .execute();
}

export interface HistoryQuery {
  accountId?: number;
  includeDeleted?: boolean;
  category?: string;
  model?: string;
  status?: string;
  favoritesOnly?: boolean;
  /** Newest first: a cursor (strictly older than this id) wins over the page offset. */
  beforeId?: number;
  offset: number;
  /** Rows to return (callers ask for one more than a page to know whether another follows). */
  limit: number;
}

/** A page of history, newest first, and the total that matches the filter. */
export async function historyPage(db: Db, f: HistoryQuery): Promise<{ rows: Generation[]; total: number }> {
  let q = db.kysely.selectFrom('generations');
  if (f.accountId !== undefined) q = q.where('account_id', '=', f.accountId);
  if (!f.includeDeleted) q = q.where('deleted_at', 'is', null);
  if (f.category) q = q.where('category', '=', f.category);
  if (f.model) q = q.where('model_slug', '=', f.model);
  if (f.status) q = q.where('status', '=', f.status as Generation['status']);
  // Favourites are not stored yet: nothing is favourited, so the filter matches nothing.
  if (f.favoritesOnly) q = q.where(sql<boolean>`1 = 0`);
  const totalRow = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let page = q.selectAll().orderBy('id', 'desc').limit(f.limit);
  page = f.beforeId !== undefined ? page.where('id', '<', f.beforeId) : page.offset(f.offset);
  return { rows: await page.execute(), total: Number(totalRow.n) };
}

/**
 * Hides a generation from its owner and erases its prompt and result; false when there was none.
 * Only the list of its stored files stays (outputs and a job's input file), so that the retention
 * sweeper deletes them.
 */
export async function softDeleteGeneration(db: Db, generationId: number, accountId: number): Promise<boolean> {
  const row = await db.kysely.selectFrom('generations').select('result_json').where('id', '=', generationId).executeTakeFirst();
  const j = row?.result_json ? (JSON.parse(row.result_json) as { files?: unknown; input?: unknown; files_expired_at?: unknown }) : {};
  const kept = (j.files || j.input) && !j.files_expired_at ? JSON.stringify({ ...(j.files ? { files: j.files } : {}), ...(j.input ? { input: j.input } : {}) }) : null;
  const r = await db.kysely
    .updateTable('generations')
    .set({ deleted_at: nowIso(), prompt: null, result_text: null, result_json: kept })
    .where('id', '=', generationId)
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Tokens an account spent since an instant. */
export async function tokensSpentSince(db: Db, accountId: number, since: string): Promise<number> {
  const used = await db.kysely
    .selectFrom('generations')
    .select((eb) => eb.fn.sum<number>('tokens_spent').as('n'))
    .where('account_id', '=', accountId)
    .where('created_at', '>=', since)
    .executeTakeFirst();
  return Number(used?.n ?? 0);
}

export interface DailyUsageRow {
  day: string;
  model_slug: string;
  tokens_spent: number;
  requests: number;
}

/**
 * Sums per day and model. created_at is an ISO-8601 UTC string on both engines, so its first ten
 * characters are the UTC day, and substr() means the same on SQLite and PostgreSQL.
 */
export async function dailyUsage(db: Db, accountId: number, from: string): Promise<DailyUsageRow[]> {
  const day = sql<string>`substr(created_at, 1, 10)`;
  const rows = await db.kysely
    .selectFrom('generations')
    .select([day.as('day'), 'model_slug'])
    .select((eb) => [eb.fn.sum<number>('tokens_spent').as('tokens_spent'), eb.fn.countAll<number>().as('requests')])
    .where('account_id', '=', accountId)
    .where('created_at', '>=', from)
    .groupBy([day, 'model_slug'])
    .orderBy(day)
    .orderBy('model_slug')
    .execute();
  // PostgreSQL returns sum()/count() as strings (bigint/numeric).
  return rows.map((r) => ({ day: r.day, model_slug: r.model_slug, tokens_spent: Number(r.tokens_spent), requests: Number(r.requests) }));
}

export interface UsageRow {
  account_id: number;
  model_slug: string;
  requests: number;
  completed: number;
  failed: number;
  pending: number;
  tokens_spent: number;
}

/** Requests and tokens per account and model, optionally for one account and a time window. */
export async function usageSummary(db: Db, filter: { accountId?: number; since?: string; until?: string } = {}): Promise<UsageRow[]> {
  let q = db.kysely
    .selectFrom('generations')
    .select(['account_id', 'model_slug'])
    .select((eb) => [
      eb.fn.countAll<number>().as('requests'),
      eb.fn.sum<number>(sql`case when status = 'completed' then 1 else 0 end`).as('completed'),
      eb.fn.sum<number>(sql`case when status = 'failed' then 1 else 0 end`).as('failed'),
      eb.fn.sum<number>(sql`case when status = 'pending' then 1 else 0 end`).as('pending'),
      eb.fn.sum<number>('tokens_spent').as('tokens_spent'),
    ])
    .groupBy(['account_id', 'model_slug'])
    .orderBy('account_id')
    .orderBy('model_slug');
  if (filter.accountId !== undefined) q = q.where('account_id', '=', filter.accountId);
  if (filter.since) q = q.where('created_at', '>=', filter.since);
  if (filter.until) q = q.where('created_at', '<', filter.until);
  return (await q.execute()).map((r) => ({
    account_id: r.account_id,
    model_slug: r.model_slug,
    requests: Number(r.requests),
    completed: Number(r.completed),
    failed: Number(r.failed),
    pending: Number(r.pending),
    tokens_spent: Number(r.tokens_spent),
  }));
}

/** Pending generations whose hold expired, or those of one instance (created before an instant). */
export async function pendingGenerationIds(db: Db, f: PendingFilter): Promise<number[]> {
  return (await pendingGenerationsQuery(db, f).execute()).map((r) => r.id);
}

export type PendingFilter = { expiredBefore: string } | { instanceId: string; createdBefore?: string };

/** The sweeps' query (exported for the test that reads its plan). */
export function pendingGenerationsQuery(db: Db, f: PendingFilter) {
  // A literal, not a bound parameter: the partial indexes on status = 'pending' (migration 007)
  // serve this query only where the planner sees the value, and a plan made once for every value
  // (a prepared statement's generic plan on PostgreSQL) does not.
  let q = db.kysely
    .selectFrom('generations')
    .select('id')
    .where(sql<boolean>`status = 'pending'`);
  if ('expiredBefore' in f) q = q.where('hold_expires_at', '<', f.expiredBefore);
  else {
    q = q.where('instance_id', '=', f.instanceId);
    if (f.createdBefore) q = q.where('created_at', '<', f.createdBefore);
  }
  return q;
}

/**
 * Ended generations whose callback URL is still set: their webhook delivery was never queued (the
 * process died between the settlement and the queueing, or the queueing failed), oldest first,
 * after `afterId`, with the account's balance now. Literals, as above: the partial index of exactly
 * these rows (generations_webhook_owed, migration 013) serves only a query the planner sees them in.
 */
export async function generationsOwedWebhook(db: Db, afterId: number, limit: number): Promise<Array<{ generation: Generation; balance: number }>> {
  const rows = await db.kysely
    .selectFrom('generations')
    .innerJoin('accounts', 'accounts.id', 'generations.account_id')
    .selectAll('generations')
    .select(['accounts.plan_tokens as balance_plan_tokens', 'accounts.package_tokens as balance_package_tokens'])
    .where(sql<boolean>`generations.callback_url is not null and generations.status <> 'pending'`)
    .where('generations.id', '>', afterId)
    .orderBy('generations.id')
    .limit(limit)
    .execute();
  return rows.map(({ balance_plan_tokens, balance_package_tokens, ...generation }) => ({ generation, balance: balance_plan_tokens + balance_package_tokens }));
}

/** The generation's webhook delivery is queued: it leaves the sweep's index (the delivery row keeps the URL). */
export async function clearCallbackUrl(db: Db, id: number): Promise<void> {
  await db.kysely.updateTable('generations').set({ callback_url: null }).where('id', '=', id).where('callback_url', 'is not', null).execute();
}

/**
 * Generations whose result files are still kept (result_json.files set, files_expired_at not) and
 * are due: deleted ones, or those of accounts on `plan` created before `before` (docs/api.md).
 * result_json is text on both engines, so LIKE is the portable test; JSON.stringify writes no spaces.
 */
export async function generationsWithFilesDue(db: Db, f: ({ plan: string; before: string } | { deleted: true }) & { limit: number }): Promise<Pick<Generation, 'id' | 'result_json'>[]> {
  let q = db.kysely.selectFrom('generations').innerJoin('accounts', 'accounts.id', 'generations.account_id').select(['generations.id', 'generations.result_json']);
  q = 'plan' in f ? q.where('accounts.plan', '=', f.plan).where('generations.created_at', '<', f.before) : q.where('generations.deleted_at', 'is not', null);
  // Output files, or a media job's input file (src/jobs/inputs.ts).
  return q
    .where((w) => w.or([w('generations.result_json', 'like', '%"files":[{%'), w('generations.result_json', 'like', '%"input":{"key":%')]))
    .where('generations.result_json', 'not like', '%"files_expired_at":%')
    .orderBy('generations.id')
    .limit(f.limit)
    .execute();
}
