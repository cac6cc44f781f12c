// `npm run bench:claim`: what one media-job claim (`claimJobs`, src/jobs/store.ts) costs as the
// queue grows, on SQLite (a temp file) and PostgreSQL (a fresh database, dropped afterwards). On
// SQLite the claim runs on the server's only thread, so every request waits for it; on PostgreSQL
// it runs under the claims' advisory lock, so every instance's claims wait for it.
//
// Each scenario is a fresh database, migrated by the measured build, holding jobs shaped as a hold
// writes them (a pending generation and its queued job, src/billing/*-ledger.ts):
//  - `1k`, `10k`, `50k`: one account with that many queued jobs that is already at its running cap
//    (`--per-account` running jobs with a live lease), and one other account with one queued job,
//    newer than all of them: the claim can take only that one.
//  - `50x1000`: 50 accounts with 1000 queued jobs each, submitted in turns (their ids interleave),
//    each at its running cap, and one other account with one job.
//  - `50x1000-backoff`: the same 50 × 1000, but running nothing, every job waiting out a retry's
//    backoff (due in an hour): the claim must pass over them all to find the other account's job.
// A claim runs `--reps` times (after `--warmup` more) and the median is reported. Each claim
// commits as the runner's would; the jobs it took are then put back as they were (queued, the
// attempt given back, no lease, never started), so every repetition finds the same state.
//
//   npm run bench:claim [-- --engines sqlite,pg] [--scenarios 1k,10k,50k,50x1000,50x1000-backoff] [--reps 9] [--repo DIR] [--keep] [--out FILE]
// The table is printed and written as the `claim` section of docs/BENCHMARKS.md (or --out); with
// --repo, which measures another checkout's build (its dist/, migrations included) to compare two
// builds in one session, it is only printed. PostgreSQL databases are ANALYZEd after loading, as autovacuum would do for a
// queue that grew this much; SQLite's never are (the gateway never runs ANALYZE).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { packageRoot } from '../src/config/env.js';
import type { Db } from '../src/db/connect.js';
import type { Job } from '../src/db/schema.js';
import { createTestDatabase } from '../test/support/test-database.js';
import { machineLines, writeSection } from './sections.js';

const { values: args } = parseArgs({
  options: {
    engines: { type: 'string', default: 'sqlite,pg' },
    scenarios: { type: 'string', default: '1k,10k,50k,50x1000,50x1000-backoff' },
    reps: { type: 'string', default: '9' },
    warmup: { type: 'string', default: '2' },
    /** LUMENGATE_JOB_PER_ACCOUNT of the claim, and the running jobs each loaded account holds. */
    'per-account': { type: 'string', default: '2' },
    /** The free slots the claim fills (the runner's free slots: LUMENGATE_JOB_CONCURRENCY when idle). */
    limit: { type: 'string', default: '4' },
    repo: { type: 'string', default: packageRoot() },
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    /** Leave each scenario's database in place (its URL is logged), to read the claim's plan on it. */
    keep: { type: 'boolean', default: false },
    /** The report whose `claim` section the table replaces (not written with --repo). */
    out: { type: 'string', default: join(packageRoot(), 'docs/BENCHMARKS.md') },
  },
});
const reps = Number(args.reps);
const warmup = Number(args.warmup);
const perAccount = Number(args['per-account']);
const limit = Number(args.limit);
const LEASE_MS = 60_000;
const log = (msg: string) => process.stderr.write(`bench:claim: ${msg}\n`);

// The measured build's modules (this checkout's unless --repo names another).
const from = (path: string) => import(pathToFileURL(join(args.repo, 'dist', 'src', path)).href);
const { openDatabase } = (await from('db/connect.js')) as typeof import('../src/db/connect.js');
const { claimJobs } = (await from('jobs/store.js')) as typeof import('../src/jobs/store.js');

