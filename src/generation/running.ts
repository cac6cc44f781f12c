// The text and embedding generations running in this process. A graceful shutdown waits for them
// after the HTTP server has closed and before the providers and the database do: a generation
// whose client has left (an aborted request settling, a background stream going on) still ends in
// its settlement instead of being cut off with its hold left pending until the sweeper's expiry.
export class RunningGenerations {
  private readonly running = new Set<Promise<unknown>>();

  /** Tracks `work` until it settles (resolved or rejected); returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const untrack = () => void this.running.delete(work);
    work.then(untrack, untrack);
    return work;
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves once every tracked generation has ended, including any started while waiting. */
  async drained(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
