// The Redis command timeout must not be fooled by a starved event loop (src/limits/redis.ts): a
// reply that is already in the socket when the loop wakes up settles the command, although the
// timer is due by then. The fake Redis runs on a worker thread (its own event loop), writes the
// reply while the main thread is blocked, and says so through shared memory: the reply is in the
// kernel's socket buffer before the main loop runs again. No timing is asserted; the block simply
// lasts until both "the reply was written" and "the timer is due" are true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { FairTimeoutRedis } from '../../src/limits/redis.js';

const TIMEOUT_MS = 50;

/** A RESP server on a worker thread: +PONG to PING, +OK to anything else; flags each PONG written. */
async function fakeRedis(): Promise<{ port: number; written: Int32Array; stop: () => Promise<number> }> {
  const written = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const net = require('node:net');
     const flag = workerData;
     const server = net.createServer((socket) => {
       socket.setNoDelay(true);
       socket.on('data', (buf) => {
         // Each command is a RESP array: a line starting with '*'. Arguments are '$' lines.
         for (const line of buf.toString('latin1').split('\\r\\n')) {
           if (!line.startsWith('*')) continue;
           const ping = buf.toString('latin1').toUpperCase().includes('PING');
           socket.write(ping ? '+PONG\\r\\n' : '+OK\\r\\n', () => {
             if (ping) { Atomics.add(flag, 0, 1); Atomics.notify(flag, 0); }
           });
         }
       });
     });
     server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));`,
    { eval: true, workerData: written },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { port, written, stop: () => worker.terminate() };
}

/** Sends PING, then blocks this thread until the reply was written and the timeout is overdue. */
async function pingThroughStarvedLoop(redis: Redis, written: Int32Array): Promise<string> {
  await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  const before = Atomics.load(written, 0);
  const sent = performance.now();
  const reply = redis.ping();
  // Blocked: the event loop cannot run while we wait for the worker's "written" flag.
  while (Atomics.load(written, 0) === before) Atomics.wait(written, 0, before, 1000);
  while (performance.now() - sent <= TIMEOUT_MS * 2) {
    /* the timer becomes due while the loop is still blocked */
  }
  return reply;
}

const options = { enableReadyCheck: false, disableClientInfo: true, maxRetriesPerRequest: 0, retryStrategy: () => null };

test('a reply that arrived while the loop was blocked settles the command (fair timeout)', async (t) => {
  const fake = await fakeRedis();
  const redis = new FairTimeoutRedis(`redis://127.0.0.1:${fake.port}`, options, TIMEOUT_MS);
  t.after(async () => {
    redis.disconnect();
    await fake.stop();
  });
  assert.equal(await pingThroughStarvedLoop(redis, fake.written), 'PONG');
});

test("control: ioredis's own commandTimeout fails the same command although its reply was there", async (t) => {
  const fake = await fakeRedis();
  const redis = new Redis(`redis://127.0.0.1:${fake.port}`, { ...options, commandTimeout: TIMEOUT_MS });
  t.after(async () => {
    redis.disconnect();
    await fake.stop();
  });
  await assert.rejects(pingThroughStarvedLoop(redis, fake.written), /Command timed out/);
});

test('a Redis that never answers still fails the command with the fair timeout', async (t) => {
  const net = await import('node:net');
  // Answers the connection's HELLO, never a PING.
  const server = net.createServer((s) => s.on('data', (buf) => (buf.toString('latin1').toUpperCase().includes('PING') ? undefined : s.write('+OK\r\n'))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const redis = new FairTimeoutRedis(`redis://127.0.0.1:${port}`, options, TIMEOUT_MS);
  t.after(async () => {
    redis.disconnect();
    await new Promise((r) => server.close(r));
  });
  await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  await assert.rejects(redis.ping(), /Command timed out/);
});
