// The ledger's transactions on SQLite, run synchronously through better-sqlite3 as BEGIN IMMEDIATE
// transactions. Why not Kysely here: its SQLite driver holds the single connection's mutex across
// event-loop turns for a whole async transaction, so under load every other request queued behind
// each hold (docs/BENCHMARKS.md). A synchronous transaction takes the write lock first (no deadlock
// with another process between a read and a write), runs in microseconds and never yields.
// Same semantics as the PostgreSQL path (postgres-ledger.ts).
// Group commit: the calls made in one event-loop turn share one BEGIN IMMEDIATE … COMMIT, each in
// its own savepoint (a failing call rolls back alone), and all answer after the commit. A commit
// writes the touched pages to the WAL once, so 16 holds cost ~4× less than 16 commits here.
// Another process holding the write lock: BEGIN IMMEDIATE fails at once (busy_timeout 0) and the
// batch is tried again from a timer (busy.ts), calls made meanwhile joining it; the event loop
// never waits for the lock.
import type { Database, Statement } from 'better-sqlite3';
import type { Hold, HoldRequest, Settled, Settlement, TokenPool } from './ledger.js';
import { BUSY_LIMIT_MS, busyBackoff, isBusy } from '../db/busy.js';

interface Statements {
  account: Statement<[number], { plan_tokens: number; package_tokens: number }>;
  take: Statement<[number, number, number]>;
  /** Adds to both pools: a release gives a hold back, a grant adds tokens. */
  give: Statement<[number, number, number]>;
  insertGeneration: Statement<unknown[], { id: number }>;
  insertLedger: Statement<unknown[]>;
  settle: Statement<unknown[], { account_id: number; held_plan: number; held_package: number; tokens_spent: number }>;
  generationAccount: Statement<[number], { account_id: number }>;
  insertJob: Statement<unknown[]>;
}

interface Ledger {
  /** Runs `run` in the next group commit (other tables' writes that may share the ledger's commits). */
  commit<T>(run: () => T): Promise<T>;
  hold(req: HoldRequest): Promise<Hold | null>;
  settle(id: number, s: Settlement): Promise<Settled>;
  grant(accountId: number, amount: number, pool: TokenPool, note: string | null): Promise<void>;
}

const prepared = new WeakMap<Database, Ledger>();

function ledgerFor(db: Database) {
  let l = prepared.get(db);
  if (l) return l;
  const s: Statements = {
    account: db.prepare('select plan_tokens, package_tokens from accounts where id = ?'),
    take: db.prepare('update accounts set plan_tokens = plan_tokens - ?, package_tokens = package_tokens - ? where id = ?'),
    give: db.prepare('update accounts set plan_tokens = plan_tokens + ?, package_tokens = package_tokens + ? where id = ?'),
    insertGeneration: db.prepare(`insert into generations (account_id, api_key_id, model_slug, category, status, prompt, held_plan, held_package,
      tokens_spent, created_at, hold_expires_at, instance_id, callback_url) values (?, ?, ?, ?, 'pending', ?, ?, ?, 0, ?, ?, ?, ?) returning id`),
    insertLedger: db.prepare(`insert into ledger (account_id, generation_id, kind, amount, plan_delta, package_delta, note, created_at)
      values (?, ?, ?, ?, ?, ?, ?, ?)`),
    settle: db.prepare(`update generations set status = ?, result_text = ?, result_json = ?, error = ?, finish_reason = ?, usage_json = ?, route = ?,
      first_token_at = ?, tokens_spent = case when ? = 'completed' then min(coalesce(?, held_plan + held_package), held_plan + held_package) else 0 end,
      completed_at = ?, processing_ms = ?
      where id = ? and status = 'pending' returning account_id, held_plan, held_package, tokens_spent`),
    generationAccount: db.prepare('select account_id from generations where id = ?'),
    insertJob: db.prepare(`insert into jobs (generation_id, account_id, state, attempts, max_attempts, run_after, input_json, created_at, updated_at)
      values (?, ?, 'queued', 0, ?, ?, ?, ?, ?)`),
  };

  const hold = db.transaction((req: HoldRequest): Hold | null => {
    const acc = s.account.get(req.accountId);
    if (!acc || acc.plan_tokens + acc.package_tokens < req.price) return null;
    const fromPlan = Math.min(acc.plan_tokens, req.price);
    const fromPackage = req.price - fromPlan;
    if (req.price > 0) s.take.run(fromPlan, fromPackage, req.accountId);
    const createdAt = new Date();
    const created = createdAt.toISOString();
    const gen = s.insertGeneration.get(
      req.accountId,
      req.apiKeyId,
      req.modelSlug,
      req.category,
      req.prompt,
      fromPlan,
      fromPackage,
      created,
      new Date(createdAt.getTime() + req.holdTtlMs).toISOString(),
      req.instanceId ?? null,
      req.callbackUrl ?? null,
    )!;
    s.insertLedger.run(req.accountId, gen.id, 'hold', req.price, -fromPlan, -fromPackage, null, created);
    if (req.job) s.insertJob.run(gen.id, req.accountId, req.job.maxAttempts, req.job.runAfter ?? created, req.job.inputJson, created, created);
    return { generationId: gen.id, createdAt: created, price: req.price };
  });

  const settle = db.transaction((generationId: number, st: Settlement): Settled => {
    const completedAt = new Date();
    const completed = completedAt.toISOString();
    // The status transition is the idempotence guard: only the first settlement matches 'pending'.
    const gen = s.settle.get(
      st.status,
      st.resultText,
      st.resultJson ?? null,
      st.error,
      st.finishReason,
      st.usage == null ? null : JSON.stringify(st.usage),
      st.route,
      st.firstTokenAt,
      st.status,
      st.charge === undefined ? null : Math.max(0, Math.floor(st.charge)),
      completed,
      st.createdAt ? completedAt.getTime() - Date.parse(st.createdAt) : null,
      generationId,
    );
    let accountId: number;
    let spent = 0;
    if (gen) {
      accountId = gen.account_id;
      spent = gen.tokens_spent;
      if (st.status === 'completed') s.insertLedger.run(accountId, generationId, 'charge', spent, 0, 0, null, completed);
      // What was held and not spent goes back: all of it when failed, the rest of a partial charge.
      const back = releaseSplit(gen.held_plan, gen.held_package, spent);
      if (st.status !== 'completed' || back.plan + back.pkg > 0) {
        if (back.plan + back.pkg > 0) s.give.run(back.plan, back.pkg, accountId);
        s.insertLedger.run(accountId, generationId, 'release', back.plan + back.pkg, back.plan, back.pkg, st.error, completed);
      }
    } else {
      const row = s.generationAccount.get(generationId);
      if (!row) throw new Error(`no generation ${generationId}`);
      accountId = row.account_id;
    }
    const acc = s.account.get(accountId)!;
    return { applied: gen !== undefined, tokensSpent: spent, balance: acc.plan_tokens + acc.package_tokens, completedAt: completed };
  });

  const grant = db.transaction((accountId: number, amount: number, pool: TokenPool, note: string | null) => {
    const plan = pool === 'plan' ? amount : 0;
    const pkg = pool === 'package' ? amount : 0;
    if (s.give.run(plan, pkg, accountId).changes !== 1) throw new Error(`no account ${accountId}`);
    s.insertLedger.run(accountId, null, 'grant', amount, plan, pkg, note, new Date().toISOString());
  });

  const commit = groupCommit(db);
  l = {
    commit,
    hold: (req) => commit(() => hold(req)),
    settle: (id, st) => commit(() => settle(id, st)),
    grant: (a, n, pool, note) => commit(() => grant(a, n, pool, note)),
  };
  prepared.set(db, l);
  return l;
}

