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
// Re-attached streams have a cap of their own, the same size (streamFollowers).
import { GatewayError } from '../core/errors.js';

/**
 * Places per account, each taken synchronously (no await between the check and the count, so
 * requests arriving together cannot overshoot) and given back once. An account with none has no
 * entry, so the map never outgrows the accounts holding places now.
 */
export class AccountPlaces {
  private readonly places = new Map<number, number>();

  /** `refusal`: the error when an account holds `max` places already. */
  constructor(
    readonly max: number,
    private readonly refusal: (taken: number) => GatewayError,
  ) {}

  /** Takes one of the account's places, or throws the refusal; the returned function gives it back (again: nothing). */
  claim(accountId: number): () => void {
    const taken = this.places.get(accountId) ?? 0;
    if (taken >= this.max) throw this.refusal(taken);
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
}

/** A 429 that frees within about a second (`what`: the account's places, in words; `reason`: details.reason). */
const placesRefusal = (what: string, reason: string, max: number) => (taken: number) =>
  new GatewayError(
    'rate_limit_exceeded',
    `this account already has ${taken} ${what} on this server, the most it may have at once; retry when one ends`,
    { reason, in_flight: taken, max_in_flight: max },
    {},
    // A place frees as soon as one of its generations (or streams) ends, often within a second.
    { 'retry-after': '1' },
  );

/**
 * The re-attached streams (GET /api/v2/generate/{id}/stream, a reconnecting EventSource) one
 * account follows in this process at once: each holds a connection and is woken by every frame of
 * the stream it follows, so without a cap one account could fan one stream out to thousands of
 * followers. Counted apart from running generations (a client re-attaching to its own running
 * background streams needs both), with the same limit.
 */
export const streamFollowers = (max: number) => new AccountPlaces(max, placesRefusal('re-attached streams open', 'concurrent_reattaches', max));

export class RunningGenerations extends AccountPlaces {
  private readonly running = new Set<Promise<unknown>>();

  /** `maxPerAccount`: the generations one account may run in this process at once (its places). */
  constructor(maxPerAccount: number = Number.POSITIVE_INFINITY) {
    super(maxPerAccount, placesRefusal('generations running', 'concurrent_generations', maxPerAccount));
  }

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
