// Every query on the `jobs` table. The row is created by the hold (src/billing/*-ledger.ts) in
// the transaction that holds the price; the generation row beside it is settled by the ledger.
import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { nowIso } from '../db/connect.js';
import type { Job, JobState } from '../db/schema.js';

const later = (ms: number) => new Date(Date.now() + ms).toISOString();

/**
 * Claims up to `limit` jobs: queued ones that are due, and running ones whose lease expired (their
 * worker died). Each claim counts as an attempt. PostgreSQL: SKIP LOCKED, so instances claiming at
 * once never take the same job nor wait for each other; SQLite has one writer (one process).
 */
export async function claimJobs(db: Db, owner: string, limit: number, leaseMs: number): Promise<Job[]> {
  const now = nowIso();
  const lock = db.dialect === 'postgres' ? sql`for update skip locked` : sql``;
  const { rows } = await sql<Job>`
    update jobs set state = 'running', attempts = attempts + 1, lease_owner = ${owner}, lease_expires_at = ${later(leaseMs)}, updated_at = ${now}
    where generation_id in (
      select generation_id from jobs
      where (state = 'queued' and run_after <= ${now}) or (state = 'running' and lease_expires_at < ${now})
      order by generation_id limit ${limit} ${lock})
    returning *`.execute(db.kysely);
  return rows.map((r) => ({ ...r, generation_id: Number(r.generation_id) }));
}

/** Extends a running job's lease; false when this worker no longer holds it (expired and taken, cancelled). */
export async function renewLease(db: Db, generationId: number, owner: string, leaseMs: number): Promise<boolean> {
  const r = await db.kysely
    .updateTable('jobs')
    .set({ lease_expires_at: later(leaseMs), updated_at: nowIso() })
    .where('generation_id', '=', generationId)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Stored the moment the provider accepted the job: a retry polls it instead of starting (and paying for) another. */
export async function recordProviderJob(db: Db, generationId: number, owner: string, route: string, providerJobId: string): Promise<void> {
  await db.kysely.updateTable('jobs').set({ route, provider_job_id: providerJobId, updated_at: nowIso() }).where('generation_id', '=', generationId).where('lease_owner', '=', owner).execute();
}

/** A job held back while its input file was stored: due now (a job already ended stays ended). */
export async function makeJobDue(db: Db, generationId: number): Promise<void> {
  const now = nowIso();
  await db.kysely.updateTable('jobs').set({ run_after: now, updated_at: now }).where('generation_id', '=', generationId).where('state', '=', 'queued').execute();
}

/** Back to the queue after a failed attempt (or a graceful shutdown, which gives the attempt back). */
export async function requeueJob(db: Db, generationId: number, owner: string, f: { delayMs: number; error: string | null; refundAttempt?: boolean }): Promise<void> {
  await db.kysely
    .updateTable('jobs')
    .set({
      state: 'queued',
      lease_owner: null,
      lease_expires_at: null,
      run_after: later(f.delayMs),
      last_error: f.error,
      updated_at: nowIso(),
      ...(f.refundAttempt ? { attempts: sql<number>`attempts - 1` } : {}),
    })
    .where('generation_id', '=', generationId)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'running')
    .execute();
}

/** The job's end (its generation is settled by the ledger). Only from queued or running: a cancel is final. */
export async function endJob(db: Db, generationId: number, state: Exclude<JobState, 'queued' | 'running'>, error: string | null = null): Promise<void> {
  await db.kysely
    .updateTable('jobs')
    .set({ state, lease_owner: null, lease_expires_at: null, last_error: error, updated_at: nowIso() })
    .where('generation_id', '=', generationId)
    .where('state', 'in', ['queued', 'running'])
    .execute();
}

export async function findJob(db: Db, generationId: number): Promise<Job | undefined> {
  return db.kysely.selectFrom('jobs').selectAll().where('generation_id', '=', generationId).executeTakeFirst();
}

/** The account's balance now (a generation object reports it). */
export async function balanceOf(db: Db, accountId: number): Promise<number> {
  const a = await db.kysely.selectFrom('accounts').select(['plan_tokens', 'package_tokens']).where('id', '=', accountId).executeTakeFirst();
  return a ? a.plan_tokens + a.package_tokens : 0;
}
