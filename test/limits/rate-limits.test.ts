// Plans and limits (docs/api.md): per-account hourly/daily counters for all its keys, X-RateLimit
// headers on every authenticated response, 429 with the documented body, min_plan / api_access 403.
// In the PostgreSQL pass of `npm test` the counters live in Redis (TEST_REDIS_URL).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKey } from '../../src/accounts/keys.js';
import { allSettled, startHarness, type Harness } from '../support/harness.js';

const small = { plans: { basic: { requests_per_hour: 3, requests_per_day: 5 }, vip: { requests_per_hour: 10, requests_per_day: 2 }, free: { api_access: false } } };

describe('rate limits and plans', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ catalog: small });
  });
  after(() => h.close());

  const gen = (key: string, model = 'gpt-5-nano') => h.post('/api/v2/generate', { model, prompt: 'hi' }, key);
  const header = (r: { headers: Headers }, name: string) => r.headers.get(`x-ratelimit-${name}`);

  it('every authenticated response carries the X-RateLimit headers; reads do not count', async () => {
    const a = await h.account({ plan: 'basic', tokens: 10 });
    // The reset is an hour from the server's clock when it answered, rounded up to a whole second:
    // between an hour after `before` (rounded down) and an hour after the answer (rounded up).
    const before = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 2; i++) {
      const r = await h.get('/api/v2/balance', a.key);
      const answered = Math.ceil(Date.now() / 1000);
      assert.equal(r.status, 200);
      assert.equal(header(r, 'limit-hour'), '3');
      assert.equal(header(r, 'remaining-hour'), '3');
      assert.equal(header(r, 'limit-day'), '5');
      assert.equal(header(r, 'remaining-day'), '5');
      const reset = Number(header(r, 'reset-hour'));
      assert.ok(reset >= before + 3600 && reset <= answered + 3600, `reset ${reset}, answered between ${before} and ${answered}`);
    }
    assert.equal(header(await h.get('/api/v2/user/balance', a.key), 'limit-hour'), '3');
    // No key, no account: nothing to report.
    assert.equal(header(await h.get('/api/v2/balance'), 'limit-hour'), null);
  });

  it('counts generations per account across all its keys and answers 429 with the documented body', async () => {
    const a = await h.account({ plan: 'basic', tokens: 10 });
    const second = (await createKey(h.server.db, a.id, 'second')).key;
    const other = await h.account({ plan: 'basic', tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    const remaining: string[] = [];
    for (const key of [a.key, second, a.key]) {
      const r = await gen(key);
      assert.equal(r.status, 200);
      remaining.push(header(r, 'remaining-hour')!);
    }
    assert.deepEqual(remaining, ['2', '1', '0']);

    for (const key of [a.key, second]) {
      const r = await gen(key);
      assert.equal(r.status, 429);
      assert.equal(r.json.error, 'rate_limit_exceeded');
      assert.equal(r.json.message, 'Hourly limit reached: 3 requests/hour on Basic plan');
      assert.equal(r.json.plan, 'basic');
      assert.equal(r.json.limit_hour, 3);
      assert.equal(r.json.limit_day, 5);
      assert.ok(Number.isInteger(r.json.retry_after) && r.json.retry_after > 0 && r.json.retry_after <= 3600);
      assert.equal(r.headers.get('retry-after'), String(r.json.retry_after));
      assert.equal(header(r, 'remaining-hour'), '0');
      // A request refused by the hourly limit is not counted against the day.
      assert.equal(header(r, 'remaining-day'), '2');
    }
    assert.equal(await h.balance(a.id), 7, 'a refused request holds nothing');
    assert.equal((await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, a.key)).status, 429, 'streams count too');
    assert.equal((await gen(other.key)).status, 200, 'another account has its own counters');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('the daily limit applies on its own and gives the hourly point back', async () => {
    const a = await h.account({ plan: 'vip', tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    assert.equal((await gen(a.key)).status, 200);
    assert.equal((await gen(a.key)).status, 200);
    const r = await gen(a.key);
    assert.equal(r.status, 429);
    assert.equal(r.json.message, 'Daily limit reached: 2 requests/day on Vip plan');
    assert.equal(r.json.limit_day, 2);
    assert.equal(header(r, 'remaining-day'), '0');
    assert.equal(header(r, 'remaining-hour'), '8');
  });

  it('SSE responses carry the headers too', async () => {
    const a = await h.account({ plan: 'basic', tokens: 10 });
    h.fake.respondWith({ chunks: ['a', 'b'] });
    const r = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, a.key);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(header(r, 'limit-hour'), '3');
    assert.equal(header(r, 'remaining-hour'), '2');
    assert.equal(header(r, 'remaining-day'), '4');
  });

  it('a request refused for lack of tokens (402) counts; plan refusals (403) and unknown models (404) do not', async () => {
    const a = await h.account({ plan: 'basic', tokens: 0 });
    const r = await gen(a.key);
    assert.equal(r.status, 402);
    assert.equal(header(r, 'remaining-hour'), '2');
    const free = await h.account({ plan: 'free', tokens: 10 });
    const denied = await gen(free.key);
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error, 'insufficient_plan');
    assert.deepEqual(denied.json.details, { plan: 'free' });
    assert.equal((await gen(a.key, 'no-such-model')).status, 404);
    assert.equal(header(await h.get('/api/v2/balance', a.key), 'remaining-hour'), '2');
  });

  it('unlimited plans count nothing and send no limit headers', async () => {
    const a = await h.account({ plan: 'elite', tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    const r = await gen(a.key);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'limit-hour'), null);
    assert.equal(header(r, 'limit-day'), null);
  });
});

describe('plans with one window only', () => {
  // Counted in one Redis script in the PostgreSQL + Redis pass: the window without a limit is
  // neither counted nor reported.
  const oneWindow = { plans: { pro: { requests_per_hour: 2, requests_per_day: null }, elite: { requests_per_hour: null, requests_per_day: 2 } } };
  let h: Harness;
  before(async () => {
    h = await startHarness({ catalog: oneWindow });
  });
  after(() => h.close());
  const gen = (key: string) => h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, key);
  const header = (r: { headers: Headers }, name: string) => r.headers.get(`x-ratelimit-${name}`);

  it('an hourly limit alone', async () => {
    const a = await h.account({ plan: 'pro', tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    assert.equal(header(await gen(a.key), 'remaining-hour'), '1');
    assert.equal(header(await gen(a.key), 'remaining-hour'), '0');
    const r = await gen(a.key);
    assert.equal(r.status, 429);
    assert.equal(r.json.message, 'Hourly limit reached: 2 requests/hour on Pro plan');
    assert.equal(r.json.limit_day, null);
    assert.equal(header(r, 'limit-day'), null);
    assert.equal(r.headers.get('retry-after'), String(r.json.retry_after));
  });

  it('a daily limit alone', async () => {
    const a = await h.account({ plan: 'elite', tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    assert.equal(header(await gen(a.key), 'remaining-day'), '1');
    assert.equal(header(await gen(a.key), 'remaining-day'), '0');
    const r = await gen(a.key);
    assert.equal(r.status, 429);
    assert.equal(r.json.message, 'Daily limit reached: 2 requests/day on Elite plan');
    assert.ok(Number.isInteger(r.json.retry_after) && r.json.retry_after > 3600 && r.json.retry_after <= 86_400, `retry_after ${r.json.retry_after}`);
    assert.equal(header(r, 'limit-hour'), null);
    assert.equal(header(await h.get('/api/v2/balance', a.key), 'remaining-day'), '0');
  });
});

describe('min_plan', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('a model above the account plan answers 403 insufficient_plan and holds nothing', async () => {
    const a = await h.account({ plan: 'free', tokens: 10 });
    const r = await h.post('/api/v2/generate', { model: 'gpt-5', prompt: 'x' }, a.key);
    assert.equal(r.status, 403);
    assert.equal(r.json.error, 'insufficient_plan');
    assert.deepEqual(r.json.details, { model: 'gpt-5', plan: 'free', required_plan: 'basic' });
    assert.equal(header403(r), '20');
    assert.equal(await h.balance(a.id), 10);
    const b = await h.account({ plan: 'basic', tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5', prompt: 'x' }, b.key)).status, 200);
  });
});

const header403 = (r: { headers: Headers }) => r.headers.get('x-ratelimit-limit-hour');

// Every surface counts against the same plan limit (a limit bypassed
// through another client shape or route): /api/v2 text and media jobs, /v1 chat, responses,
// embeddings and speech.
describe('one hourly limit over every surface', () => {
  let h: Harness;
  let files: string;
  before(async () => {
    files = mkdtempSync(join(tmpdir(), 'lumengate-rl-files-'));
    h = await startHarness({ catalog: { plans: { basic: { requests_per_hour: 6, requests_per_day: null } } }, env: { LUMENGATE_FILES_DIR: files } });
  });
  after(async () => {
    await h.close();
    rmSync(files, { recursive: true, force: true });
  });

  const embeddingAnswer = { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [1] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 1, total_tokens: 1 } };
  const surfaces: Array<[string, unknown, object]> = [
    ['/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x' }, { chunks: ['ok'] }],
    ['/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, { chunks: ['ok'] }],
    ['/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'x' }] }, { chunks: ['ok'] }],
    ['/v1/responses', { model: 'gpt-5-nano', input: 'x' }, { chunks: ['ok'] }],
    ['/v1/embeddings', { model: 'text-embedding-3-small', input: 'x' }, { json: embeddingAnswer }],
    ['/v1/audio/speech', { model: 'espeak', input: 'hi', voice: 'en' }, {}],
    ['/api/v2/generate', { model: 'espeak', text: 'hi', wait: 0 }, {}],
  ];

  it('six requests on six surfaces use the six of the hour; the seventh, on any surface, is 429 with nothing held', async () => {
    const a = await h.account({ plan: 'basic', tokens: 50 });
    for (const [path, body, script] of surfaces.slice(0, 6)) {
      h.fake.respondWith(script);
      const r = await h.post(path, body, a.key);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
    }
    await allSettled(h, a.id);
    const balance = await h.balance(a.id);
    assert.equal(balance, 50 - 6);
    for (const [path, body] of surfaces) {
      const r = await h.post(path, body, a.key);
      assert.equal(r.status, 429, `${path}: ${r.text}`);
      assert.match(r.text, /rate_limit_exceeded/);
    }
    assert.equal(await h.balance(a.id), balance, 'a refused request holds nothing');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});
