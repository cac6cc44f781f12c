// Every query on webhook_deliveries. A row is worked on by one worker at a time: the claim sets a
// lease in one statement (FOR UPDATE SKIP LOCKED on PostgreSQL, SQLite's single writer otherwise),
// and an attempt's outcome is written only if the row still carries that attempt's number.
import { sql, type ExpressionBuilder } from 'kysely';
import type { Db } from '../db/connect.js';
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

/** Takes up to `limit` due rows for `leaseMs`, counting the attempt now; they are this worker's until the lease ends. */
export async function claimDue(db: Db, now: Date, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
  if (limit <= 0) return [];
  const at = now.toISOString();
  const claimable = (eb: ExpressionBuilder<Database, 'webhook_deliveries'>) =>
    eb.and([eb('state', '=', 'pending'), eb('next_attempt_at', '<=', at), eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', at)])]);
  let due = db.kysely.selectFrom('webhook_deliveries').select('id').where(claimable).orderBy('next_attempt_at').orderBy('id').limit(limit);
  if (db.dialect === 'postgres') due = due.forUpdate().skipLocked();
  // The conditions are checked again on the locked row: two claims never both win it.
  return db.kysely
    .updateTable('webhook_deliveries')
    .set({ lease_until: new Date(now.getTime() + leaseMs).toISOString(), attempts: sql`attempts + 1`, first_attempt_at: sql`coalesce(first_attempt_at, ${at})` })
    .where('id', 'in', due)
    .where(claimable)
    .returningAll()
    .execute();
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
