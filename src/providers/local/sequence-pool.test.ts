import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PoolClosedError, PoolQueueFullError, SequencePool } from './sequence-pool.js';

const never = new AbortController().signal;

test('hands out free items, then queues FIFO up to maxQueue, then refuses', async () => {
  const pool = new SequencePool(['a'], 2);
  assert.equal(await pool.acquire(never), 'a');
  const order: string[] = [];
  const w1 = pool.acquire(never).then((x) => order.push(`w1:${x}`));
  const w2 = pool.acquire(never).then((x) => order.push(`w2:${x}`));
  assert.equal(pool.queued, 2);
  await assert.rejects(pool.acquire(never), PoolQueueFullError);
  pool.release('a');
  await w1;
  pool.release('a');
  await w2;
  assert.deepEqual(order, ['w1:a', 'w2:a']);
  pool.release('a');
  assert.equal(pool.available, 1);
});

test('an aborted waiter leaves the queue with the abort reason', async () => {
  const pool = new SequencePool(['a'], 1);
  await pool.acquire(never);
  const ac = new AbortController();
  const waiting = pool.acquire(ac.signal);
  ac.abort(new Error('gone'));
  await assert.rejects(waiting, /gone/);
  assert.equal(pool.queued, 0);
  pool.release('a');
  assert.equal(pool.available, 1, 'released item is not handed to the aborted waiter');
});

test('maxQueue 0 never queues; close rejects waiters and later requests', async () => {
  const none = new SequencePool(['a'], 0);
  await none.acquire(never);
  await assert.rejects(none.acquire(never), PoolQueueFullError);

  const pool = new SequencePool(['a'], 1);
  await pool.acquire(never);
  const waiting = pool.acquire(never);
  pool.close();
  await assert.rejects(waiting, PoolClosedError);
  await assert.rejects(pool.acquire(never), PoolClosedError);
});
