// Every query on webhook_deliveries. A row is worked on by one worker at a time: the claim sets a
// lease in one statement (FOR UPDATE SKIP LOCKED on PostgreSQL, SQLite's single writer otherwise),
// and an attempt's outcome is written only if the row still carries that attempt's number.
import { sql, type Kysely } from 'kysely';
import type { Db } from '../db/connect.js';
import { limitValue } from '../db/sqlite-dialect.js';
import { inTurn } from '../db/turns.js';
import type { Database, WebhookDelivery } from '../db/schema.js';

export interface NewDelivery {
  generationId: number;
  accountId: number;
  url: string;
  body: string;
}

/**
 * Queues the generation's delivery; undefined when it has one already (one row per generation,
 * migration 013): the generation's end and the sweep may both queue it, and only one is sent.
 */
export async function insertDelivery(db: Db, d: NewDelivery, now: Date): Promise<number | undefined> {
  const row = await db.kysely
    .insertInto('webhook_deliveries')
    .values({
      generation_id: d.generationId,
      account_id: d.accountId,
      url: d.url,
      body: d.body,
      state: 'pending',
      attempts: 0,
      next_attempt_at: now.toISOString(),
      created_at: now.toISOString(),
    })
    .onConflict((oc) => oc.column('generation_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

/** The PostgreSQL advisory lock delivery claims take turns on (jobs' claims use another: src/jobs/store.ts). */
const CLAIM_LOCK = 0x6c756d686b; // "lumhk"

/**
 * Takes up to `limit` due rows for `leaseMs`, counting the attempt now; they are this worker's
 * until the lease ends. An account has at most `perAccount` attempts in flight (leased rows, every
 * instance together): a receiver that hangs until the timeout, or a backlog of one account's
 * retries, holds that many of the shared slots and no more. Accounts with fewer in flight go first,
 * then the rows due longest. PostgreSQL: SKIP LOCKED, and claims take turns under a
 * transaction-level advisory lock so none counts an account's attempts while another claims more.
 *
 * What it reads does not grow with the pending rows (migration 012; as the jobs' claim does,
 * src/jobs/store.ts): the accounts with pending rows, one index step each (`open_accounts`); each
 * one's attempts in flight (`busy`, at most its cap); and for an account with free slots its due
 * rows, due longest first, one index step each, at most its free slots or `limit` (`walk`): rows
 * waiting for a retry lie beyond now in that index and are never read, and rows in flight (fewer
 * than the cap) are stepped over. An account with 50,000 deliveries waiting on a dead receiver
 * costs the claim a few steps, not a ranking of every row.
 *
 * With no pending row at all (no delivery queued or waiting for a retry: polled every
 * LUMENGATE_WEBHOOK_POLL_MS) it reads one index step and returns, without the statement (on
 * SQLite's only thread) or PostgreSQL's transaction and lock. A delivery queued
 * just after that read is not missed: generationEnded wakes this process's worker once its row is
 * committed, which claims at once or, if a claim under way holds every slot, when that claim ends
 * (worker.ts, `missedWake`); another instance finds it at its next poll, as it would a row queued
 * just after a full claim's read. A row only leaves `pending` (delivered, failed), never returns.
 */
export async function claimDue(db: Db, now: Date, limit: number, leaseMs: number, perAccount: number): Promise<WebhookDelivery[]> {
  if (limit <= 0) return [];
  // A partial index of the pending rows (migration 012): empty when idle.
  const pending = await sql`select 1 from webhook_deliveries where state = 'pending' limit 1`.execute(db.kysely);
  if (pending.rows.length === 0) return [];
  const at = now.toISOString();
  const claim = async (k: Kysely<Database>) => {
    const lock = db.dialect === 'postgres' ? sql`for update of d skip locked` : sql``;
    // The candidates' rows by their key (PostgreSQL would otherwise hash a scan of every pending row to join them).
    const candidates = db.dialect === 'postgres' ? sql`d.id = any(array(select id from ranked))` : sql`true`;
    // Checked again on the locked row (PostgreSQL re-evaluates it there): two claims never both win it.
    const claimable = (t: string) => sql`(${sql.raw(t)}.state = 'pending' and ${sql.raw(t)}.next_attempt_at <= ${at} and (${sql.raw(t)}.lease_until is null or ${sql.raw(t)}.lease_until <= ${at}))`;
    // Account w's next due row after (next_attempt_at, id) = `after` (none: its first), through the
    // partial index of pending rows (account_id, next_attempt_at, id), bounded by now.
    const nextDue = (w: string, after?: [unknown, unknown]) => sql`(select x.id from webhook_deliveries x
      where x.state = 'pending' and x.account_id = ${sql.raw(w)}.account_id and x.next_attempt_at <= ${at}
        and (x.lease_until is null or x.lease_until <= ${at})
        ${after ? sql`and (x.next_attempt_at, x.id) > (${after[0]}, ${after[1]})` : sql``}
      order by x.account_id, x.next_attempt_at, x.id limit 1)`;
    const { rows } = await sql<WebhookDelivery>`
      with recursive
      open_accounts(account_id) as (
        select (select o.account_id from webhook_deliveries o where o.state = 'pending' order by o.account_id limit 1)
        union all
        select (select o.account_id from webhook_deliveries o where o.state = 'pending' and o.account_id > a.account_id order by o.account_id limit 1)
        from open_accounts a where a.account_id is not null),
      busy(account_id, n) as (
        select a.account_id, (select count(*) from webhook_deliveries r where r.state = 'pending' and r.account_id = a.account_id and r.lease_until > ${at})
        from open_accounts a where a.account_id is not null),
      walk(account_id, id, due_at, n, taken) as (
        select b.account_id, f.id, f.next_attempt_at, b.n, 1 from busy b join webhook_deliveries f on f.id = ${nextDue('b')}
        where b.n < ${perAccount}
        union all
        select w.account_id, x.id, x.next_attempt_at, w.n, w.taken + 1 from walk w join webhook_deliveries x on x.id = ${nextDue('w', [sql`w.due_at`, sql`w.id`])}
        where w.n + w.taken < ${perAccount} and w.taken < ${limit}),
      ranked(id, due_at, slot) as (
        select id, due_at, n + taken from walk)
      update webhook_deliveries set lease_until = ${new Date(now.getTime() + leaseMs).toISOString()}, attempts = attempts + 1,
        first_attempt_at = coalesce(first_attempt_at, ${at})
      where id in (
        select d.id from webhook_deliveries d join ranked r on r.id = d.id
        where ${candidates} and ${claimable('d')}
        order by r.slot, r.due_at, d.id limit ${limitValue(db.dialect, limit)} ${lock})
      returning *`.execute(k);
    return rows;
  };
  return inTurn(db, CLAIM_LOCK, claim);
}

export type AttemptOutcome =
  { state: 'delivered'; status: number } | { state: 'pending'; status: number | null; error: string; nextAttemptAt: Date } | { state: 'failed'; status: number | null; error: string };

/** Records the outcome of attempt number `attempt`; the body is dropped once the delivery is final. */
export async function finishAttempt(db: Db, id: number, attempt: number, outcome: AttemptOutcome, now: Date): Promise<void> {
  const final = outcome.state !== 'pending';
  await db.kysely
    .updateTable('webhook_deliveries')
    .set({
      state: outcome.state,
      lease_until: null,
      last_status: outcome.status,
      last_error: outcome.state === 'delivered' ? null : outcome.error,
      ...(outcome.state === 'pending' ? { next_attempt_at: outcome.nextAttemptAt.toISOString() } : {}),
      ...(final ? { body: null, completed_at: now.toISOString() } : {}),
    })
    .where('id', '=', id)
    .where('attempts', '=', attempt)
    .where('state', '=', 'pending')
    .execute();
}

/** The deliveries of one generation, oldest first (tests, support). */
export async function deliveriesOf(db: Db, generationId: number): Promise<WebhookDelivery[]> {
  return db.kysely.selectFrom('webhook_deliveries').selectAll().where('generation_id', '=', generationId).orderBy('id').execute();
}
