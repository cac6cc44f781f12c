// Every query on the `jobs` table. The row is created by the hold (src/billing/*-ledger.ts) in
// the transaction that holds the price; the generation row beside it is settled by the ledger.
import { sql, type Kysely } from 'kysely';
import type { Db } from '../db/connect.js';
import { limitValue } from '../db/sqlite-dialect.js';
import { inTurn } from '../db/turns.js';
import { nowIso } from '../db/connect.js';
import type { Database, Job, JobState } from '../db/schema.js';

const later = (ms: number) => new Date(Date.now() + ms).toISOString();

/** The PostgreSQL advisory lock claims take turns on (any fixed number; locks are per database). */
const CLAIM_LOCK = 0x6c756d656e; // "lumen"

/**
 * Claims up to `limit` jobs: queued ones that are due, and running ones whose lease expired (their
 * worker died). An account runs at most `perAccount` jobs at once (running with a live lease, all
 * instances together); accounts running fewer go first, then the job that has been due longest
 * (its run_after; for a job not yet tried, its submission: the oldest first), so one account's
 * backlog never keeps another's job waiting for a free slot. Each claim counts as an attempt.
 * PostgreSQL: SKIP LOCKED, so a claim never takes a job another transaction holds; a
 * transaction-level advisory lock makes instances' claims take turns, so none counts an account's
 * running jobs while another is claiming more (the cap is never overshot). SQLite has one writer
 * (one process).
 *
 * What it reads does not grow with the queue (migrations 010 and 011; bench:claim): the accounts
 * with open jobs, one index step each (a skip scan: `open_accounts`); the running jobs of each
 * (`busy`, at most its cap); for an account with free slots, only its due queued jobs, due longest
 * first, no more than its free slots or `limit` (`walk`, one index step each, through an index in
 * which jobs not due yet, in a retry's backoff or awaiting an upload, lie beyond now and are never
 * read); and the running jobs whose lease expired (`expired`, from the small index of running
 * jobs). An account at its cap costs a step of the walk and a count of its running jobs, however
 * many it has queued. Only those candidates are ranked. On PostgreSQL a
 * candidate another transaction holds (being cancelled, requeued) is skipped, and the account's
 * next job does not take its place in this claim: the next claim finds it.
 *
 * With no open job at all (an idle server, polled every second) it reads one index step and
 * returns, without the statement (its CTEs, temp b-trees and automatic index, on SQLite's only
 * thread) or, on PostgreSQL, its transaction and advisory lock. A job submitted just after that read is
 * not missed: submitJob wakes this process's runner once the job's row is committed, and a wake
 * during a claim makes the runner claim again at once (runner.ts, `woken`); another instance finds
 * it at its next poll, as it would a job submitted just after a full claim's read. Nothing else
 * makes a job claimable behind the read: an ended job is never reopened.
 */
