// The text and embedding generations running in this process. A graceful shutdown waits for them
// after the HTTP server has closed and before the providers and the database do: a generation
// whose client has left (an aborted request settling, a background stream going on) still ends in
// its settlement instead of being cut off with its hold left pending until the sweeper's expiry.
//
// It also caps how many of them one account runs here at once (LUMENGATE_MAX_CONCURRENT_PER_ACCOUNT,
// docs/security.md "Limits"): each holds memory, an upstream connection and event-loop time, so one
// account opening thousands would slow every other account on this instance. The count is per
// process, not shared (N instances allow N × the cap): a shared one would cost a Redis round trip
// on every generation, and what it protects (this process's memory and event loop) is per process.
import { GatewayError } from '../core/errors.js';

export class RunningGenerations {
  private readonly running = new Set<Promise<unknown>>();
  /** Places taken per account; an account with none has no entry, so the map never outgrows the accounts running now. */
  private readonly places = new Map<number, number>();

  /** `maxPerAccount`: the generations one account may run in this process at once. */
  constructor(readonly maxPerAccount: number = Number.POSITIVE_INFINITY) {}

  /** Tracks `work` until it settles (resolved or rejected); returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const untrack = () => void this.running.delete(work);
    work.then(untrack, untrack);
    return work;
  }

  /**
   * Takes one of the account's places, synchronously (no await between the check and the count, so
   * requests arriving together cannot overshoot), or throws 429 when it has them all. The returned
   * function gives the place back; calling it again does nothing.
   */
  claim(accountId: number): () => void {
    const taken = this.places.get(accountId) ?? 0;
    if (taken >= this.maxPerAccount) {
      throw new GatewayError(
        'rate_limit_exceeded',
        `this account already has ${taken} generations running on this server, the most it may run at once; retry when one ends`,
        { reason: 'concurrent_generations', in_flight: taken, max_in_flight: this.maxPerAccount },
        {},
        // A place frees as soon as one of its generations ends, often within a second.
        { 'retry-after': '1' },
      );
    }
    this.places.set(accountId, taken + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = this.places.get(accountId)! - 1;
      if (left === 0) this.places.delete(accountId);
      else this.places.set(accountId, left);
    };
  }

  /** The places `accountId` holds now. */
  inFlight(accountId: number): number {
    return this.places.get(accountId) ?? 0;
  }

  /** Accounts holding at least one place (the map's size). */
  get accounts(): number {
    return this.places.size;
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves once every tracked generation has ended, including any started while waiting. */
  async drained(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
