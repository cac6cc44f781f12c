// Every query on webhook_deliveries. A row is worked on by one worker at a time: the claim sets a
// lease in one statement (FOR UPDATE SKIP LOCKED on PostgreSQL, SQLite's single writer otherwise),
// and an attempt's outcome is written only if the row still carries that attempt's number.
import { sql, type Kysely } from 'kysely';
import type { Db } from '../db/connect.js';
import { inTurn } from '../db/turns.js';
import type { Database, WebhookDelivery } from '../db/schema.js';

export interface NewDelivery {
  generationId: number;
  accountId: number;
  url: string;
  body: string;
}

export async function insertDelivery(db: Db, d: NewDelivery, now: Date): Promise<number> {
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
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
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
 */
export async function claimDue(db: Db, now: Date, limit: number, leaseMs: number, perAccount: number): Promise<WebhookDelivery[]> {
  if (limit <= 0) return [];
  const at = now.toISOString();
  const claim = async (k: Kysely<Database>) => {
    const lock = db.dialect === 'postgres' ? sql`for update of d skip locked` : sql``;
    // Checked again on the locked row (PostgreSQL re-evaluates it there): two claims never both win it.
    const claimable = sql`(d.state = 'pending' and d.next_attempt_at <= ${at} and (d.lease_until is null or d.lease_until <= ${at}))`;
    // busy: each account's attempts in flight; due: the claimable rows, numbered per account after those.
    const { rows } = await sql<WebhookDelivery>`
      with busy as (
        select account_id, count(*) as n from webhook_deliveries
        where state = 'pending' and lease_until > ${at} group by account_id),
      due as (
        select d.id, coalesce(b.n, 0) + row_number() over (partition by d.account_id order by d.next_attempt_at, d.id) as slot
        from webhook_deliveries d left join busy b on b.account_id = d.account_id
        where ${claimable})
      update webhook_deliveries set lease_until = ${new Date(now.getTime() + leaseMs).toISOString()}, attempts = attempts + 1,
        first_attempt_at = coalesce(first_attempt_at, ${at})
      where id in (
        select d.id from webhook_deliveries d join due on due.id = d.id
        where due.slot <= ${perAccount} and ${claimable}
        order by due.slot, d.next_attempt_at, d.id limit ${limit} ${lock})
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
