// One account's generations running at once in one process are capped
// (LUMENGATE_MAX_CONCURRENT_PER_ACCOUNT, docs/security.md "Limits"): one more is 429
// `rate_limit_exceeded` with details.reason "concurrent_generations", before anything is counted,
// held or sent upstream, on every text and embedding surface; other accounts are served meanwhile.
// Re-attached streams have a cap of their own, the same size (details.reason "concurrent_reattaches").
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import type { FakeScript } from '../support/fake-upstream.js';
import { rawStream } from '../support/raw-stream.js';

const MAX = 2;
const prompt = { model: 'gpt-5-nano', prompt: 'hi' };

/** A script that holds its stream after the first chunk until `until` resolves. */
const heldUntil = (until: Promise<unknown>): FakeScript => ({ chunks: ['held', ' answer'], holdAfter: { writes: 1, until } });

/** Resolves once the upstream has received `n` more requests than `before` (on each arrival, no polling). */
async function arrived(h: Harness, before: number, n: number): Promise<void> {
  while (h.fake.requests.length < before + n) await h.fake.nextRequest();
}

/** The account's generation rows: a refused request leaves none. */
const generationsOf = async (h: Harness, accountId: number) => (await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', accountId).execute()).length;

describe('concurrent generations per account', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ env: { LUMENGATE_MAX_CONCURRENT_PER_ACCOUNT: String(MAX) } });
  });
  after(() => h.close());

  it('an account running its 2 streams gets 429 concurrent_generations on every surface, nothing counted, held, charged or sent; another account is served at once; the first again once its streams end', async () => {
    const a = await h.account({ plan: 'pro', tokens: 10 });
    const b = await h.account({ plan: 'pro', tokens: 10 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // The first two requests are held mid-stream; every later one is answered at once.
    h.fake.respondWith([heldUntil(held), heldUntil(held), { chunks: ['ok'] }]);
    const upstreamBefore = h.fake.requests.length;
    const streams = [1, 2].map(() => h.post('/api/v2/generate/stream', prompt, a.key));
    await arrived(h, upstreamBefore, MAX);

    const balance = await h.balance(a.id);
    const rows = await generationsOf(h, a.id);
    const remainingHour = (await h.get('/api/v2/balance', a.key)).headers.get('x-ratelimit-remaining-hour');
    const expected = { reason: 'concurrent_generations', in_flight: MAX, max_in_flight: MAX };
    for (const path of ['/api/v2/generate/stream', '/api/v2/generate']) {
      const r = await h.post(path, prompt, a.key);
      assert.equal(r.status, 429, `${path}: ${r.text}`);
      assert.equal(r.json.error, 'rate_limit_exceeded');
      assert.match(r.json.message, /already has 2 generations running/);
      assert.deepEqual(r.json.details, expected);
      assert.equal(r.headers.get('retry-after'), '1');
    }
    // /v1 answers in OpenAI's error shape (the SDK raises RateLimitError), chat, responses and embeddings alike.
    for (const [path, body] of [
      ['/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'hi' }] }],
      ['/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'hi' }], stream: true }],
      ['/v1/responses', { model: 'gpt-5-nano', input: 'hi' }],
      ['/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' }],
    ] as const) {
      const r = await h.post(path, body, a.key);
      assert.equal(r.status, 429, `${path}: ${r.text}`);
      assert.equal(r.json.error.type, 'rate_limit_error');
      assert.equal(r.json.error.code, 'rate_limit_exceeded');
      assert.deepEqual(r.json.error.details, expected);
      assert.equal(r.headers.get('retry-after'), '1');
    }
    assert.equal(h.fake.requests.length, upstreamBefore + MAX, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), balance, 'nothing held or charged');
    assert.equal(await generationsOf(h, a.id), rows, 'no generation recorded');
    assert.equal((await h.get('/api/v2/balance', a.key)).headers.get('x-ratelimit-remaining-hour'), remainingHour, 'no request counted');

    // Another account is served while the first one's streams are still running.
    const other = await h.post('/api/v2/generate', prompt, b.key);
    assert.equal(other.status, 200, other.text);
    assert.equal(other.json.result_text, 'ok');

    release();
    for (const s of await Promise.all(streams)) {
      assert.equal(s.status, 200, s.text);
      assert.ok(
        sseEvents(s.text).some((e) => e.type === 'generation_end'),
        s.text,
      );
    }
    const again = await h.post('/api/v2/generate', prompt, a.key);
    assert.equal(again.status, 200, again.text);
    assert.equal(await h.balance(a.id), 10 - 3, 'the two streams and the last request charged, nothing else');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a request refused after taking its place gives it back: 3 in a row from an account without tokens are each 402, not 429', async () => {
    const a = await h.account({ plan: 'pro', tokens: 0 });
    for (let i = 0; i <= MAX; i++) {
      const r = await h.post('/api/v2/generate', prompt, a.key);
      assert.equal(r.status, 402, r.text);
    }
  });

  it('a background stream whose client left keeps its place until it ends', async () => {
    const a = await h.account({ plan: 'elite', tokens: 10 });
    const b = await h.account({ plan: 'elite', tokens: 10 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    h.fake.respondWith([heldUntil(held), heldUntil(held), { chunks: ['ok'] }]);
    const upstreamBefore = h.fake.requests.length;
    const background = await rawStream(`${h.url}/api/v2/generate/stream`, { method: 'POST', key: a.key, body: { ...prompt, background: true } });
    assert.equal(background.status, 200);
    const id = Number(background.headers['x-generation-id']);
    background.destroy();
    const running = h.post('/api/v2/generate/stream', prompt, a.key);
    await arrived(h, upstreamBefore, MAX);
    // A whole request of another account after the client left: the server has seen it leave.
    assert.equal((await h.post('/api/v2/generate', prompt, b.key)).status, 200);

    const refused = await h.post('/api/v2/generate', prompt, a.key);
    assert.equal(refused.status, 429, refused.text);
    assert.deepEqual(refused.json.details, { reason: 'concurrent_generations', in_flight: MAX, max_in_flight: MAX });

    release();
    assert.equal((await running).status, 200);
    assert.equal((await settled(h, id, a.key)).status, 'completed');
    assert.equal((await h.post('/api/v2/generate', prompt, a.key)).status, 200);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
  it('re-attached streams have a cap of their own: a third follower of a running stream is 429 concurrent_reattaches while new generations are still accepted; the places come back when the followers end', async () => {
    const a = await h.account({ plan: 'elite', tokens: 10 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    h.fake.respondWith([heldUntil(held), { chunks: ['ok'] }]);
    const upstreamBefore = h.fake.requests.length;
    const origin = await rawStream(`${h.url}/api/v2/generate/stream`, { method: 'POST', key: a.key, body: prompt });
    const id = Number(origin.headers['x-generation-id']);
    await arrived(h, upstreamBefore, 1);
    const follow = () => rawStream(`${h.url}/api/v2/generate/${id}/stream`, { method: 'GET', key: a.key, agent: false });
    // Each answers its head at once (the stream is running): both places are taken.
    const followers = [await follow(), await follow()];
    assert.deepEqual(
      followers.map((f) => f.status),
      [200, 200],
    );

    const refused = await h.get(`/api/v2/generate/${id}/stream`, a.key);
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json.error, 'rate_limit_exceeded');
    assert.match(refused.json.message, /already has 2 re-attached streams open/);
    assert.deepEqual(refused.json.details, { reason: 'concurrent_reattaches', in_flight: MAX, max_in_flight: MAX });
    assert.equal(refused.headers.get('retry-after'), '1');
    // Counted apart: the account runs one generation of its two, so one more is served.
    const another = await h.post('/api/v2/generate', prompt, a.key);
    assert.equal(another.status, 200, another.text);

    release();
    for (const f of [origin, ...followers]) assert.ok(sseEvents(await f.ended).some((e) => e.type === 'generation_end'));
    // Both followers ended, their places given back: the whole stream again, twice at once.
    const again = await Promise.all([follow(), follow()]);
    for (const f of again) {
      assert.equal(f.status, 200);
      assert.ok(sseEvents(await f.ended).some((e) => e.type === 'generation_end'));
    }
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});