export async function claimJobs(db: Db, owner: string, limit: number, leaseMs: number, perAccount: number): Promise<Job[]> {
  // The partial index of open jobs (jobs_open_account_order, migration 010): empty when idle.
  const open = await sql`select 1 from jobs where state in ('queued', 'running') limit 1`.execute(db.kysely);
  if (open.rows.length === 0) return [];
  const claim = async (k: Kysely<Database>) => {
    const now = nowIso();
    const lock = db.dialect === 'postgres' ? sql`for update of j skip locked` : sql``;
    // The candidates' rows, each looked up by its key. PostgreSQL cannot tell how few candidates
    // the walk below yields (it planned ~400) and hashed a scan of every due job to join them
    // (8 ms at 10,000 queued); an array of their ids it reads through the primary key.
    const candidates = db.dialect === 'postgres' ? sql`j.generation_id = any(array(select generation_id from ranked))` : sql`true`;
    // Also beside the lock: PostgreSQL re-checks it on a row changed since the snapshot (cancelled, requeued).
    const claimable = (t: string) => sql`((${sql.raw(t)}.state = 'queued' and ${sql.raw(t)}.run_after <= ${now}) or (${sql.raw(t)}.state = 'running' and ${sql.raw(t)}.lease_expires_at < ${now}))`;
    // Account d's queued job that has been due longest, after (run_after, generation_id) = `after`
    // (none: its first): one step of the partial index of queued jobs (account_id, run_after,
    // generation_id), bounded on both sides within the account (from `after` to now), so jobs
    // waiting out a retry's backoff or an upload are never read.
    const nextDue = (d: string, after?: [unknown, unknown]) => sql`(select x.generation_id from jobs x
      where x.state = 'queued' and x.account_id = ${sql.raw(d)}.account_id and x.run_after <= ${now}
        ${after ? sql`and (x.run_after, x.generation_id) > (${after[0]}, ${after[1]})` : sql``}
      order by x.account_id, x.run_after, x.generation_id limit 1)`;
    // walk: each account with free slots, its due queued jobs one index step each, due longest
    // first, while it has a free slot and fewer than `limit` are taken from it (no more can be
    // claimed). expired: running jobs whose lease ran out (their worker died), read from the small
    // index of running jobs. ranked: those candidates numbered per account after its running jobs
    // (its slot), the one due longest first.
    const { rows } = await sql<Job>`
      with recursive
      open_accounts(account_id) as (
        select (select o.account_id from jobs o where o.state in ('queued', 'running') and o.account_id is not null order by o.account_id limit 1)
        union all
        select (select o.account_id from jobs o where o.state in ('queued', 'running') and o.account_id > a.account_id order by o.account_id limit 1)
        from open_accounts a where a.account_id is not null),
      busy(account_id, n) as (
        select a.account_id, (select count(*) from jobs r where r.account_id = a.account_id and r.state = 'running' and r.lease_expires_at >= ${now})
        from open_accounts a where a.account_id is not null),
      walk(account_id, generation_id, due_at, n, taken) as (
        select b.account_id, f.generation_id, f.run_after, b.n, 1 from busy b join jobs f on f.generation_id = ${nextDue('b')}
        where b.n < ${perAccount}
        union all
        select w.account_id, x.generation_id, x.run_after, w.n, w.taken + 1 from walk w join jobs x on x.generation_id = ${nextDue('w', [sql`w.due_at`, sql`w.generation_id`])}
        where w.n + w.taken < ${perAccount} and w.taken < ${limit}),
      expired(account_id, generation_id, due_at, n) as (
        select e.account_id, e.generation_id, e.lease_expires_at, b.n from jobs e join busy b on b.account_id = e.account_id
        where e.state = 'running' and e.lease_expires_at < ${now}),
      ranked(generation_id, due_at, slot) as (
        select c.generation_id, c.due_at, c.n + row_number() over (partition by c.account_id order by c.due_at, c.generation_id)
        from (select account_id, generation_id, due_at, n from walk union all select account_id, generation_id, due_at, n from expired) c)
      update jobs set state = 'running', attempts = attempts + 1, lease_owner = ${owner}, lease_expires_at = ${later(leaseMs)}, updated_at = ${now},
        started_at = coalesce(started_at, ${now})
      where generation_id in (
        select j.generation_id from jobs j join ranked d on d.generation_id = j.generation_id
        where ${candidates} and d.slot <= ${perAccount} and ${claimable('j')}
        order by d.slot, d.due_at, j.generation_id limit ${limitValue(db.dialect, limit)} ${lock})
      returning *`.execute(k);
    return rows.map((r) => ({ ...r, generation_id: Number(r.generation_id) }));
  };
  return inTurn(db, CLAIM_LOCK, claim);
}

/**
 * The account's queued and running jobs, counted up to `upTo` (the cap it is checked against): a
 * read of the partial index that holds only open jobs (migrations 008, 010), never of ended ones.
 */
export async function countOpenJobs(db: Db, accountId: number, upTo: number): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`
    select count(*) as n from (select 1 from jobs where account_id = ${accountId} and state in ('queued', 'running') limit ${limitValue(db.dialect, upTo)}) open`.execute(db.kysely);
  return Number(rows[0]?.n ?? 0);
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

/**
 * Stored the moment the provider accepted the job: a retry polls it instead of starting (and paying
 * for) another. False when the job is no longer this worker's (cancelled, or its lease taken over):
 * then nothing records that provider job, and no one else will ever poll or cancel it.
 */
export async function recordProviderJob(db: Db, generationId: number, owner: string, route: string, providerJobId: string): Promise<boolean> {
  const r = await db.kysely
    .updateTable('jobs')
    .set({ route, provider_job_id: providerJobId, updated_at: nowIso() })
    .where('generation_id', '=', generationId)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
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
