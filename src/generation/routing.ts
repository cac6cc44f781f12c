// Getting a working upstream stream for a model: its routes in order, each retried with
// exponential backoff (cockatiel) behind a per-route circuit breaker, until one produces its first
// event. After that first event the stream is committed to that route: no retry, no fallback.
import {
  BrokenCircuitError, CircuitState, ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, retry, wrap,
  type CircuitBreakerPolicy, type IPolicy, type RetryPolicy,
} from 'cockatiel';
import type { Provider, ProviderEvent, ProviderRequest } from '../providers/types.js';
import { ProviderError } from '../providers/types.js';
import type { Timeouts } from '../config/catalog.js';

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

/** Why a stream was aborted; the signal's reason, so the cause is known afterwards. */
export class GenerationAbort extends Error {
  constructor(readonly reason: 'client_disconnected' | 'timeout', message: string) {
    super(message);
  }
}

/** No route could take the request (connection refused, breaker open, provider out of capacity). */
export class UnreachableError extends Error {}

/** An upstream stream that already produced its first event; `next()` enforces the gap timeout. */
export interface OpenStream {
  route: Route;
  first: ProviderEvent;
  next(): Promise<ProviderEvent | undefined>;
  close(): void;
}

/** Circuit breakers per route name, and the retry policy, shared by all requests of this process. */
export class RouteHealth {
  private breakers = new Map<string, CircuitBreakerPolicy>();
  private policies = new Map<string, IPolicy>();
  private retryPolicy: RetryPolicy;
  constructor(private policy: RoutingPolicy) {
    // Policies keep no per-call state (each execute() has its own backoff), so one serves every request.
    this.retryPolicy = retry(handleWhen((e) => e instanceof ProviderError && e.retryable), {
      maxAttempts: policy.retries.attempts,
      backoff: new ExponentialBackoff({ initialDelay: policy.retries.backoff_ms, maxDelay: policy.retries.max_backoff_ms ?? 5_000 }),
    });
  }

  /** Retries inside the route's circuit breaker. */
  retriedThroughBreaker(name: string): IPolicy {
    let p = this.policies.get(name);
    if (!p) this.policies.set(name, (p = wrap(this.retryPolicy, this.breaker(name))));
    return p;
  }

  breaker(name: string): CircuitBreakerPolicy {
    let b = this.breakers.get(name);
    if (!b) {
      // Only upstream failures trip the breaker; a client leaving is not the route's fault.
      b = circuitBreaker(handleWhen((e) => !(e instanceof GenerationAbort && e.reason === 'client_disconnected')), {
        halfOpenAfter: this.policy.circuit_breaker.cooldown_ms,
        breaker: new ConsecutiveBreaker(this.policy.circuit_breaker.failures),
      });
      this.breakers.set(name, b);
    }
    return b;
  }

  isOpen(name: string): boolean {
    return this.breakers.get(name)?.state === CircuitState.Open;
  }
}

export async function openFirstRoute(
  routes: Route[],
  req: Omit<ProviderRequest, 'signal' | 'upstreamModel'>,
  opts: {
    signal: AbortSignal; timeouts: Timeouts; health: RouteHealth;
    onAccepted: () => void;
    /** Called for each failed try (not for a client leaving). */
    onAttemptFailed?: (route: Route, err: unknown) => void;
  },
): Promise<OpenStream> {
  let lastError: unknown;
  let answered = false;
  for (const route of routes) {
    try {
      return await opts.health.retriedThroughBreaker(route.name).execute(async () => {
        try {
          return await attempt(route, req, opts);
        } catch (err) {
          if (!(err instanceof GenerationAbort && err.reason === 'client_disconnected')) opts.onAttemptFailed?.(route, err);
          throw err;
        }
      }, opts.signal);
    } catch (err) {
      if (opts.signal.aborted) throw opts.signal.reason;
      lastError = err;
      if ((err instanceof ProviderError && err.status !== undefined && !err.unavailable) || err instanceof GenerationAbort) answered = true;
    }
  }
  if (answered || !(lastError instanceof ProviderError || lastError instanceof BrokenCircuitError)) throw lastError;
  throw new UnreachableError(lastError instanceof BrokenCircuitError ? 'every route is cooling down after repeated failures' : lastError.message);
}

/** One try on one route: open it and wait for its first event, under the first-token timeout. */
async function attempt(route: Route, req: Omit<ProviderRequest, 'signal' | 'upstreamModel'>, opts: { signal: AbortSignal; timeouts: Timeouts; onAccepted: () => void }): Promise<OpenStream> {
  const abort = new AbortController();
  const forward = () => abort.abort(opts.signal.reason);
  opts.signal.addEventListener('abort', forward, { once: true });
  let watchdog = setTimeout(() => abort.abort(new GenerationAbort('timeout', `upstream timed out: no first token within ${opts.timeouts.first_token_ms} ms`)), opts.timeouts.first_token_ms);
  const close = () => {
    clearTimeout(watchdog);
    opts.signal.removeEventListener('abort', forward);
  };
  const failure = (err: unknown) => (abort.signal.aborted ? abort.signal.reason : err);
  try {
    const stream = await route.provider.open({ ...req, upstreamModel: route.upstreamModel, signal: abort.signal });
    opts.onAccepted();
    const events = stream.events[Symbol.asyncIterator]();
    const first = await events.next();
    if (first.done) throw new ProviderError('upstream stream ended without any event');
    // From the first event on, the watchdog measures the gap between chunks.
    clearTimeout(watchdog);
    watchdog = setTimeout(() => abort.abort(new GenerationAbort('timeout', `upstream timed out: no chunk for ${opts.timeouts.chunk_gap_ms} ms`)), opts.timeouts.chunk_gap_ms);
    return {
      route,
      first: first.value,
      async next() {
        try {
          const r = await events.next();
          watchdog.refresh();
          return r.done ? undefined : r.value;
        } catch (err) {
          throw failure(err);
        }
      },
      close,
    };
  } catch (err) {
    close();
    throw failure(err);
  }
}
