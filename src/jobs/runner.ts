// The worker loop of one process (docs/api.md): claims due jobs up to its concurrency, renews the
// leases of those it runs, and wakes whoever waits for a generation (POST /api/v2/generate with
// `wait`). Any instance may run any job; a dead instance's jobs are claimed again when their
// leases expire.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Job } from '../db/schema.js';
import { findGeneration } from '../generation/store.js';
import { executeJob, JobStop, type JobDeps } from './execute.js';
import { claimJobs, renewLease } from './store.js';
import type { Cancellation } from '../core/cancel.js';
import { jobRunEndedChannel } from '../core/trace.js';

/** How the loop claims jobs: claimJobs, or a test's stand-in that can hold a claim open. */
export type Claim = typeof claimJobs;

export class JobRunner {
  /** This process's lease name: a restarted instance (same instance id) is a different owner. */
  readonly owner: string;
  private readonly running = new Map<number, { abort: AbortController; done: Promise<void> }>();
  private readonly settled = new EventEmitter();
  private stopped = false;
  private wakeIdle: (() => void) | undefined;
  /**
   * A wake since the loop's current turn began. One that comes while a claim is under way (a job
   * submitted after the claim's snapshot, or a job ended that freed its account's slot) finds no
   * idle wait to end, so the loop must not then wait: it claims again at once.
   */
  private woken = false;
  private loopDone: Promise<void> | undefined;
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: JobDeps,
    private readonly claim: Claim = claimJobs,
  ) {
    this.owner = `${deps.instanceId ?? 'lumengate'}#${randomBytes(4).toString('hex')}`;
    this.settled.setMaxListeners(0);
  }

  start(): void {
    this.loopDone = this.loop();
    this.renewTimer = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.deps.jobs.leaseMs / 3)));
    this.renewTimer.unref();
  }

  /** A job was submitted or ended here: look now rather than at the next idle poll (again, if a claim is under way). */
  wake(): void {
    this.woken = true;
    this.wakeIdle?.();
  }

  /** A generation this process settled (or cancelled): wakes its waiters. */
  notifySettled(generationId: number): void {
    this.settled.emit(String(generationId));
    if (jobRunEndedChannel.hasSubscribers) jobRunEndedChannel.publish({ generationId });
  }

  /** Stops this process's run of a job (cancelled); another worker's run notices at its next renewal. */
  abortRun(generationId: number): void {
    this.running.get(generationId)?.abort.abort(new JobStop('cancelled'));
  }

  /**
   * Resolves when the generation is no longer pending or after `ms`. Settled here: an event; run by
   * another instance: the database, looked at every idle-poll interval.
   */
  async waitFor(generationId: number, ms: number, cancel?: Cancellation): Promise<void> {
    if (ms <= 0 || this.stopped) return;
    await new Promise<void>((resolve) => {
      const key = String(generationId);
      let stopListening = (): void => {};
      const finish = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.settled.off(key, look);
        this.settled.off('stop', finish);
        stopListening();
        resolve();
      };
      const look = () => {
        findGeneration(this.deps.db, generationId).then(
          (g) => {
            if (g?.status !== 'pending') finish();
          },
          () => {},
        );
      };
      const timer = setTimeout(finish, ms);
      const poll = setInterval(look, Math.min(1_000, this.deps.jobs.idlePollMs));
      // A run ended here (settled, or requeued for another attempt): look at what it left.
      this.settled.on(key, look);
      // Shutting down: answer what there is now (pending) instead of holding the server's close.
      this.settled.once('stop', finish);
      // Last: a cancellation that already happened calls finish at once.
      if (cancel) stopListening = cancel.onAbort(finish);
    });
  }

  /** Gives the running jobs back to the queue (another instance, or this one restarted, resumes them). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.settled.emit('stop');
    clearInterval(this.renewTimer);
    this.wake();
    for (const r of this.running.values()) r.abort.abort(new JobStop('shutdown'));
    await this.loopDone;
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private async loop(): Promise<void> {
    const { concurrency, perAccount, leaseMs, idlePollMs } = this.deps.jobs;
    while (!this.stopped) {
      this.woken = false;
      const free = concurrency - this.running.size;
      let claimed: Job[] = [];
      if (free > 0) {
        try {
          claimed = await this.claim(this.deps.db, this.owner, free, leaseMs, perAccount);
        } catch (err) {
          this.deps.log?.error({ error: (err as Error).message }, 'claiming jobs failed');
        }
      }
      for (const job of claimed) this.launch(job);
      // Fewer than asked for: nothing more is due (or its accounts are at their cap). Full: wait for a slot.
      if (claimed.length < free || this.running.size >= concurrency) await this.idle(idlePollMs);
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeIdle === done) this.wakeIdle = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeIdle = done;
      if (this.stopped || this.woken) done();
    });
  }

  private launch(job: Job): void {
    const abort = new AbortController();
    const id = job.generation_id;
    const done = executeJob(this.deps, this.owner, job, abort.signal)
      .catch((err) => this.deps.log?.error({ generation_id: id, error: (err as Error).message }, 'job run failed'))
      .finally(() => {
        this.running.delete(id);
        this.notifySettled(id);
        this.wake();
      });
    this.running.set(id, { abort, done });
  }

  /** Keeps the leases of running jobs; a lease that cannot be renewed (taken over, cancelled) stops the run. */
  private async renew(): Promise<void> {
    for (const [id, r] of this.running) {
      const kept = await renewLease(this.deps.db, id, this.owner, this.deps.jobs.leaseMs).catch(() => true /* database blip: keep running */);
      if (!kept) r.abort.abort(new JobStop('lease_lost'));
    }
  }
}
