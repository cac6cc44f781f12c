// Settlement survives a database outage: it is retried while the database is unavailable, first
// inline (the client waits up to `inlineMs`), then in the background. A client that was answered
// with an error is never charged: the background retry releases the hold instead of charging it.
// If the process dies meanwhile, the instance's restart (or the stale-hold sweeper) releases it.
// A settlement the database refuses for its data (a value it cannot store, a constraint) is made
// again without the generation's text: the charge or release is what must never be lost, and a
// delivered generation must not stay pending with its hold.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/connect.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { settleGeneration, type Settled, type Settlement } from './ledger.js';

export interface SettleRetryOptions {
  inlineMs?: number;
  /** Background retries stop after this long; the sweeper is the backstop. */
  backgroundMs?: number;
  onBackgroundError?: (err: unknown) => void;
  /** A settlement refused for its data and made again without its text (to log it). */
  onDataError?: (err: unknown) => void;
  /** Where retries are reported for the operator (pino's shape), with `context` (route, generation id) on each line. */
  log?: { warn(obj: Record<string, unknown>, msg: string): void; error(obj: Record<string, unknown>, msg: string): void };
  context?: Record<string, unknown>;
}

const backoff = (attempt: number) => Math.min(100 * 2 ** attempt, 2000);

/** The note stored in place of what could not be stored. Constant: the refused data stays out of it. */
export const NOT_STORED = 'result_not_stored: the database refused the generation text';

/**
 * One settlement attempt. If the database refuses it for any reason but being unavailable, it is
 * made once more carrying only the status, the money and a note (no text, usage or finish reason).
 */
async function settleOnce(db: Db, generationId: number, s: Settlement, onDataError?: (err: unknown) => void): Promise<Settled> {
  try {
    return await settleGeneration(db, generationId, s);
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw err;
    onDataError?.(err);
    return settleGeneration(db, generationId, {
      ...s,
      resultText: null,
      resultJson: null,
      usage: null,
      finishReason: null,
      error: s.status === 'completed' ? NOT_STORED : `${NOT_STORED} (${(s.error ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 200)})`,
    });
  }
}

export async function settleWithRetry(db: Db, generationId: number, s: Settlement, opts: SettleRetryOptions = {}): Promise<Settled> {
  const inlineUntil = Date.now() + (opts.inlineMs ?? 15_000);
  const ctx = { generation_id: generationId, ...opts.context };
  for (let attempt = 0; ; attempt++) {
    try {
      const settled = await settleOnce(db, generationId, s, opts.onDataError);
      if (attempt > 0) opts.log?.warn({ ...ctx, attempts: attempt + 1 }, 'settlement succeeded after retries');
      return settled;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      if (Date.now() + backoff(attempt) > inlineUntil) {
        const release: Settlement = { ...s, status: 'failed', error: 'service_unavailable: settlement interrupted by a database outage', finishReason: null };
        opts.log?.error({ ...ctx, err, attempts: attempt + 1 }, 'settlement still failing: the hold will be released in the background');
        void settleInBackground(db, generationId, release, Date.now() + (opts.backgroundMs ?? 10 * 60_000), opts, ctx);
        throw err;
      }
      // Once per outage, not once per attempt: the first retry says the database is down.
      if (attempt === 0) opts.log?.warn({ ...ctx, err }, 'settlement failed (database unavailable): retrying');
      await sleep(backoff(attempt), undefined, { ref: false });
    }
  }
}

async function settleInBackground(db: Db, generationId: number, s: Settlement, until: number, opts: SettleRetryOptions, ctx: Record<string, unknown>): Promise<void> {
  for (let attempt = 0; Date.now() < until; attempt++) {
    await sleep(backoff(attempt), undefined, { ref: false });
    try {
      await settleOnce(db, generationId, s);
      opts.log?.warn({ ...ctx, attempts: attempt + 1 }, 'settlement released the hold in the background');
      return;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) {
        opts.log?.error({ ...ctx, err }, 'background settlement failed');
        opts.onBackgroundError?.(err);
        return;
      }
    }
  }
  opts.log?.error(ctx, 'background settlement gave up: the stale-hold sweeper will release the hold');
}