interface Scenario {
  name: string;
  /** Queued jobs of each loaded account (each also at its running cap, unless `backoff`). */
  queued: number;
  accounts: number;
  /** The loaded accounts run nothing and every queued job of theirs waits out a retry's backoff (due in an hour). */
  backoff?: boolean;
}
const SCENARIOS: Record<string, Scenario> = {
  '1k': { name: '1k', queued: 1_000, accounts: 1 },
  '10k': { name: '10k', queued: 10_000, accounts: 1 },
  '50k': { name: '50k', queued: 50_000, accounts: 1 },
  '50x1000': { name: '50x1000', queued: 1_000, accounts: 50 },
  '50x1000-backoff': { name: '50x1000-backoff', queued: 1_000, accounts: 50, backoff: true },
};

async function newAccount(db: Db, name: string): Promise<number> {
  const row = await db.kysely
    .insertInto('accounts')
    .values({ name, plan: 'pro', plan_tokens: 0, package_tokens: 0, status: 'active', plan_expires_at: null, created_at: new Date().toISOString() })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Generations and queued jobs for `accounts`, `perAccountJobs` each, submitted in turns (one job
 * per account per turn), one second apart and all in the past: rows as a hold writes them, in bulk.
 */
async function load(db: Db, accounts: number[], perAccountJobs: number, start: number): Promise<void> {
  const values = (i: number) => {
    const at = new Date(start + i * 1000).toISOString();
    return { account: accounts[i % accounts.length]!, at };
  };
  const total = accounts.length * perAccountJobs;
  const CHUNK = 1000;
  for (let from = 0; from < total; from += CHUNK) {
    const rows = Array.from({ length: Math.min(CHUNK, total - from) }, (_, k) => values(from + k));
    await db.kysely.transaction().execute(async (trx) => {
      const gens = await trx
        .insertInto('generations')
        .values(
          rows.map((r) => ({
            account_id: r.account,
            model_slug: 'flux-1.1-pro',
            category: 'image',
            status: 'pending',
            prompt: 'a lighthouse at dusk',
            held_plan: 4,
            held_package: 0,
            tokens_spent: 0,
            created_at: r.at,
            hold_expires_at: new Date(Date.parse(r.at) + 86_400_000).toISOString(),
          })),
        )
        .returning(['id', 'account_id', 'created_at'])
        .execute();
      await trx
        .insertInto('jobs')
        .values(
          gens.map((g) => ({
            generation_id: g.id,
            account_id: g.account_id,
            state: 'queued' as const,
            attempts: 0,
            max_attempts: 3,
            run_after: g.created_at,
            input_json: '{"prompt":"a lighthouse at dusk","options":{}}',
            created_at: g.created_at,
            updated_at: g.created_at,
          })),
        )
        .execute();
    });
  }
}

/** Each loaded account's oldest `perAccount` jobs running under a live lease: the account is at its cap. */
async function atCap(db: Db, accounts: number[]): Promise<void> {
  const lease = new Date(Date.now() + 3_600_000).toISOString();
  for (const account of accounts) {
    const oldest = await db.kysely.selectFrom('jobs').select('generation_id').where('account_id', '=', account).orderBy('generation_id').limit(perAccount).execute();
    const now = new Date().toISOString();
    await db.kysely
      .updateTable('jobs')
      .set({ state: 'running', attempts: 1, lease_owner: 'bench-elsewhere', lease_expires_at: lease, started_at: now, updated_at: now })
      .where(
        'generation_id',
        'in',
        oldest.map((j) => j.generation_id),
      )
      .execute();
  }
}

/** The claimed jobs as they were before the claim: queued, the attempt given back, no lease, never started. */
async function putBack(db: Db, jobs: Job[]): Promise<void> {
  for (const j of jobs) {
    await db.kysely
      .updateTable('jobs')
      .set({ state: 'queued', attempts: j.attempts - 1, lease_owner: null, lease_expires_at: null, started_at: null, updated_at: j.created_at })
      .where('generation_id', '=', j.generation_id)
      .execute();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(engine: 'sqlite' | 'pg', s: Scenario): Promise<{ median: number; min: number; max: number; claimed: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-claim-'));
  const testDb = engine === 'pg' ? await createTestDatabase(args['pg-url']) : { url: `sqlite:${join(dir, 'claim.db')}`, drop: async () => {} };
  const db = await openDatabase(testDb.url);
  try {
    const loaded: number[] = [];
    for (let i = 0; i < s.accounts; i++) loaded.push(await newAccount(db, `loaded-${i}`));
    const other = await newAccount(db, 'other');
    const start = Date.now() - 2 * 86_400_000;
    await load(db, loaded, s.queued, start);
    if (s.backoff)
      await db.kysely
        .updateTable('jobs')
        .set({ run_after: new Date(Date.now() + 3_600_000).toISOString() })
        .execute();
    else await atCap(db, loaded);
    // The other account's one job, newer than every loaded one.
    await load(db, [other], 1, Date.now() - 60_000);
    if (engine === 'pg') await sql`analyze`.execute(db.kysely);
    const times: number[] = [];
    let claimed = -1;
    for (let i = 0; i < warmup + reps; i++) {
      const t0 = performance.now();
      const jobs = await claimJobs(db, 'bench', limit, LEASE_MS, perAccount);
      const ms = performance.now() - t0;
      await putBack(db, jobs);
      // Every claim must take the same job(s): only the other account's one.
      const ids = jobs.map((j) => `${j.account_id}`).join(',');
      if (ids !== `${other}`) throw new Error(`${s.name}: the claim took jobs of accounts [${ids}], expected [${other}]`);
      claimed = jobs.length;
      if (i >= warmup) times.push(ms);
    }
    return { median: median(times), min: Math.min(...times), max: Math.max(...times), claimed };
  } finally {
    await db.close();
    if (args.keep) log(`${s.name} kept: ${testDb.url}`);
    else await testDb.drop();
    if (!args.keep || engine === 'pg') rmSync(dir, { recursive: true, force: true });
  }
}

const engines = args.engines.split(',').map((e) => e.trim()) as Array<'sqlite' | 'pg'>;
const scenarios = args.scenarios.split(',').map((n) => {
  const s = SCENARIOS[n.trim()];
  if (!s) throw new Error(`unknown scenario ${n}; one of ${Object.keys(SCENARIOS).join(', ')}`);
  return s;
});
log(`build ${args.repo}; per account ${perAccount}, limit ${limit}; median of ${reps} claims after ${warmup}`);
const lines: string[] = ['| engine | scenario | queued jobs | median ms | min–max ms |', '|---|---|---:|---:|---:|'];
for (const engine of engines) {
  for (const s of scenarios) {
    const r = await measure(engine, s);
    const line = `| ${engine === 'pg' ? 'PostgreSQL' : 'SQLite'} | ${s.name} | ${s.accounts * s.queued} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)}–${r.max.toFixed(2)} |`;
    log(line);
    lines.push(line);
  }
}
process.stdout.write(lines.join('\n') + '\n');
if (args.repo === packageRoot()) {
  writeSection(
    args.out,
    'claim',
    [
      '## Media job claim (`npm run bench:claim`)',
      '',
      `One claim (\`claimJobs\`, src/jobs/store.ts) against a fresh database per scenario: one account with 1k / 10k / 50k queued jobs that is already at its running cap (${perAccount} running) and another account's one job, which is all the claim may take; 50 accounts with 1000 queued each, all at their caps, and one more account's job; and the same 50 × 1000 running nothing, every job in a retry's backoff (50x1000-backoff). Median of ${reps} claims after ${warmup}, each committed and then put back, so every repetition finds the same state. On SQLite a claim runs on the server's only thread; on PostgreSQL under the claims' advisory lock. The claim reads each account's due jobs, the one due longest first, through an index that holds no job before it is due (migrations 010 and 011), so its cost follows the accounts with open jobs, not the jobs queued.`,
      '',
      ...machineLines(),
      `- run ${new Date().toISOString()}`,
      '',
      ...lines,
    ].join('\n'),
  );
  log(`wrote the claim section of ${args.out}`);
}
