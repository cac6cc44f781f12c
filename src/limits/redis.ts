// The Redis connection for shared counters. Commands fail fast while Redis is unreachable (no
// offline queue, a command timeout) so that the configured policy decides, not a hung request;
// ioredis keeps reconnecting in the background and the service recovers on its own.
import { Redis, type Command, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/** How long a command may wait for its reply before it fails (the rate-limit policy then decides). */
export const COMMAND_TIMEOUT_MS = 1000;

/**
 * ioredis with a command timeout that a starved event loop cannot fake. ioredis's own
 * `commandTimeout` is a plain timer, and after the loop was blocked for longer than the timeout
 * (a busy host, a long synchronous task) libuv runs due timers *before* it reads the sockets: a
 * reply that arrived in time is declared late, the request fails with 503, and the command was in
 * fact executed (a rate-limit point taken for a refused request). Here the timer only schedules the
 * verdict with setImmediate, which runs after the loop's I/O poll: a reply already in the socket
 * settles the command first. A Redis that really does not answer still fails the command after the
 * timeout plus one loop turn.
 */
export class FairTimeoutRedis extends Redis {
  constructor(
    url: string,
    options: RedisOptions & { replyMapping?: 'legacy' },
    private readonly timeoutMs: number,
  ) {
    super(url, options);
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    const result = super.sendCommand(command, stream);
    if (!command.isSettled) {
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (!command.isSettled) command.reject(new Error('Command timed out'));
        });
      }, this.timeoutMs);
      const clear = () => clearTimeout(timer);
      command.promise.then(clear, clear);
    }
    return result;
  }
}

export async function connectRedis(url: string, logger: Logger): Promise<Redis> {
  const redis = new FairTimeoutRedis(
    url,
    {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    },
    COMMAND_TIMEOUT_MS,
  );
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
