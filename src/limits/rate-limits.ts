// Per-account request limits (docs/api.md): an hourly and a daily counter per account, shared by
// all its keys. Counters live in Redis when REDIS_URL is set (every instance reads and writes the
// same keys, no local fast path) and in memory otherwise (one instance). rate-limiter-flexible
// does the counting: a fixed window per account that starts at its first counted request.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from 'pino';
import type { Caller } from '../accounts/keys.js';
import type { PlanEntry, PlanName } from '../config/catalog.js';
import { GatewayError } from '../core/errors.js';

export type RedisDownPolicy = 'closed' | 'open' | 'local';
type Window = 'hour' | 'day';
const WINDOW_SECONDS: Record<Window, number> = { hour: 3600, day: 86_400 };

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
}

export class RateLimits {
  private limiters = new Map<string, RateLimiterAbstract>();
  private states = new WeakMap<Caller, RateLimitState>();

  constructor(private opts: RateLimitsOptions) {}

  /** One limiter per plan and window; all plans share the account's counter key for a window. */
  private limiter(plan: string, window: Window): RateLimiterAbstract | null {
    const entry = this.opts.plans[plan as PlanName];
    const points = window === 'hour' ? entry?.requests_per_hour : entry?.requests_per_day;
    if (points == null) return null;
    const id = `${plan}:${window}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      const base = { points, duration: WINDOW_SECONDS[window], keyPrefix: `${this.opts.prefix}:rl:${window}` };
      const { redis, onRedisDown } = this.opts;
      limiter = redis
        ? new RateLimiterRedis({
            ...base,
            storeClient: redis,
            rejectIfRedisNotReady: true,
            // `local`: the library falls back to per-instance counters while Redis is unreachable.
            ...(onRedisDown === 'local' ? { insuranceLimiter: new RateLimiterMemory(base) } : {}),
          })
        : new RateLimiterMemory(base);
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  /**
   * Counts one generation request for the account, or throws 429 (limit reached) or 503 (Redis
   * down under the `closed` policy). A request refused by the hourly limit is not counted against
   * the day; one refused by the daily limit gives its hourly point back.
   */
  async consume(caller: Caller): Promise<RateLimitState> {
    const { plan, id } = caller.account;
    const key = String(id);
    const hour = this.limiter(plan, 'hour');
    const day = this.limiter(plan, 'day');
    try {
      let h: RateLimiterRes | null = null;
      let d: RateLimiterRes | null = null;
      try {
        h = hour ? await hour.consume(key) : null;
      } catch (rej) {
        if (!(rej instanceof RateLimiterRes)) throw rej;
        const dayNow = day ? await day.get(key) : null;
        throw this.exceeded(caller, 'hour', this.record(caller, rej, dayNow), rej.msBeforeNext);
      }
      try {
        d = day ? await day.consume(key) : null;
      } catch (rej) {
        if (!(rej instanceof RateLimiterRes)) throw rej;
        if (hour) h = await hour.reward(key, 1);
        throw this.exceeded(caller, 'day', this.record(caller, h, rej), rej.msBeforeNext);
      }
      return this.record(caller, h, d);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      return this.storeDown(err, caller);
    }
  }

  /** The account's counters without counting anything (for the headers of other responses). */
  async peek(caller: Caller): Promise<RateLimitState | null> {
    const known = this.states.get(caller);
    if (known) return known;
    const key = String(caller.account.id);
    const hour = this.limiter(caller.account.plan, 'hour');
    const day = this.limiter(caller.account.plan, 'day');
    try {
      const [h, d] = await Promise.all([hour?.get(key) ?? null, day?.get(key) ?? null]);
      return this.record(caller, h, d);
    } catch (err) {
      // Headers are informational: a Redis failure must not break a balance or status read.
      this.opts.logger.warn({ err }, 'rate limit store unavailable: response sent without X-RateLimit headers');
      return null;
    }
  }

  /** The state last seen for this caller (consume or peek), if any. */
  stateOf(caller: Caller): RateLimitState | undefined {
    return this.states.get(caller);
  }

  private record(caller: Caller, h: RateLimiterRes | null, d: RateLimiterRes | null): RateLimitState {
    const plan = this.opts.plans[caller.account.plan as PlanName];
    const limitHour = plan?.requests_per_hour ?? null;
    const limitDay = plan?.requests_per_day ?? null;
    const hourWindowMs = h?.msBeforeNext && h.msBeforeNext > 0 ? h.msBeforeNext : WINDOW_SECONDS.hour * 1000;
    const state: RateLimitState = {
      limitHour,
      remainingHour: limitHour === null ? null : h ? h.remainingPoints : limitHour,
      limitDay,
      remainingDay: limitDay === null ? null : d ? d.remainingPoints : limitDay,
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
