// The delivery worker: claims due rows (a lease, so one attempt at a time per row across every
// instance), POSTs them with bounded concurrency, and schedules retries with backoff until 24 h
// after the first attempt. Rows live in the database, so a restart resumes where the last left off.
import type { Db } from '../db/connect.js';
import type { WebhookDelivery } from '../db/schema.js';
import type { OperatorLog } from '../generation/lifecycle.js';
import { webhookSecretOf } from './secret.js';
import { signatureHeader, SIGNATURE_HEADER } from './signature.js';
import { claimDue, finishAttempt, type AttemptOutcome } from './store.js';
import type { AttemptResult, Sender } from './send.js';
import { webhookAttemptChannel } from '../core/trace.js';

/** Waits after the 1st, 2nd, … failed attempt; the last one repeats. */
export const RETRY_DELAYS_MS = [10_000, 60_000, 300_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000];
export const RETRY_WINDOW_MS = 24 * 3600_000;

/** When to try again after `attempts` failed ones, or null once the 24 h window is over. */
export function nextAttemptAt(attempts: number, firstAttemptAt: Date, now: Date): Date | null {
  const deadline = firstAttemptAt.getTime() + RETRY_WINDOW_MS;
  if (now.getTime() >= deadline) return null;
  const delay = RETRY_DELAYS_MS[Math.min(attempts, RETRY_DELAYS_MS.length) - 1]!;
  // The window's end gets a last attempt of its own.
  return new Date(Math.min(now.getTime() + delay, deadline));
}

export interface WorkerOptions {
  db: Db;
  sender: Sender;
  /** Deliveries in flight at once, per process. */
  concurrency: number;
  /** One account's deliveries in flight at once, all instances together (claimDue). */
  perAccount: number;
  /** How often due rows are looked for (new ones also wake the worker at once). */
  pollMs: number;
  /** A claimed row is this worker's for that long; longer than an attempt can take. */
  leaseMs: number;
  log?: OperatorLog;
  /** How due rows are claimed: claimDue, or a test's stand-in that can hold a claim open. */
  claim?: typeof claimDue;
}

export class DeliveryWorker {
  private inFlight = 0;
  /** A wake found every slot taken, some only reserved by a pass still claiming: look again once they are given back. */
  private missedWake = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly ticks = new Set<Promise<number>>();

  constructor(private readonly o: WorkerOptions) {}

  /** Starts polling; call after the server listens. */
  start(): void {
    this.timer = setInterval(() => this.wake(), this.o.pollMs);
    this.timer.unref();
    this.wake();
  }

  /**
   * Looks for due rows now, if there is room: a new delivery was queued, or a slot was freed. Without
   * room it is remembered, so a delivery queued while every slot is busy (or reserved by a claim under
   * way) goes out as soon as one is free, not at the next poll.
   */
  wake(): void {
    if (this.stopped) return;
    if (this.inFlight >= this.o.concurrency) {
      this.missedWake = true;
      return;
    }
    this.missedWake = false;
    const t = this.pass(new Date()).catch((err: unknown) => {
      this.o.log?.error({ err }, 'webhook delivery pass failed');
      return 0;
    });
    this.ticks.add(t);
    void t.finally(() => this.ticks.delete(t));
  }

  /**
   * One pass at instant `now` (tests pass a later one to reach a retry), after the background
   * passes under way: claims what is due and fits, delivers it; the number attempted.
   */
  async tick(now: Date = new Date()): Promise<number> {
    await Promise.all([...this.ticks]);
    return this.pass(now);
  }

  private async pass(now: Date): Promise<number> {
    const room = this.o.concurrency - this.inFlight;
    if (room <= 0) return 0;
    this.inFlight += room;
    let rows: WebhookDelivery[] = [];
    try {
      rows = await (this.o.claim ?? claimDue)(this.o.db, now, room, this.o.leaseMs, this.o.perAccount);
    } finally {
      this.inFlight -= room - rows.length;
      if (rows.length < room && this.missedWake) this.wake();
    }
    // Each ended attempt frees a slot, and its account one of its LUMENGATE_WEBHOOK_PER_ACCOUNT: the
    // rows waiting for either are claimed now (one claim per attempt, as a job's end wakes the job runner).
    await Promise.all(
      rows.map((row) =>
        this.attempt(row, now).finally(() => {
          this.inFlight--;
          this.wake();
        }),
      ),
    );
    return rows.length;
  }

  /** Stops polling and waits for the attempts under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.ticks]);
  }

  private async attempt(row: WebhookDelivery, now: Date): Promise<void> {
    const result = await this.send(row);
    const outcome = this.outcomeOf(row, result, now);
    if (outcome.state !== 'delivered') {
      this.o.log?.warn(
        { delivery_id: row.id, generation_id: row.generation_id, attempt: row.attempts, status: result.status, error: result.error, state: outcome.state },
        'webhook delivery attempt failed',
      );
    }
    try {
      await finishAttempt(this.o.db, row.id, row.attempts, outcome, now);
    } catch (err) {
      // The lease runs out and the row is attempted again: at least once, never lost.
      this.o.log?.error({ err, delivery_id: row.id }, 'webhook delivery outcome not stored');
    }
    if (webhookAttemptChannel.hasSubscribers) webhookAttemptChannel.publish({ deliveryId: row.id, generationId: row.generation_id });
  }

  private async send(row: WebhookDelivery): Promise<AttemptResult> {
    const secret = await webhookSecretOf(this.o.db, row.account_id);
    if (!secret || row.body === null) return { status: null, ok: false, error: 'the account has no webhook secret', permanent: true };
    // Signed at each attempt, with the wall clock and the secret current now.
    return this.o.sender.send(row.url, row.body, {
      [SIGNATURE_HEADER]: signatureHeader(secret, row.body, Date.now()),
      'x-lumengate-delivery': String(row.id),
      'x-lumengate-attempt': String(row.attempts),
    });
  }

  private outcomeOf(row: WebhookDelivery, r: AttemptResult, now: Date): AttemptOutcome {
    if (r.ok) return { state: 'delivered', status: r.status ?? 200 };
    const error = r.error ?? 'failed';
    const next = r.permanent ? null : nextAttemptAt(row.attempts, new Date(row.first_attempt_at ?? now), now);
    return next ? { state: 'pending', status: r.status, error, nextAttemptAt: next } : { state: 'failed', status: r.status, error };
  }
}