interface Queued {
  run(): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  /** Until when a locked database is waited for; then the call fails with SQLITE_BUSY (503). */
  deadline: number;
}

/** Runs queued transaction functions together at the end of the current event-loop turn. */
function groupCommit(db: Database): <T>(run: () => T) => Promise<T> {
  let queue: Queued[] = [];
  let scheduled = false;
  let busyAttempts = 0;
  const schedule = (ms: number) => {
    scheduled = true;
    if (ms === 0) setImmediate(flush);
    else setTimeout(flush, ms);
  };
  // Nested better-sqlite3 transaction functions run as savepoints of this one.
  const batch = db.transaction((ops: Queued[]) =>
    ops.map((op) => {
      try {
        return { ok: true as const, value: op.run() };
      } catch (err) {
        return { ok: false as const, err };
      }
    }),
  );
  function flush() {
    scheduled = false;
    const ops = queue;
    queue = [];
    let results: ReturnType<typeof batch>;
    try {
      results = batch.immediate(ops);
    } catch (err) {
      // Nothing was written: the lock was not ours (retry), or the commit failed / rolled back.
      if (isBusy(err)) {
        const now = Date.now();
        for (const op of ops) {
          if (op.deadline > now) queue.push(op);
          else op.reject(err);
        }
        if (queue.length > 0) schedule(busyBackoff(busyAttempts++));
        return;
      }
      busyAttempts = 0;
      for (const op of ops) op.reject(err);
      return;
    }
    busyAttempts = 0;
    ops.forEach((op, i) => {
      const r = results[i]!;
      if (r.ok) op.resolve(r.value);
      else op.reject(r.err);
    });
  }
  return <T>(run: () => T) =>
    new Promise<T>((resolve, reject) => {
      queue.push({ run, resolve: resolve, reject, deadline: Date.now() + BUSY_LIMIT_MS });
      if (!scheduled) schedule(0);
    });
}

/** The part of a hold not spent, package tokens first (the hold took plan tokens first). Same rule as postgres-ledger.ts. */
function releaseSplit(heldPlan: number, heldPackage: number, spent: number): { plan: number; pkg: number } {
  const back = heldPlan + heldPackage - spent;
  const pkg = Math.min(heldPackage, back);
  return { plan: back - pkg, pkg };
}

/**
 * Runs a write of another table in the ledger's next group commit, in its own savepoint: it shares
 * the commit's WAL write, and a locked database is waited for as the ledger's calls are.
 */
export const commitSqlite = <T>(db: Database, run: () => T): Promise<T> => ledgerFor(db).commit(run);
export const holdTokensSqlite = (db: Database, req: HoldRequest): Promise<Hold | null> => ledgerFor(db).hold(req);
export const settleGenerationSqlite = (db: Database, id: number, s: Settlement): Promise<Settled> => ledgerFor(db).settle(id, s);
export const grantTokensSqlite = (db: Database, accountId: number, amount: number, pool: TokenPool, note: string | null): Promise<void> => ledgerFor(db).grant(accountId, amount, pool, note);
