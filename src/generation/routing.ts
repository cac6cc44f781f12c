// Getting a working upstream stream for a model: its routes in order, each retried with
// exponential backoff behind a per-route circuit breaker (cockatiel), until one produces its first
// part. After that first part the stream is committed to that route: no retry, no fallback.
// Failures are classified (docs/api.md): a refusal of the request (400/404/413/422) is the
// caller's, never retried on that route and never counted by the breaker, so no account can take
// a model offline for the others; credentials, rate limits, 5xx, network and timeouts are the
// route's and count.
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import type { Provider, ProviderRequest, ProviderUsage, StreamPart } from '../providers/spec.js';
import { ProviderError } from '../providers/spec.js';
import type { Timeouts } from '../config/catalog.js';
import type { Cancellation } from '../core/cancel.js';

export interface Route {
  provider: Provider;
  upstreamModel: string;
  /** "provider:upstream-model", the circuit breaker's key. */
  name: string;
}

export interface RoutingPolicy {
  retries: { attempts: number; backoff_ms: number; max_backoff_ms?: number };
  circuit_breaker: { failures: number; cooldown_ms: number };
}

/** Why a stream was aborted; the cancellation's (and the attempt signal's) reason, so the cause is known afterwards. */
export class GenerationAbort extends Error {
  constructor(
    readonly reason: 'client_disconnected' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

/** No route could take the request (connection refused, breaker open, provider out of capacity). */
export class UnreachableError extends Error {
  /** Seconds until a route may take requests again (an open breaker, an upstream's Retry-After). */
  constructor(
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** The upstream refused the request itself (bad parameter, context too long, content policy). */
export const isRefusal = (err: unknown): err is ProviderError => err instanceof ProviderError && err.status !== undefined && [400, 404, 413, 422].includes(err.status) && !err.unavailable;

/** Failures that say something about the route, not the caller: they feed its circuit breaker. */
const countsAgainstRoute = (err: unknown): boolean => !isRefusal(err) && !(err instanceof GenerationAbort && err.reason === 'client_disconnected');

/** An upstream stream that already produced its first event; `next()` enforces the gap timeout. */
export interface OpenStream {
  route: Route;
  first: StreamPart;
  /** performance.now() when `first` arrived (parts the client is not sent are read on before the stream is handed over). */
  firstAt: number;
  next(): Promise<StreamPart | undefined>;
  /** The provider's counts so far, for a stream that ended without its finish. */
  usageSoFar(): ProviderUsage | null;
  /** Stops the gap timer while the client is slow to read (backpressure is not upstream silence). */
  pause(): void;
  resume(): void;
  /**
   * Ends the attempt: its timers and its link to the request's cancellation. A stream left before
   * its finish part (an error part, a failure in the sink) also has its upstream call aborted, so
   * the provider's connection is closed instead of being left open and unread.
   */
  close(): void;
}

/** Circuit breakers per route name and the retry settings, shared by all requests of this process. */
export class RouteHealth {
  private breakers = new Map<string, CircuitBreakerPolicy>();
  /** When each open breaker half-opens (ms since epoch), for Retry-After. */
  private reopensAt = new Map<string, number>();
  constructor(private policy: RoutingPolicy) {}

  get retries(): RoutingPolicy['retries'] {
    return this.policy.retries;
  }

  breaker(name: string): CircuitBreakerPolicy {
    let b = this.breakers.get(name);
    if (!b) {
      const breaker = circuitBreaker(handleWhen(countsAgainstRoute), {
        halfOpenAfter: this.policy.circuit_breaker.cooldown_ms,
        breaker: new ConsecutiveBreaker(this.policy.circuit_breaker.failures),
      });
      breaker.onBreak(() => this.reopensAt.set(name, Date.now() + this.policy.circuit_breaker.cooldown_ms));
      breaker.onStateChange((state) => this.onStateChange?.(name, state));
      this.breakers.set(name, (b = breaker));
    }
    return b;
  }

  /** Called when a route's breaker opens, half-opens or closes (operator log). */
  onStateChange?: (route: string, state: CircuitState) => void;

  isOpen(name: string): boolean {
    return this.breakers.get(name)?.state === CircuitState.Open;
  }

  /** Whole seconds until the route's open breaker lets a request through again. */
  secondsUntilHalfOpen(name: string): number {
    return Math.max(1, Math.ceil(((this.reopensAt.get(name) ?? Date.now()) - Date.now()) / 1000));
  }
}

const sleep = (ms: number, cancel: Cancellation) =>
  new Promise<void>((resolve, reject) => {
    if (cancel.aborted) return reject(cancel.reason);
    const t = setTimeout(() => {
      stopListening();
      resolve();
    }, ms);
    const stopListening = cancel.onAbort((reason) => {
      clearTimeout(t);
      reject(reason);
    });
  });

export async function openFirstRoute(
  routes: Route[],
  req: Omit<ProviderRequest, 'signal' | 'upstreamModel'>,
  opts: {
    /** The request's: the client leaving or its total time; each attempt's own signal follows it. */
    cancel: Cancellation;
    timeouts: Timeouts;
    health: RouteHealth;
    onAccepted: () => void;
    /** Called for each failed try (not for a client leaving). */
    onAttemptFailed?: (route: Route, err: unknown) => void;
    /**
     * Parts the client is not sent (its surface has no event for them: tool argument fragments on
     * v2, reasoning on /v1/responses). They do not commit the request to a route: the attempt reads
     * on past them, so a failure before anything was sent is still retried or falls back.
     */
    unsent?: (part: StreamPart) => boolean;
  },
): Promise<OpenStream> {
  const started = Date.now();
  const { attempts, backoff_ms: backoff, max_backoff_ms: maxBackoff = 5_000 } = opts.health.retries;
  let lastError: unknown;
  let refusal: ProviderError | undefined;
  let retryAfter: number | undefined;
  for (const route of routes) {
    const breaker = opts.health.breaker(route.name);
    for (let n = 0; n <= attempts; n++) {
      try {
        // No signal for cockatiel: it would only pass it on to this function, which watches the
        // cancellation itself (attempt), and check it after waiting on a half-open breaker's test.
        return await breaker.execute(async () => {
          try {
            return await attempt(route, req, opts);
          } catch (err) {
            if (!(err instanceof GenerationAbort && err.reason === 'client_disconnected')) opts.onAttemptFailed?.(route, err);
            throw err;
          }
        });
      } catch (err) {
        if (opts.cancel.aborted) throw opts.cancel.reason;
        lastError = err;
        if (err instanceof BrokenCircuitError) {
          retryAfter = Math.min(retryAfter ?? Infinity, opts.health.secondsUntilHalfOpen(route.name));
          break;
        }
        if (isRefusal(err)) {
          refusal ??= err;
          break;
        }
        if (!(err instanceof ProviderError && err.retryable) || n === attempts) {
          if (err instanceof ProviderError && err.retryAfter !== undefined) retryAfter = Math.min(retryAfter ?? Infinity, err.retryAfter);
          break;
        }
        // Backoff, or the upstream's Retry-After when it gave one, within the first-token budget.
        const wait = err.retryAfter !== undefined ? err.retryAfter * 1000 : Math.min(maxBackoff, backoff * 2 ** n);
        if (Date.now() - started + wait >= opts.timeouts.first_token_ms) {
          if (err.retryAfter !== undefined) retryAfter = Math.min(retryAfter ?? Infinity, err.retryAfter);
          break;
        }
        await sleep(wait, opts.cancel);
      }
    }
  }
  // A route refused the request: the caller's mistake, answered as such (400 with the reason).
  if (refusal) throw refusal;
  // Credentials, rate limits, capacity, open breakers, nothing listening: 503, not the caller's fault.
  if (
    lastError instanceof BrokenCircuitError ||
    (lastError instanceof ProviderError && (lastError.unavailable || (lastError.status === undefined && !accepted.has(lastError)) || [401, 403, 429].includes(lastError.status ?? 0)))
  ) {
    const why = lastError instanceof BrokenCircuitError ? 'every route is cooling down after repeated failures' : lastError.message;
    throw new UnreachableError(why, retryAfter === undefined || retryAfter === Infinity ? undefined : retryAfter);
  }
  throw lastError;
}

/**
 * Failures of attempts whose upstream had answered 200: a stream that then broke (an oversized or
 * malformed event, a reset) is the provider's error (500), not an unreachable route (503).
 */
const accepted = new WeakSet<object>();

/** One try on one route: open it and wait for its first event, under the first-token timeout. */
async function attempt(
  route: Route,
  req: Omit<ProviderRequest, 'signal' | 'upstreamModel'>,
  opts: { cancel: Cancellation; timeouts: Timeouts; onAccepted: () => void; unsent?: (part: StreamPart) => boolean },
): Promise<OpenStream> {
  // The request's one AbortSignal: the upstream call's, aborted by the request's cancellation or by this attempt's timeouts.
  const { controller: abort, unlink } = opts.cancel.linkedController();
  let watchdog = setTimeout(() => abort.abort(new GenerationAbort('timeout', `upstream timed out: no first token within ${opts.timeouts.first_token_ms} ms`)), opts.timeouts.first_token_ms);
  const release = () => {
    clearTimeout(watchdog);
    unlink();
  };
  const failure = (err: unknown): unknown => (abort.signal.aborted ? (abort.signal.reason as unknown) : err);
  let wasAccepted = false;
  /** The provider's stream has given its finish part, ended or failed: nothing of its call is left to stop. */
  let over = false;
  try {
    const stream = await route.provider.open({ ...req, upstreamModel: route.upstreamModel, signal: abort.signal });
    wasAccepted = true;
    opts.onAccepted();
    const events = stream.parts[Symbol.asyncIterator]();
    const first = await events.next();
    if (first.done) throw new ProviderError('upstream stream ended without any event');
    const firstAt = performance.now();
    over = first.value.type === 'finish';
    // From the first event on, the watchdog measures the gap between chunks.
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => abort.abort(new GenerationAbort('timeout', `upstream timed out: no chunk for ${opts.timeouts.chunk_gap_ms} ms`)), opts.timeouts.chunk_gap_ms);
    };
    arm();
    // Parts the client is not sent, then the first it is (or the finish): all read on this attempt.
    const held = [first.value];
    while (!over && opts.unsent?.(held[held.length - 1]!)) {
      const r = await events.next();
      watchdog.refresh();
      if (r.done) throw new ProviderError('upstream stream ended without a finish event');
      held.push(r.value);
      over = r.value.type === 'finish';
    }
    let heldAt = 1;
    // Called once per part: plain callbacks on the iterator's promise, no async frame of its own.
    const onPart = (r: IteratorResult<StreamPart>) => {
      watchdog.refresh();
      if (r.done || r.value.type === 'finish') over = true;
      return r.done ? undefined : r.value;
    };
    const onError = (err: unknown): never => {
      over = true;
      throw failure(err);
    };
    return {
      route,
      first: first.value,
      firstAt,
      next: () => (heldAt < held.length ? Promise.resolve(held[heldAt++]) : events.next().then(onPart, onError)),
      usageSoFar: () => stream.usageSoFar?.() ?? null,
      pause: () => clearTimeout(watchdog),
      resume: arm,
      close() {
        release();
        if (!over && !abort.signal.aborted) abort.abort(new ProviderError('the generation ended before the upstream stream did'));
        over = true;
      },
    };
  } catch (err) {
    release();
    const out = failure(err);
    if (wasAccepted && out instanceof Object) accepted.add(out);
    throw out;
  }
}
