// The hourly and daily counters of an account in Redis, both windows in one round trip: one Lua
// script counts a request against the hour and the day atomically (docs/deploy.md), and another
// reads both without counting (the headers of other responses). The keys and their values are the
// ones rate-limiter-flexible's RateLimiterRedis used (`<prefix>:rl:<window>:<account>`, an integer
// with the window's TTL), so counters survive a rolling upgrade.
import type { Redis } from 'ioredis';

export type Window = 'hour' | 'day';
export const WINDOW_SECONDS: Record<Window, number> = { hour: 3600, day: 86_400 };

/** One window's counter: requests counted in it, and milliseconds until it resets (≤ 0: unknown). */
export interface WindowCount {
  consumed: number;
  msBeforeNext: number;
}

/** The outcome of counting one request: which window refused it (if any) and both counters after. */
export interface Counted {
  refused: Window | null;
  /** Null for a window without a limit (it is neither counted nor read). */
  hour: WindowCount | null;
  day: WindowCount | null;
}

/** A window's limit, or null when the plan does not limit it. */
export interface Limits {
  hour: number | null;
  day: number | null;
}

// KEYS: the hour and day counters. ARGV: the hourly limit and window length in seconds, then the
// daily ones; an empty limit means "unlimited": that key is not touched. A window is fixed and
// starts at its first counted request (SET NX EX; rate-limiter-flexible's incr+TTL script, kept
// step for step). A request over the hourly limit leaves its point in the hour (as before) and is
// not counted against the day, which is only read; a request over the daily limit leaves its point
// in the day and gives the hourly point back. All of it is one atomic script: no other request
// sees a window counted while the other refuses.
// Returns {refused, hour consumed, hour PTTL, day consumed, day PTTL}: refused is 0 (counted),
// 1 (hour) or 2 (day); a window not counted and not read reports 0 and -2 (PTTL of no key).
const CONSUME_LUA = `
local function incr(key, by, seconds)
  redis.call('set', key, 0, 'EX', seconds, 'NX')
  local consumed = redis.call('incrby', key, by)
  local ttl = redis.call('pttl', key)
  if ttl == -1 then
    redis.call('expire', key, seconds)
    ttl = 1000 * seconds
  end
  return consumed, ttl
end
local hourLimit, dayLimit = tonumber(ARGV[1]), tonumber(ARGV[3])
local hc, ht, dc, dt = 0, -2, 0, -2
if hourLimit then
  hc, ht = incr(KEYS[1], 1, ARGV[2])
  if hc > hourLimit then
    if dayLimit then
      dc = tonumber(redis.call('get', KEYS[2]) or '0')
      dt = redis.call('pttl', KEYS[2])
    end
    return {1, hc, ht, dc, dt}
  end
end
if dayLimit then
  dc, dt = incr(KEYS[2], 1, ARGV[4])
  if dc > dayLimit then
    if hourLimit then
      hc, ht = incr(KEYS[1], -1, ARGV[2])
    end
    return {2, hc, ht, dc, dt}
  end
end
return {0, hc, ht, dc, dt}
`;

/**
 * Each key's counter ('' when it does not exist) and its PTTL, in order. A script, not MULTI: ioredis
 * builds a pipeline object per MULTI (a copy of every command and script on the instance) and a
 * loop of them promoted ~5 KB per call to the old generation, against ~90 bytes for a script
 * (bench/NOTES.md, ninth session). Atomic either way.
 */
const PEEK_LUA = `
local out = {}
for i, key in ipairs(KEYS) do
  out[2 * i - 1] = redis.call('get', key) or ''
  out[2 * i] = redis.call('pttl', key)
end
return out
`;

type ScriptReply = [number, number, number, number, number];
interface WithConsume extends Redis {
  lumengateRateLimitConsume(hourKey: string, dayKey: string, hourLimit: string, hourSeconds: string, dayLimit: string, daySeconds: string): Promise<ScriptReply>;
  /** `numberOfKeys` keys, then their counters and PTTLs in order (PEEK_LUA). */
  lumengateRateLimitPeek(numberOfKeys: number, ...keys: string[]): Promise<(string | number)[]>;
}

export class RedisCounters {
  private readonly redis: WithConsume;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    // ioredis sends the script itself (EVAL) first on each connection and EVALSHA after, resending
    // as EVAL on NOSCRIPT (a SCRIPT FLUSH); the commands go through the client's sendCommand, so its
    // fair timeout applies.
    redis.defineCommand('lumengateRateLimitConsume', { numberOfKeys: 2, lua: CONSUME_LUA });
    redis.defineCommand('lumengateRateLimitPeek', { lua: PEEK_LUA });
    this.redis = redis as WithConsume;
  }

  private key(window: Window, account: string): string {
    return `${this.prefix}:rl:${window}:${account}`;
  }

  /** Fails fast while the connection is not ready, so that the down policy decides at once. */
  private ready(): void {
    if (this.redis.status !== 'ready') throw new Error('Redis connection is not ready');
  }

  /** Counts one request against both windows (one round trip), or reports the refusing window. */
  async consume(account: string, limits: Limits): Promise<Counted> {
    this.ready();
    const [refused, hc, ht, dc, dt] = await this.redis.lumengateRateLimitConsume(
      this.key('hour', account),
      this.key('day', account),
      limits.hour === null ? '' : String(limits.hour),
      String(WINDOW_SECONDS.hour),
      limits.day === null ? '' : String(limits.day),
      String(WINDOW_SECONDS.day),
    );
    return {
      refused: refused === 1 ? 'hour' : refused === 2 ? 'day' : null,
      hour: limits.hour === null ? null : { consumed: Number(hc), msBeforeNext: Number(ht) },
      day: limits.day === null ? null : { consumed: Number(dc), msBeforeNext: Number(dt) },
    };
  }

  /** Both counters without counting (one script, one round trip); a window never counted yet reads as null. */
  async peek(account: string, limits: Limits): Promise<Pick<Counted, 'hour' | 'day'>> {
    const out: Pick<Counted, 'hour' | 'day'> = { hour: null, day: null };
    const windows = (['hour', 'day'] as const).filter((w) => limits[w] !== null);
    if (!windows.length) return out;
    this.ready();
    const replies = await this.redis.lumengateRateLimitPeek(windows.length, ...windows.map((w) => this.key(w, account)));
    windows.forEach((w, i) => {
      const value = replies[2 * i];
      if (value !== '' && value !== undefined) out[w] = { consumed: Number(value), msBeforeNext: Number(replies[2 * i + 1]) };
    });
    return out;
  }
}
