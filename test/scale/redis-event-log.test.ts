// The Redis event log itself (src/generation/event-log.ts): appends are one script each, fired and
// forgotten on one connection, so their order, a flush larger than Lua's unpack limit, the end
// marker, the expiry and the change notice are checked against a real Redis. Runs where
// TEST_REDIS_URL is set (the PostgreSQL pass of npm test).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisEventLog } from '../../src/generation/event-log.js';
import { dropRedisKeys } from '../support/test-database.js';

const redisUrl = process.env.TEST_REDIS_URL ?? '';
const prefix = `eventlog${process.pid}`;

describe('Redis event log', { skip: redisUrl ? false : 'needs TEST_REDIS_URL' }, () => {
  let redis: Redis;
  let log: RedisEventLog;
  const errors: unknown[] = [];
  /** Called on every change notice and every error of the log: what a test waits for. */
  let wake: (() => void) | undefined;

  before(async () => {
    redis = new Redis(redisUrl);
    log = new RedisEventLog(
      redis,
      prefix,
      (err) => {
        errors.push(err);
        wake?.();
      },
      60_000,
    );
  });
  after(async () => {
    log.close();
    redis.disconnect();
    await dropRedisKeys(redisUrl, prefix);
  });

  it('keeps appends in order, a flush of 9,000 frames (more than Lua unpacks at once) whole, the end last; notifies watchers; expires the list', async () => {
    const id = 1;
    let changes = 0;
    const unwatch = await log.watch(id, () => {
      changes++;
      wake?.();
    });
    const big = Array.from({ length: 9000 }, (_, i) => `big-${i}`);
    log.append(id, 1, ['a', 'b'], false);
    log.append(id, 3, big, false);
    log.append(id, 9003, ['z'], true);
    // The third append's change notice means all three ran (one connection, in order); an error ends the wait too.
    await new Promise<void>((resolve) => {
      wake = () => (changes >= 3 || errors.length > 0) && resolve();
      wake();
    });
    unwatch();
    assert.deepEqual(errors, []);
    const all = await log.read(id, 0);
    assert.deepEqual(all, { frames: ['a', 'b', ...big, 'z'], ended: true });
    assert.deepEqual(await log.read(id, 9002), { frames: ['z'], ended: true });
    const ttl = await redis.pttl(`${prefix}:stream:${id}`);
    assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`);
    assert.deepEqual(errors, []);
  });

  it('an unknown stream reads as undefined; drop removes one', async () => {
    assert.equal(await log.read(2, 0), undefined);
    log.append(2, 1, ['x'], true);
    assert.deepEqual(await log.read(2, 0), { frames: ['x'], ended: true });
    log.drop(2);
    // drop is fired and forgotten on the same connection: a read after it is answered after it.
    assert.equal(await log.read(2, 0), undefined);
  });
});
