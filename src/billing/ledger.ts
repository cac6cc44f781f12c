// Every change to a balance is a ledger row written in the same transaction as the change.
// hold: price leaves the balance (plan tokens first). charge: the hold becomes spend (no balance
// change). release: the hold goes back exactly where it came from. A partial charge is both: the
// charge row for what was spent and a release row for the rest of the hold. One settlement per generation:
// the pending -> completed|failed transition is the guard, and a unique index backs it up.
// The hot transactions have one implementation per engine, with the same semantics: SQLite runs
// them synchronously with group commit (sqlite-ledger.ts), PostgreSQL as one statement each
// (postgres-ledger.ts).
import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { nowIso } from '../db/connect.js';
import type { GenerationStatus } from '../db/schema.js';
import { holdTokensPostgresBatched } from './postgres-hold-batch.js';
import { settleGenerationPostgresBatched } from './postgres-settle-batch.js';
import { grantTokensSqlite, holdTokensSqlite, settleGenerationSqlite } from './sqlite-ledger.js';
import { pendingGenerationIds } from '../generation/store.js';
import { settledChannel } from '../core/trace.js';

export type TokenPool = 'plan' | 'package';

export async function grantTokens(db: Db, accountId: number, amount: number, pool: TokenPool, note: string | null = null): Promise<void> {
  if (!Number.isInteger(amount) || amount <= 0) throw new Error('a grant must be a positive integer');
  if (db.sqlite) return grantTokensSqlite(db.sqlite, accountId, amount, pool, note);
  await db.kysely.transaction().execute(async (trx) => {
    const col = pool === 'plan' ? 'plan_tokens' : 'package_tokens';
    const r = await trx
      .updateTable('accounts')
      .set({ [col]: sql`${sql.ref(col)} + ${amount}` })
      .where('id', '=', accountId)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new Error(`no account ${accountId}`);
    await trx
      .insertInto('ledger')
      .values({
        account_id: accountId,
        generation_id: null,
        kind: 'grant',
        amount,
        note,
        plan_delta: pool === 'plan' ? amount : 0,
        package_delta: pool === 'package' ? amount : 0,
        created_at: nowIso(),
      })
      .execute();
  });
}

export interface HoldRequest {
  accountId: number;
  apiKeyId: number | null;
  modelSlug: string;
  category: string;
  price: number;
  prompt: string | null;
  holdTtlMs: number;
  /** The instance running the generation (released by that instance's restart). */
  instanceId?: string | null;
  /** Where the generation's end is reported (docs/api.md, Webhooks): kept on its row until the delivery is queued. */
  callbackUrl?: string | null;
  /** A media generation: its job row is created in the same transaction as the hold (docs/api.md). */
  job?: {
    inputJson: string;
    maxAttempts: number;
    /** Not claimable before this time (ISO): a job whose input file is still being stored is made due afterwards. */
    runAfter?: string;
  };
}

export interface Hold {
  generationId: number;
  createdAt: string;
  price: number;
}

/** Creates the pending generation and holds its price. Null when the balance cannot cover it. */
export async function holdTokens(db: Db, req: HoldRequest): Promise<Hold | null> {
  return db.sqlite ? holdTokensSqlite(db.sqlite, req) : holdTokensPostgresBatched(db, req);
}

export interface Settlement {
  status: Exclude<GenerationStatus, 'pending'>;
  resultText: string | null;
  /** Tool calls and reasoning as JSON (generation object fields tool_calls, reasoning). */
  resultJson?: string | null;
  error: string | null;
  finishReason: string | null;
  usage: unknown;
  route: string | null;
  firstTokenAt: string | null;
  /** When the generation was created, for processing_ms. */
  createdAt?: string;
  /**
   * Completed only: the tokens to charge when less than the hold (a price known only afterwards,
   * docs/api.md). Never above the hold; the difference is released (package tokens first, the
   * reverse of the order the hold took them), as a `release` row beside the `charge` row.
   */
  charge?: number;
}

export interface Settled {
  /** False when the generation had already been settled (this call changed nothing). */
  applied: boolean;
  tokensSpent: number;
  balance: number;
  completedAt: string;
}

/** Charges (completed) or releases (failed) a generation's hold, exactly once. */
export async function settleGeneration(db: Db, generationId: number, s: Settlement): Promise<Settled> {
  const settled = await (db.sqlite ? settleGenerationSqlite(db.sqlite, generationId, s) : settleGenerationPostgresBatched(db, generationId, s));
  if (settledChannel.hasSubscribers) settledChannel.publish({ generationId, status: s.status, applied: settled.applied });
  return settled;
}

/** Releases holds whose generation outlived its deadline (a server died mid-request). */
export async function releaseStaleHolds(db: Db, now = new Date()): Promise<number> {
  const stale = await pendingGenerationIds(db, { expiredBefore: now.toISOString() });
  let released = 0;
  for (const id of stale) {
    const r = await settleGeneration(db, id, { status: 'failed', resultText: null, error: 'server_interrupted', finishReason: null, usage: null, route: null, firstTokenAt: null });
    if (r.applied) released++;
  }
  return released;
}

/**
 * Releases the pending generations of one instance: at its start-up none of them can still be
 * running (the previous process of this instance died), and holds of other instances are untouched.
 */
export async function releaseInstanceHolds(db: Db, instanceId: string, opts: { createdBefore?: Date; except?: ReadonlySet<number> } = {}): Promise<number> {
  const ids = await pendingGenerationIds(db, { instanceId, ...(opts.createdBefore ? { createdBefore: opts.createdBefore.toISOString() } : {}) });
  let released = 0;
  for (const id of ids) {
    if (opts.except?.has(id)) continue;
    const r = await settleGeneration(db, id, { status: 'failed', resultText: null, error: 'server_interrupted', finishReason: null, usage: null, route: null, firstTokenAt: null });
    if (r.applied) released++;
  }
  return released;
}

/** Accounts whose balance columns differ from the sums of their ledger rows (should be none). */
export async function ledgerMismatches(db: Db): Promise<Array<{ account_id: number; plan_tokens: number; package_tokens: number; ledger_plan: number; ledger_package: number }>> {
  const rows = await db.kysely
    .selectFrom('accounts')
    .leftJoin('ledger', 'ledger.account_id', 'accounts.id')
    .select(['accounts.id as account_id', 'accounts.plan_tokens', 'accounts.package_tokens'])
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number>('ledger.plan_delta'), sql<number>`0`).as('ledger_plan'),
      eb.fn.coalesce(eb.fn.sum<number>('ledger.package_delta'), sql<number>`0`).as('ledger_package'),
    ])
    .groupBy(['accounts.id', 'accounts.plan_tokens', 'accounts.package_tokens'])
    .execute();
  return rows
    .map((r) => ({ ...r, ledger_plan: Number(r.ledger_plan), ledger_package: Number(r.ledger_package) }))
    .filter((r) => r.ledger_plan !== r.plan_tokens || r.ledger_package !== r.package_tokens);
}
