// Redis unreachable: LUMENGATE_RATE_LIMIT_REDIS_DOWN decides. `closed` (default) answers generation
// requests with a JSON 503 and recovers by itself when Redis returns; `open` serves without
// limits; `local` counts per instance. Reads (balance) are served either way, without headers.
// Runs in the PostgreSQL + Redis pass of `npm test` with a private redis-server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { startHarness, type Harness } from '../support/harness.js';
import { LineLog } from '../support/waits.js';
import { freePort } from '../support/free-port.js';

const skip = !process.env.TEST_REDIS_URL ? 'needs TEST_REDIS_URL (the PostgreSQL + Redis pass of npm test)' : false;

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Ready, or a clear failure (e.g. the port was taken by another process meanwhile) instead of a hang.
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server on port ${port} exited (${code}): ${out.slice(-500)}`)));
  });
  return child;
}

const REDIS_CONNECTED = '"msg":"redis connected"';
const plans = { plans: { basic: { requests_per_hour: 2, requests_per_day: 100 } } };
const gen = (h: Harness, key: string) => h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x' }, key);

describe('Redis down', { skip }, () => {
  let port: number;
  let redis: ChildProcess | undefined;
  const harnesses: Harness[] = [];
  before(async () => {
    port = await freePort();
  });
  after(async () => {
    redis?.kill('SIGKILL');
    await Promise.all(harnesses.map((h) => h.close()));
  });
  const harness = async (policy?: string, catalog = plans, logger?: Logger) => {
    const h = await startHarness({ catalog, env: { REDIS_URL: `redis://127.0.0.1:${port}`, ...(policy ? { LUMENGATE_RATE_LIMIT_REDIS_DOWN: policy } : {}) }, ...(logger ? { logger } : {}) });
    harnesses.push(h);
    h.fake.respondWith({ chunks: ['ok'] });
    return h;
  };

  it('closed (default): JSON 503 while Redis is down, nothing held, and recovery without a restart', async () => {
    redis = await startRedis(port);
    // The server's log (info), to see it reconnect to Redis.
    const log = new LineLog();
    const h = await harness(undefined, plans, pino({ level: 'info' }, log.writable()));
    const a = await h.account({ plan: 'basic', tokens: 10 });
    const ok = await gen(h, a.key);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-ratelimit-remaining-hour'), '1');

    redis.kill('SIGKILL');
    await once(redis, 'exit');
    const down = await gen(h, a.key);
    assert.equal(down.status, 503);
    assert.equal(down.json.error, 'service_unavailable');
    assert.equal(down.headers.get('retry-after'), '5');
    // Fail closed on every surface that counts, not only /api/v2 (a store error
    // silently allowing traffic on another route).
    for (const [path, body] of [
      ['/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }],
      ['/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'x' }] }],
      ['/v1/responses', { model: 'gpt-5-nano', input: 'x', stream: true }],
      ['/v1/embeddings', { model: 'text-embedding-3-small', input: 'x' }],
      ['/v1/audio/speech', { model: 'espeak', input: 'x', voice: 'en' }],
      ['/api/v2/generate', { model: 'espeak', text: 'x', wait: 0 }],
    ] as const) {
      const r = await h.post(path, body, a.key);
      assert.equal(r.status, 503, `${path}: ${r.text}`);
    }
    assert.equal(await h.balance(a.id), 9, 'nothing held');
    const pending = await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).execute();
    assert.equal(pending.length, 1, 'no generation beyond the first, served one');
    const read = await h.get('/api/v2/balance', a.key);
    assert.equal(read.status, 200, 'reads do not need the counters');
    assert.equal(read.headers.get('x-ratelimit-limit-hour'), null);

    const connects = log.count(REDIS_CONNECTED);
    redis = await startRedis(port);
    // ioredis reconnects by itself, and the server logs "redis connected" once the connection is
    // ready again (src/limits/redis.ts): from then on the counters answer.
    await log.until(() => log.count(REDIS_CONNECTED) > connects, 'the server reconnected to Redis');
    const back = await gen(h, a.key);
    assert.equal(back.status, 200);
    // A fresh Redis lost the counters (no persistence here): counting starts again.
    assert.equal(back.headers.get('x-ratelimit-remaining-hour'), '1');
    redis.kill('SIGKILL');
    await once(redis, 'exit');
  });

  it('open: generations are served without limits while Redis is down', async () => {
    const h = await harness('open');
    const a = await h.account({ plan: 'basic', tokens: 10 });
    for (let i = 0; i < 3; i++) assert.equal((await gen(h, a.key)).status, 200);
    assert.equal(await h.balance(a.id), 7);
  });

  it('local: per-instance counters stand in while Redis is down', async () => {
    const h = await harness('local');
    const a = await h.account({ plan: 'basic', tokens: 10 });
    assert.equal((await gen(h, a.key)).status, 200);
    assert.equal((await gen(h, a.key)).status, 200);
    const third = await gen(h, a.key);
    assert.equal(third.status, 429);
    assert.equal(third.json.error, 'rate_limit_exceeded');
  });

  it('local: the daily window falls back too, and gives the hourly point back', async () => {
    const h = await harness('local', { plans: { basic: { requests_per_hour: 10, requests_per_day: 2 } } });
    const a = await h.account({ plan: 'basic', tokens: 10 });
    assert.equal((await gen(h, a.key)).status, 200);
    assert.equal((await gen(h, a.key)).status, 200);
    const third = await gen(h, a.key);
    assert.equal(third.status, 429);
    assert.equal(third.json.message, 'Daily limit reached: 2 requests/day on Basic plan');
    // Reads see the per-instance counters while Redis is down.
    const read = await h.get('/api/v2/balance', a.key);
    assert.equal(read.headers.get('x-ratelimit-remaining-hour'), '8');
    assert.equal(read.headers.get('x-ratelimit-remaining-day'), '0');
  });

  it('a Redis that lost its scripts (SCRIPT FLUSH, a restart) loads the counting script again', async () => {
    redis = await startRedis(port);
    const h = await harness();
    const a = await h.account({ plan: 'basic', tokens: 10 });
    const first = await gen(h, a.key);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-remaining-hour'), '1');
    const client = new Redis(`redis://127.0.0.1:${port}`);
    assert.equal(await client.script('FLUSH'), 'OK');
    client.disconnect();
    const second = await gen(h, a.key);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-ratelimit-remaining-hour'), '0');
    assert.equal((await gen(h, a.key)).status, 429);
    redis.kill('SIGKILL');
    await once(redis, 'exit');
  });
});
