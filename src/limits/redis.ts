// The Redis connection for shared counters. Commands fail fast while Redis is unreachable (no
// offline queue, a command timeout) so that the configured policy decides, not a hung request;
// ioredis keeps reconnecting in the background and the service recovers on its own.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export async function connectRedis(url: string, logger: Logger): Promise<Redis> {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  let lastLogged = 0;
  redis.on('error', (err) => {
    // Reconnect attempts repeat the same error: log it at most every 10 s.
    if (Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    logger.error({ err }, 'redis connection error');
  });
  redis.on('ready', () => logger.info('redis connected'));
  // Start-up waits briefly for the first connection but never refuses to start without Redis:
  // the down policy already answers for the requests that need it.
  // Not events.once: it would reject on the first connection error instead of waiting for 'ready'.
  const ready = new Promise<true>((r) => redis.once('ready', () => r(true)));
  const timeout = new Promise<false>((r) => setTimeout(() => r(false), 1000).unref());
  if (!(await Promise.race([ready, timeout]))) logger.warn({ url: redactUrl(url) }, 'redis not reachable yet; retrying in the background');
  return redis;
}

const redactUrl = (url: string): string => url.replace(/\/\/[^@/]*@/, '//***@');
