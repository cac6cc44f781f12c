// A fixed set of resources (context sequences) handed out one request at a time, with a bounded
// queue of waiters. A full queue is refused at once so the gateway can answer 503 instead of
// letting requests pile up behind a CPU-bound model.
// Shared fairly between owners (accounts, ProviderRequest.tenant): a freed item goes to the waiter
// whose owner holds the fewest items, oldest first among equals; and when the queue is full, a
// newcomer takes the place of the newest waiter of the owner with the most requests (held and
// waiting) if that owner has at least two more than the newcomer's (the waiter is refused as if it
// had found the queue full). So one account's burst can neither fill every place in the line nor
// keep another account's request behind it. With a single owner this is the plain FIFO.

import { sequencesChannel } from '../../core/trace.js';

export class PoolQueueFullError extends Error {
  override readonly name = 'PoolQueueFullError';
}

export class PoolClosedError extends Error {
  override readonly name = 'PoolClosedError';
}

interface Waiter<T> {
  owner: string;
  resolve(item: T): void;
  reject(err: unknown): void;
}

export class SequencePool<T> {
  private readonly free: T[];
  private readonly waiters: Waiter<T>[] = [];
  /** Who holds each item handed out (a few sequences: counting them per owner is cheap). */
  private readonly holders = new Map<T, string>();
  private closedWith: Error | undefined;

  constructor(
    items: readonly T[],
    private readonly maxQueue: number,
  ) {
    this.free = [...items];
  }

  get available(): number {
    return this.free.length;
  }
  get queued(): number {
    return this.waiters.length;
  }

  /** Resolves with a free item, waiting in line if none is; rejects with `signal.reason` on abort. */
  acquire(signal: AbortSignal, owner = ''): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (signal.aborted) return Promise.reject(signal.reason);
    const item = this.free.pop();
    if (item !== undefined) {
      this.changed();
      return Promise.resolve(this.handTo(owner, item));
    }
    if (this.waiters.length >= this.maxQueue && !this.makeRoomFor(owner)) {
      return Promise.reject(new PoolQueueFullError(`all sequences are busy and ${this.waiters.length} requests are already queued`));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        this.changed();
        reject(signal.reason);
      };
      const waiter: Waiter<T> = {
        owner,
        resolve: (it) => {
          signal.removeEventListener('abort', onAbort);
          resolve(it);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.changed();
    });
  }

  /** Gives the item to the waiter whose owner holds the fewest (oldest first), or back to the free list. */
  release(item: T): void {
    this.holders.delete(item);
    let best = -1;
    for (let i = 0; i < this.waiters.length; i++) {
      if (best < 0 || this.heldBy(this.waiters[i]!.owner) < this.heldBy(this.waiters[best]!.owner)) best = i;
    }
    if (best < 0) {
      this.free.push(item);
      this.changed();
      return;
    }
    const [next] = this.waiters.splice(best, 1);
    this.changed();
    next!.resolve(this.handTo(next!.owner, item));
  }

  /** Refuses new and queued requests from now on. */
  close(err: Error = new PoolClosedError('pool closed')): void {
    this.closedWith = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
    this.changed();
  }

  /** Tells a subscriber of sequencesChannel (src/core/trace.ts) the counts now; nothing when there is none. */
  private changed(): void {
    if (sequencesChannel.hasSubscribers) sequencesChannel.publish({ available: this.free.length, queued: this.waiters.length });
  }

  private heldBy(owner: string): number {
    let n = 0;
    for (const o of this.holders.values()) if (o === owner) n++;
    return n;
  }

  private handTo(owner: string, item: T): T {
    this.holders.set(item, owner);
    return item;
  }

  /** The queue is full: refuses the newest waiter of the owner with the most requests, if it has two more than `owner`. */
  private makeRoomFor(owner: string): boolean {
    const load = new Map<string, number>();
    for (const w of this.waiters) load.set(w.owner, (load.get(w.owner) ?? this.heldBy(w.owner)) + 1);
    let heaviest: string | undefined;
    for (const [o, n] of load) if (heaviest === undefined || n > load.get(heaviest)!) heaviest = o;
    if (heaviest === undefined || load.get(heaviest)! < (load.get(owner) ?? this.heldBy(owner)) + 2) return false;
    let i = this.waiters.length - 1;
    while (this.waiters[i]!.owner !== heaviest) i--;
    const [evicted] = this.waiters.splice(i, 1);
    this.changed();
    evicted!.reject(new PoolQueueFullError(`all sequences are busy and ${this.maxQueue} requests are already queued; this account has the most of them`));
    return true;
  }
}
