// Per-account request limits (docs/api.md): an hourly and a daily counter per account, shared by
// all its keys. A fixed window per account that starts at its first counted request. Counters live
// in Redis when REDIS_URL is set (every instance reads and writes the same keys, no local fast
// path; both windows in one script, src/limits/redis-counters.ts) and in memory otherwise (one
// instance; rate-limiter-flexible's memory limiter). The memory counters also stand in while Redis
// is unreachable under the `local` policy. The workers of `serve --workers N` are one instance of
// several processes: their memory counters are the primary's, asked over the cluster's IPC
// (rate-limiter-flexible's cluster limiter; src/cli/cluster.ts starts its master), so N workers
// never multiply a limit.
import type { Redis } from 'ioredis';
import { RateLimiterCluster, RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from 'pino';
import type { Caller } from '../accounts/keys.js';
import type { PlanEntry, PlanName } from '../config/catalog.js';
import { GatewayError } from '../core/errors.js';
import { RedisCounters, WINDOW_SECONDS, type Counted, type Limits, type Window, type WindowCount } from './redis-counters.js';

export type RedisDownPolicy = 'closed' | 'open' | 'local';

/** What the X-RateLimit-* headers say. A null limit means that window is unlimited. */
export interface RateLimitState {
  limitHour: number | null;
  remainingHour: number | null;
  limitDay: number | null;
  remainingDay: number | null;
  /** Unix seconds when the hourly window resets. */
  resetHour: number | null;
}

export interface RateLimitsOptions {
  plans: Record<PlanName, PlanEntry>;
  /** A connected ioredis client, or undefined for in-memory counters. */
  redis?: Redis;
  prefix: string;
  onRedisDown: RedisDownPolicy;
  logger: Logger;
  /**
   * A worker of `serve --workers N` (src/cli/cluster.ts): the memory counters are its primary's,
   * shared by all the workers. Only there: another cluster primary (a process manager's) would
   * never answer.
   */
  primaryCounters?: boolean;
}

export class RateLimits {
  private memory = new Map<string, RateLimiterAbstract>();
  private readonly redis: RedisCounters | undefined;
  private states = new WeakMap<Caller, RateLimitState>();

  constructor(private opts: RateLimitsOptions) {
    this.redis = opts.redis ? new RedisCounters(opts.redis, opts.prefix) : undefined;
  }

  private limits(plan: string): Limits {
    const entry = this.opts.plans[plan as PlanName];
    return { hour: entry?.requests_per_hour ?? null, day: entry?.requests_per_day ?? null };
  }

  /**
   * One in-memory limiter per plan and window (in a cluster worker, the primary's limiter of that
   * name: the cluster master keys its limiters by prefix, so each plan has its own).
   */
  private memoryLimiter(plan: string, window: Window): RateLimiterAbstract | null {
    const points = this.limits(plan)[window];
    if (points === null) return null;
    const id = `${plan}:${window}`;
    let limiter = this.memory.get(id);
    if (!limiter) {
      const opts = { points, duration: WINDOW_SECONDS[window], keyPrefix: `${this.opts.prefix}:rl:${plan}:${window}` };
      limiter = this.opts.primaryCounters ? new RateLimiterCluster(opts) : new RateLimiterMemory(opts);
      this.memory.set(id, limiter);
    }
    return limiter;
  }

  /**
   * Counts one generation request for the account, or throws 429 (limit reached) or 503 (Redis
   * down under the `closed` policy). A request refused by the hourly limit is not counted against
   * the day; one refused by the daily limit gives its hourly point back.
   */
  async consume(caller: Caller): Promise<RateLimitState> {
    let counted: Counted;
    try {
      counted = await this.count(caller);
    } catch (err) {
      return this.storeDown(err, caller);
    }
    const state = this.record(caller, counted.hour, counted.day);
    if (counted.refused) throw this.exceeded(caller, counted.refused, state, counted[counted.refused]!.msBeforeNext);
    return state;
  }

  /** Redis (one round trip for both windows), or memory without Redis or while it is down under `local`. */
  private async count(caller: Caller): Promise<Counted> {
    const { plan, id } = caller.account;
    const limits = this.limits(plan);
    if (limits.hour === null && limits.day === null) return { refused: null, hour: null, day: null };
    if (!this.redis) return this.countInMemory(plan, String(id));
    try {
      return await this.redis.consume(String(id), limits);
    } catch (err) {
      if (this.opts.onRedisDown !== 'local') throw err;
      return this.countInMemory(plan, String(id));
    }
  }

  /** The same rules as the Redis script, on this instance's memory counters. */
  private async countInMemory(plan: string, key: string): Promise<Counted> {
    const hour = this.memoryLimiter(plan, 'hour');
    const day = this.memoryLimiter(plan, 'day');
    let h: RateLimiterRes | null;
    try {
      h = hour ? await hour.consume(key) : null;
    } catch (rej) {
      if (!(rej instanceof RateLimiterRes)) throw rej;
      return { refused: 'hour', hour: countOf(rej), day: countOf(day ? await day.get(key) : null) };
    }
    try {
      return { refused: null, hour: countOf(h), day: countOf(day ? await day.consume(key) : null) };
    } catch (rej) {
      if (!(rej instanceof RateLimiterRes)) throw rej;
      return { refused: 'day', hour: countOf(hour ? await hour.reward(key, 1) : null), day: countOf(rej) };
    }
  }

  /** The account's counters without counting anything (for the headers of other responses). */
  async peek(caller: Caller): Promise<RateLimitState | null> {
    const known = this.states.get(caller);
    if (known) return known;
    const { plan, id } = caller.account;
    try {
      if (!this.redis) return this.record(caller, ...(await this.peekInMemory(plan, String(id))));
      try {
        const { hour, day } = await this.redis.peek(String(id), this.limits(plan));
        return this.record(caller, hour, day);
      } catch (err) {
        if (this.opts.onRedisDown !== 'local') throw err;
        return this.record(caller, ...(await this.peekInMemory(plan, String(id))));
      }
    } catch (err) {
      // Headers are informational: a Redis failure must not break a balance or status read.
      this.opts.logger.warn({ err }, 'rate limit store unavailable: response sent without X-RateLimit headers');
      return null;
    }
  }

  private async peekInMemory(plan: string, key: string): Promise<[WindowCount | null, WindowCount | null]> {
    const hour = this.memoryLimiter(plan, 'hour');
    const day = this.memoryLimiter(plan, 'day');
    const [h, d] = await Promise.all([hour?.get(key) ?? null, day?.get(key) ?? null]);
    return [countOf(h), countOf(d)];
  }

  /** The state last seen for this caller (consume or peek), if any. */
  stateOf(caller: Caller): RateLimitState | undefined {
    return this.states.get(caller);
  }

  private record(caller: Caller, h: WindowCount | null, d: WindowCount | null): RateLimitState {
    const { hour: limitHour, day: limitDay } = this.limits(caller.account.plan);
    const hourWindowMs = h && h.msBeforeNext > 0 ? h.msBeforeNext : WINDOW_SECONDS.hour * 1000;
    const state: RateLimitState = {
      limitHour,
      remainingHour: limitHour === null ? null : h ? Math.max(limitHour - h.consumed, 0) : limitHour,
      limitDay,
      remainingDay: limitDay === null ? null : d ? Math.max(limitDay - d.consumed, 0) : limitDay,
      resetHour: limitHour === null ? null : Math.ceil((Date.now() + hourWindowMs) / 1000),
    };
    this.states.set(caller, state);
    return state;
  }

  private exceeded(caller: Caller, window: Window, state: RateLimitState, msBeforeNext: number): GatewayError {
    const retryAfter = Math.max(1, Math.ceil(msBeforeNext / 1000));
    const plan = caller.account.plan;
    const limit = window === 'hour' ? state.limitHour : state.limitDay;
    const label = plan.charAt(0).toUpperCase() + plan.slice(1);
    const message = window === 'hour' ? `Hourly limit reached: ${limit} requests/hour on ${label} plan` : `Daily limit reached: ${limit} requests/day on ${label} plan`;
    // The same facts in `details` on every surface (/v1 sends only details); top-level copies stay for /api/v2 clients.
    const facts = { retry_after: retryAfter, plan, limit_hour: state.limitHour, limit_day: state.limitDay, limits: { hour: state.limitHour, day: state.limitDay } };
    return new GatewayError('rate_limit_exceeded', message, { window, ...facts }, facts, { 'retry-after': String(retryAfter) });
  }

  private storeDown(err: unknown, caller: Caller): RateLimitState {
    this.opts.logger.error({ err }, 'rate limit store unavailable');
    if (this.opts.onRedisDown === 'open') {
      this.states.delete(caller);
      return { limitHour: null, remainingHour: null, limitDay: null, remainingDay: null, resetHour: null };
    }
    throw new GatewayError('service_unavailable', 'rate limit service unavailable, retry shortly', { retry_after: 5 }, {}, { 'retry-after': '5' });
  }
}

/** A memory limiter's answer as a window count (null: never counted in this window). */
function countOf(res: RateLimiterRes | null): WindowCount | null {
  return res ? { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext } : null;
}

/** The X-RateLimit-* headers for a state; unlimited windows have none (no number would be true). */
export function rateLimitHeaders(state: RateLimitState | null | undefined): Record<string, string> {
  if (!state) return {};
  const out: Record<string, string> = {};
  if (state.limitHour !== null) {
    out['x-ratelimit-limit-hour'] = String(state.limitHour);
    out['x-ratelimit-remaining-hour'] = String(state.remainingHour);
    out['x-ratelimit-reset-hour'] = String(state.resetHour);
  }
  if (state.limitDay !== null) {
    out['x-ratelimit-limit-day'] = String(state.limitDay);
    out['x-ratelimit-remaining-day'] = String(state.remainingDay);
  }
  return out;
}
