// A fixed set of resources (context sequences) handed out one request at a time, with a bounded
// FIFO of waiters. A full queue is refused at once so the gateway can answer 503 instead of
// letting requests pile up behind a CPU-bound model.

export class PoolQueueFullError extends Error {
  override readonly name = 'PoolQueueFullError';
}

export class PoolClosedError extends Error {
  override readonly name = 'PoolClosedError';
}

interface Waiter<T> {
  resolve(item: T): void;
  reject(err: unknown): void;
}

export class SequencePool<T> {
  private readonly free: T[];
  private readonly waiters: Waiter<T>[] = [];
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
  acquire(signal: AbortSignal): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (signal.aborted) return Promise.reject(signal.reason);
    const item = this.free.pop();
    if (item !== undefined) return Promise.resolve(item);
    if (this.waiters.length >= this.maxQueue) {
      return Promise.reject(new PoolQueueFullError(`all sequences are busy and ${this.waiters.length} requests are already queued`));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      const waiter: Waiter<T> = {
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
    });
  }

  /** Gives the item to the oldest waiter, or back to the free list. */
  release(item: T): void {
    const next = this.waiters.shift();
    if (next) next.resolve(item);
    else this.free.push(item);
  }

  /** Refuses new and queued requests from now on. */
  close(err: Error = new PoolClosedError('pool closed')): void {
    this.closedWith = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
