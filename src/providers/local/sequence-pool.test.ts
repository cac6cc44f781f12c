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

test('a freed item goes to the waiter whose owner holds the fewest, oldest first among equals', async () => {
  const pool = new SequencePool(['s1', 's2'], 8);
  const first = await pool.acquire(never, 'a');
  await pool.acquire(never, 'a');
  const order: string[] = [];
  const waits = [
    pool.acquire(never, 'a').then(() => order.push('a3')),
    pool.acquire(never, 'a').then(() => order.push('a4')),
    pool.acquire(never, 'b').then(() => order.push('b1')),
    pool.acquire(never, 'c').then(() => order.push('c1')),
  ];
  // A holds both: B's and C's requests, though newer than A's, go first (B's is the older of the two).
  pool.release(first);
  await waits[2];
  assert.deepEqual(order, ['b1']);
  pool.release(first);
  await waits[3];
  assert.deepEqual(order, ['b1', 'c1']);
  pool.release(first);
  pool.release(first);
  await Promise.all(waits);
  assert.deepEqual(order, ['b1', 'c1', 'a3', 'a4']);
});

test('a full queue makes room for an owner with two fewer requests (held and waiting) than the one with most: its newest waiter is refused', async () => {
  const pool = new SequencePool(['s'], 3);
  await pool.acquire(never, 'a');
  const a = [pool.acquire(never, 'a'), pool.acquire(never, 'a'), pool.acquire(never, 'a')];
  const settled = a.map((p) =>
    p.then(
      () => 'got',
      (e: unknown) => (e instanceof PoolQueueFullError ? 'refused' : 'other'),
    ),
  );
  // A has 4 (1 held, 3 waiting), B none: A's newest waiter gives B its place.
  const b = pool.acquire(never, 'b');
  assert.equal(await settled[2], 'refused');
  assert.equal(pool.queued, 3);
  // Another of A's finds the queue full: no room is made for A against itself.
  await assert.rejects(pool.acquire(never, 'a'), PoolQueueFullError);
  // C, then D (none each) against A (3, then 2): A's newest waiter goes each time.
  const c = pool.acquire(never, 'c');
  assert.equal(await settled[1], 'refused');
  const d = pool.acquire(never, 'd');
  assert.equal(await settled[0], 'refused');
  // E (none) against A (1 held), B, C and D (1 waiting each): nobody has two more, so E is refused.
  await assert.rejects(pool.acquire(never, 'e'), PoolQueueFullError);
  // A's request ends: B, C and D hold none, and take the item in the order they came.
  pool.release('s');
  assert.equal(await b, 's');
  pool.release('s');
  assert.equal(await c, 's');
  pool.release('s');
  assert.equal(await d, 's');
});
