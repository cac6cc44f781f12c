// Upstream failures (docs/api.md): which failures count toward a route's circuit breaker, what
// status the client gets for each upstream status, and that no client-visible text names an
// internal host, path, key or org id while the operator's log has the full picture.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { allSettled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import type { FakeScript } from '../support/fake-openai.js';

/** A pino logger writing parsed JSON lines to memory. */
function memoryLogger() {
  const lines: Record<string, any>[] = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) {
        raw.push(l);
        lines.push(JSON.parse(l));
      }
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines, raw };
}

/** Starts a request, aborts it as soon as the fake upstream has it, and waits until the upstream connection closed. */
async function hangUpAfterUpstreamGotIt(h: Harness, path: string, body: unknown, key: string): Promise<void> {
  const arrived = h.fake.nextRequest();
  const ac = new AbortController();
  const pending = fetch(h.url + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body), signal: ac.signal });
  const upstream = await arrived;
  ac.abort();
  await assert.rejects(pending);
  await upstream.closed;
}

const BREAKER = 3;

describe('upstream failures: status mapping and the circuit breaker (22)', () => {
  let h: Harness;
  let log: ReturnType<typeof memoryLogger>;
  let acct: { id: number; key: string };
  const toOpenAI = (slug: string, extra: object = {}) => ({ slug, routes: [{ provider: 'openai', model: slug }], ...extra });
  before(async () => {
    log = memoryLogger();
    h = await startHarness({
      logger: log.logger,
      catalog: {
        retries: { attempts: 1, backoff_ms: 5 },
        circuit_breaker: { failures: BREAKER, cooldown_ms: 60_000 },
        // One model (so one route, one breaker) per test: breakers are shared by all requests.
        models: [
          toOpenAI('gpt-5'),
          toOpenAI('gpt-5.2'),
          toOpenAI('gpt-5.2-pro'),
          toOpenAI('gpt-5-nano'),
          toOpenAI('deepseek-v3'),
          toOpenAI('grok-4-fast'),
          toOpenAI('claude-sonnet-4.5'),
          toOpenAI('deepseek-r1', { timeouts: { first_token_ms: 150, chunk_gap_ms: 5_000, total_ms: 10_000 } }),
          toOpenAI('claude-opus-4.5', { timeouts: { first_token_ms: 20_000, chunk_gap_ms: 20_000, total_ms: 30_000 } }),
        ],
      },
    });
    acct = await h.account({ plan: 'elite', tokens: 100_000 });
  });
  after(() => h.close());
  beforeEach(() => {
    h.fake.respondWith({});
    h.fake.requests.length = 0;
  });
  const generate = (model: string, key = acct.key) => h.post('/api/v2/generate', { model, prompt: 'x' }, key);

  it('20 refusals (400) by one account do not open the breaker: another account is served right after', async () => {
    const noisy = await h.account({ plan: 'elite', tokens: 1_000 });
    h.fake.respondWith({ status: 400 });
    for (let i = 0; i < 20; i++) {
      const r = await generate('gpt-5', noisy.key);
      assert.equal(r.status, 400, r.text);
    }
    assert.equal(h.fake.requests.length, 20, 'a refusal is never retried');
    assert.equal(await h.balance(noisy.id), 1_000);
    h.fake.respondWith({ chunks: ['served'] });
    const r = await generate('gpt-5');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result_text, 'served');
  });

  for (const status of [400, 404, 413, 422]) {
    it(`upstream ${status} reaches the client as 400 bad_request with details.upstream_status and the reason`, async () => {
      h.fake.respondWith({ status, errorBody: JSON.stringify({ error: { message: `temperature is out of range (case ${status})` } }) });
      const r = await generate('gpt-5');
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error, 'bad_request');
      assert.equal(r.json.details.upstream_status, status);
      assert.match(r.json.message, new RegExp(`temperature is out of range \\(case ${status}\\)`));
      assert.equal(h.fake.requests.length, 1);
    });
  }

  for (const status of [401, 403]) {
    it(`upstream ${status} (the gateway's credentials): 503 model_unavailable and an error-level operator log line`, async () => {
      h.fake.respondWith({ status });
      const r = await generate(status === 401 ? 'gpt-5-nano' : 'deepseek-v3');
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.error, 'model_unavailable');
      assert.equal(h.fake.requests.length, 1, 'credentials are not retried');
      const line = log.lines.find((l) => l.generation_id === r.json.details.generation_id && l.upstream_status === status);
      assert.ok(line, 'an operator log line for the failure');
      assert.equal(line.level, 50, 'error level');
    });
  }

  it('429 with Retry-After: 1 is retried after honouring it, then succeeds', async () => {
    h.fake.respondWith([{ status: 429, headers: { 'retry-after': '1' } }, { chunks: ['after the wait'] }]);
    const r = await generate('gpt-5.2-pro');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result_text, 'after the wait');
    assert.equal(h.fake.requests.length, 2);
    // That the retry waits for Retry-After (and not less) is proven with a mocked clock in
    // routing.test.ts ('Retry-After: the retry is sent when that many seconds have passed').
  });

  it('a 429 that persists: 503 model_unavailable with a Retry-After header', async () => {
    h.fake.respondWith({ status: 429, headers: { 'retry-after': '1' } });
    const r = await generate('grok-4-fast');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error, 'model_unavailable');
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(h.fake.requests.length, 2);
  });

  it('5xx: retried, then 500 provider_error; once the breaker opens, 503 with Retry-After and the upstream untouched', async () => {
    h.fake.respondWith({ status: 502 });
    const first = await generate('gpt-5.2');
    assert.equal(first.status, 500, first.text);
    assert.equal(first.json.error, 'provider_error');
    assert.equal(h.fake.requests.length, 2, 'first try + 1 retry');
    // Breaker threshold 3: the next request's first try is the third consecutive failure.
    const beforeOpen = Date.now();
    await generate('gpt-5.2');
    const afterOpen = Date.now();
    const seen = h.fake.requests.length;
    const asked = Date.now();
    const r = await generate('gpt-5.2');
    const answered = Date.now();
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error, 'model_unavailable');
    // Seconds until half-open (cooldown 60 s), bracketed by when the breaker opened and when the
    // answer was computed, whatever the machine's load made those gaps.
    const retryAfter = Number(r.headers.get('retry-after'));
    const lowest = Math.max(1, Math.ceil((beforeOpen + 60_000 - answered) / 1000));
    const highest = Math.ceil((afterOpen + 60_000 - asked) / 1000);
    assert.ok(retryAfter >= lowest && retryAfter <= highest, `Retry-After ${r.headers.get('retry-after')}, expected ${lowest}..${highest} = seconds until half-open`);
    assert.equal(h.fake.requests.length, seen, 'an open breaker does not contact the upstream');
  });

  it('first-token timeouts count toward the breaker', async () => {
    h.fake.respondWith({ chunks: ['too late'], firstChunkDelayMs: 2_000 });
    for (let i = 0; i < BREAKER; i++) {
      const r = await generate('deepseek-r1');
      assert.equal(r.status, 500, r.text);
      assert.match(r.json.message, /timed out/);
    }
    const seen = h.fake.requests.length;
    h.fake.respondWith({});
    const r = await generate('deepseek-r1');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error, 'model_unavailable');
    assert.equal(h.fake.requests.length, seen);
  });

  it('a client that hangs up before the first token does not count toward the breaker', async () => {
    const leaver = await h.account({ plan: 'elite', tokens: 1_000 });
    h.fake.respondWith({ chunks: ['slow'], firstChunkDelayMs: 10_000 });
    for (let i = 0; i < BREAKER + 1; i++) await hangUpAfterUpstreamGotIt(h, '/api/v2/generate', { model: 'claude-opus-4.5', prompt: 'x' }, leaver.key);
    const rows = await allSettled(h, leaver.id);
    assert.deepEqual(
      rows.map((g) => g.status),
      Array(BREAKER + 1).fill('failed'),
    );
    assert.equal(await h.balance(leaver.id), 1_000);
    h.fake.respondWith({ chunks: ['still up'] });
    const r = await generate('claude-opus-4.5');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result_text, 'still up');
  });

  it('refusals do not reset nor count: a 5xx streak interrupted by 400s still opens the breaker', async () => {
    // Failures 1-2 (one request, retried), a refusal, then failure 3 opens it.
    h.fake.respondWith([{ status: 500 }, { status: 500 }, { status: 400 }, { status: 500 }]);
    assert.equal((await generate('claude-sonnet-4.5')).status, 500);
    assert.equal((await generate('claude-sonnet-4.5')).status, 400);
    const third = await generate('claude-sonnet-4.5');
    assert.equal(third.status, 503, third.text);
    assert.equal(h.fake.requests.length, 4);
  });
});

// Strings an upstream's error may carry that must never reach a client.
const INTERNAL = 'failed calling http://10.0.0.7:8443/internal/v1 (config /var/lib/app/config.yaml) with key sk-proj-abcd1234efgh5678 for org-XYZ123456';
const HTML = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx/1.25.3 at 10.0.0.7:8443</center></body></html>';
const FORBIDDEN = ['10.0.0.7', '8443', '/internal/v1', '/var/lib', 'config.yaml', 'abcd1234', 'efgh5678', 'sk-proj', 'wxyz9876', 'XYZ123456', '<html', 'nginx'];
const PROMPT = 'PROMPT-NEVER-LOGGED-5e1f';

function assertNoLeak(what: string, text: string): void {
  for (const s of FORBIDDEN) assert.ok(!text.includes(s), `${what} leaks "${s}": ${text}`);
}

describe('upstream failures: what clients may read, what the operator sees (23)', () => {
  let h: Harness;
  let log: ReturnType<typeof memoryLogger>;
  let acct: { id: number; key: string };
  before(async () => {
    log = memoryLogger();
    h = await startHarness({
      logger: log.logger,
      // A large breaker threshold: this block is about text, not about routes going offline.
      catalog: { retries: { attempts: 1, backoff_ms: 5 }, circuit_breaker: { failures: 1_000, cooldown_ms: 1_000 } },
    });
    acct = await h.account({ plan: 'elite', tokens: 100_000 });
  });
  after(() => h.close());
  beforeEach(() => {
    h.fake.requests.length = 0;
  });

  const cases: { name: string; script: FakeScript; status: number }[] = [
    { name: '400 with a JSON error naming internals', script: { status: 400, errorBody: JSON.stringify({ error: { message: INTERNAL } }) }, status: 400 },
    { name: '422 with a plain-text body naming internals', script: { status: 422, errorBody: INTERNAL }, status: 400 },
    { name: '500 with a JSON error naming internals', script: { status: 500, errorBody: JSON.stringify({ error: { message: INTERNAL } }) }, status: 500 },
    { name: "502 with a proxy's HTML page", script: { status: 502, errorBody: HTML }, status: 500 },
    {
      name: '401 naming a key fragment and the org',
      script: { status: 401, errorBody: JSON.stringify({ error: { message: `Incorrect API key provided: sk-proj-********************wxyz9876. ${INTERNAL}` } }) },
      status: 503,
    },
    { name: '429 naming the org', script: { status: 429, errorBody: JSON.stringify({ error: { message: `Rate limit reached for org-XYZ123456: ${INTERNAL}` } }) }, status: 503 },
  ];

  for (const c of cases) {
    it(`${c.name}: /api/v2, the stored generation and /v1 say nothing internal; the log has it all`, async () => {
      h.fake.respondWith(c.script);
      const r = await h.post('/api/v2/generate', { model: 'gpt-5', prompt: PROMPT }, acct.key);
      assert.equal(r.status, c.status, r.text);
      assertNoLeak('the JSON error', r.text);
      const id = r.json.details.generation_id;
      const stored = await h.get(`/api/v2/generate/${id}`, acct.key);
      assert.equal(stored.json.status, 'failed');
      assert.ok(stored.json.error, 'the stored error says something');
      assertNoLeak('the stored generation', stored.text);

      const s = await h.post('/api/v2/generate/stream', { model: 'gpt-5', prompt: PROMPT }, acct.key);
      assert.equal(s.status, c.status);
      assertNoLeak('the stream endpoint error', s.text);

      const v1 = await h.post('/v1/chat/completions', { model: 'gpt-5', messages: [{ role: 'user', content: PROMPT }] }, acct.key);
      assert.equal(v1.status, c.status, v1.text);
      assert.equal(typeof v1.json.error.message, 'string');
      assertNoLeak('the /v1 error', v1.text);

      // One operator line per upstream attempt, with the full reason, route, status, latency, id.
      const attempts = h.fake.requests.filter((q) => q.body?.messages?.[0]?.content === PROMPT).length;
      const mine = log.lines.filter((l) => l.generation_id === id && l.upstream_status !== undefined);
      const perRequest = attempts / 3;
      assert.equal(mine.length, perRequest, `one log line per upstream failure: ${JSON.stringify(mine)}`);
      for (const l of mine) {
        assert.equal(l.route, 'openai:gpt-5');
        assert.equal(l.upstream_status, c.script.status);
        assert.equal(typeof l.latency_ms, 'number');
        assert.ok(l.level >= 40, 'warn or error');
      }
      assert.ok(
        mine.some((l) => /10\.0\.0\.7|nginx/.test(String(l.error))),
        'the operator sees the unsanitised reason',
      );
      assert.ok(!log.raw.some((l) => l.includes(PROMPT)), 'the prompt is never logged');
    });
  }

  it('an in-stream error event naming internals: the SSE error event, the stored generation and /v1 chunks say nothing internal', async () => {
    const failing: FakeScript = { chunks: ['partial'], raw: `data: ${JSON.stringify({ error: { message: INTERNAL, type: 'server_error' } })}\n\n`, ending: 'stall' };
    h.fake.respondWith(failing);
    const r = await h.post('/api/v2/generate/stream', { model: 'gpt-5', prompt: PROMPT }, acct.key);
    const events = sseEvents(r.text);
    assert.deepEqual(
      events.map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'error', '[DONE]'],
    );
    assert.match(JSON.stringify(events[2]), /upstream stream failed/);
    assertNoLeak('the SSE error event', r.text);
    const id = Number(r.headers.get('x-generation-id'));
    const stored = await h.get(`/api/v2/generate/${id}`, acct.key);
    assert.equal(stored.json.status, 'failed');
    assertNoLeak('the stored generation', stored.text);
    const line = log.lines.find((l) => l.generation_id === id && l.route === 'openai:gpt-5');
    assert.ok(line && typeof line.latency_ms === 'number' && String(line.error).includes('10.0.0.7'), JSON.stringify(line));

    h.fake.respondWith(failing);
    const v1 = await h.post('/v1/chat/completions', { model: 'gpt-5', stream: true, messages: [{ role: 'user', content: PROMPT }] }, acct.key);
    assert.match(v1.text, /error/);
    assertNoLeak('the /v1 stream error', v1.text);
    assert.ok(!log.raw.some((l) => l.includes(PROMPT)), 'the prompt is never logged');
  });
});
