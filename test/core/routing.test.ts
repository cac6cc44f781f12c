// Routes: retries with backoff on 429/5xx, fallback to the next route before the first delta,
// circuit breakers that skip a failing route and bring it back, per-model timeouts.
import { after, before, beforeEach, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sseEvents, startHarness, type Harness } from '../support/harness.js';
import { startFakeOpenAI, type FakeUpstream } from '../support/fake-openai.js';
import { openFirstRoute, RouteHealth } from '../../src/generation/routing.js';
import { ProviderError, type Provider, type StreamPart } from '../../src/providers/spec.js';
import { Cancellation } from '../../src/core/cancel.js';

describe('routing', () => {
  let h: Harness;
  let second: FakeUpstream;
  let acct: { id: number; key: string };
  before(async () => {
    second = await startFakeOpenAI();
    h = await startHarness({
      env: { OPENROUTER_API_KEY: 'sk-or-fake', OPENROUTER_BASE_URL: `${second.origin}/v1` },
      catalog: {
        retries: { attempts: 1, backoff_ms: 20 },
        circuit_breaker: { failures: 2, cooldown_ms: 400 },
        models: [
          {
            slug: 'gpt-5',
            routes: [
              { provider: 'openai', model: 'gpt-5' },
              { provider: 'openrouter', model: 'openai/gpt-5' },
            ],
            timeouts: { first_token_ms: 2000, chunk_gap_ms: 2000, total_ms: 20_000 },
          },
          // One model per test below: circuit breakers are per route, and shared by all requests.
          ...['gpt-5.2', 'deepseek-r1', 'claude-opus-4.5', 'gpt-5.2-pro'].map((slug) => ({
            slug,
            routes: [
              { provider: 'openai', model: slug },
              { provider: 'openrouter', model: `openai/${slug}` },
            ],
          })),
          { slug: 'gpt-5-nano', timeouts: { total_ms: 250, chunk_gap_ms: 1000, first_token_ms: 1000 } },
        ],
      },
    });
    acct = await h.account({ plan: 'elite', tokens: 1000 });
  });
  after(async () => {
    await h.close();
    await second.close();
  });
  beforeEach(() => {
    h.fake.respondWith({});
    second.respondWith({});
    h.fake.requests.length = 0;
    second.requests.length = 0;
  });
  const generate = (model: string, stream = false) => h.post(stream ? '/api/v2/generate/stream' : '/api/v2/generate', { model, prompt: 'x' }, acct.key);

  it('429 is retried on the same route with backoff, then succeeds there', async () => {
    h.fake.respondWith([{ status: 429 }, { chunks: ['after retry'] }]);
    const r = await generate('gpt-5.2');
    assert.equal(r.status, 200);
    assert.equal(r.json.result_text, 'after retry');
    // The same request twice on route 1 (the wait between them is proven with a mocked clock in
    // 'the retry is sent when the backoff timer fires, not before' below, not measured here).
    assert.deepEqual(
      h.fake.requests.map((q) => [q.path, q.body.model, JSON.stringify(q.body.messages)]),
      [
        ['/v1/chat/completions', 'gpt-5.2', JSON.stringify(h.fake.requests[0]!.body.messages)],
        ['/v1/chat/completions', 'gpt-5.2', JSON.stringify(h.fake.requests[0]!.body.messages)],
      ],
    );
    assert.equal(second.requests.length, 0);
  });

  /**
   * openFirstRoute on its own, with a provider that fails once with `first`, then streams. The
   * timers are mocked: the test decides when time passes, so the order is exact on a busy machine
   * too. Checks that no retry is sent before `waitMs` has passed, and that one is sent when it has.
   */
  async function retryWaits(t: TestContext, first: ProviderError, waitMs: number): Promise<void> {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const calls: string[] = [];
    const failures: unknown[] = [];
    const provider: Provider = {
      id: 'openai',
      async open(req) {
        calls.push(req.upstreamModel);
        if (calls.length === 1) throw first;
        return {
          parts: (async function* () {
            yield { type: 'text-delta' as const, delta: 'ok' };
          })(),
        };
      },
    };
    const route = { provider, upstreamModel: 'gpt-5.2', name: 'openai:gpt-5.2' };
    const health = new RouteHealth({ retries: { attempts: 2, backoff_ms: 20 }, circuit_breaker: { failures: 5, cooldown_ms: 1000 } });
    const flush = () => new Promise((r) => setImmediate(r));
    const opened = openFirstRoute(
      [route],
      { messages: [] },
      {
        cancel: new Cancellation(),
        timeouts: { first_token_ms: 60_000, chunk_gap_ms: 60_000, total_ms: 60_000 },
        health,
        onAccepted: () => {},
        onAttemptFailed: (_r, err) => failures.push(err),
      },
    );
    for (let i = 0; i < 100 && failures.length === 0; i++) await flush();
    assert.deepEqual(failures, [first], 'the first try failed');
    for (let i = 0; i < 5; i++) await flush();
    assert.deepEqual(calls, ['gpt-5.2'], 'no retry while the wait has not elapsed');
    t.mock.timers.tick(waitMs - 1);
    for (let i = 0; i < 5; i++) await flush();
    assert.deepEqual(calls, ['gpt-5.2'], 'still waiting 1 ms before the wait ends');
    t.mock.timers.tick(1);
    const stream = await opened;
    assert.deepEqual(calls, ['gpt-5.2', 'gpt-5.2'], 'retried on the same route once the wait elapsed');
    assert.deepEqual(stream.first, { type: 'text-delta', delta: 'ok' });
    stream.close();
  }

  it('the retry is sent when the backoff timer fires, not before (mocked clock)', (t) => retryWaits(t, new ProviderError('rate limited', { status: 429 }), 20));

  it('Retry-After: the retry is sent when that many seconds have passed, not before (mocked clock)', (t) => retryWaits(t, new ProviderError('rate limited', { status: 429, retryAfter: 1 }), 1000));

  /**
   * openFirstRoute on its own, with a provider that yields `parts` and then waits forever (an
   * upstream still streaming): reads them all, closes the stream, and gives the provider call's signal.
   */
  async function closedAfter(parts: StreamPart[]): Promise<AbortSignal> {
    let signal: AbortSignal | undefined;
    const provider: Provider = {
      id: 'openai',
      async open(req) {
        signal = req.signal;
        return {
          parts: (async function* () {
            yield* parts;
            await new Promise(() => {});
          })(),
        };
      },
    };
    const stream = await openFirstRoute(
      [{ provider, upstreamModel: 'gpt-5.2', name: 'openai:gpt-5.2' }],
      { messages: [] },
      {
        cancel: new Cancellation(),
        timeouts: { first_token_ms: 60_000, chunk_gap_ms: 60_000, total_ms: 60_000 },
        health: new RouteHealth({ retries: { attempts: 0, backoff_ms: 20 }, circuit_breaker: { failures: 5, cooldown_ms: 1000 } }),
        onAccepted: () => {},
      },
    );
    const read = [stream.first];
    while (read.length < parts.length) read.push((await stream.next())!);
    assert.deepEqual(read, parts);
    assert.equal(signal!.aborted, false, 'not aborted while the stream is read');
    stream.close();
    return signal!;
  }

  it('a stream left before its finish part has its upstream call aborted; one that finished does not', async () => {
    // An error part, or a failure in the sink, ends the generation with the upstream still streaming:
    // its connection is closed, not left open and unread.
    const left = await closedAfter([
      { type: 'text-delta', delta: 'a' },
      { type: 'error', error: new Error('mid-stream') },
    ]);
    assert.equal(left.aborted, true);
    assert.ok(left.reason instanceof ProviderError);
    // After the finish part the provider's call is over (its connection may be draining for reuse): left alone.
    const finished = await closedAfter([
      { type: 'text-delta', delta: 'a' },
      { type: 'finish', finishReason: 'stop', usage: null },
    ]);
    assert.equal(finished.aborted, false);
  });

  it('5xx that persists: retries, then the next route serves it', async () => {
    h.fake.respondWith({ status: 503 });
    second.respondWith({ chunks: ['from route 2'] });
    const r = await generate('deepseek-r1');
    assert.equal(r.status, 200);
    assert.equal(r.json.result_text, 'from route 2');
    assert.equal(h.fake.requests.length, 2, 'first try + 1 retry');
    assert.equal(second.requests[0]!.body.model, 'openai/deepseek-r1');
  });

  it('a non-retryable 400 goes straight to the next route', async () => {
    h.fake.respondWith({ status: 400 });
    second.respondWith({ chunks: ['ok'] });
    const r = await generate('claude-opus-4.5');
    assert.equal(r.status, 200);
    assert.equal(h.fake.requests.length, 1);
  });

  it('no first token within the per-model timeout: the next route serves it', async () => {
    // Route 1 holds its first chunk until the test is over: only the first-token timeout (2 s,
    // room for route 2 to answer on a busy machine) can end it.
    let release!: () => void;
    h.fake.respondWith({ chunks: ['too late'], holdAfter: { writes: 0, until: new Promise<void>((r) => (release = r)) } });
    second.respondWith({ chunks: ['fast'] });
    const r = await generate('gpt-5', true).finally(() => release());
    const events = sseEvents(r.text);
    assert.deepEqual(
      events.map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'generation_end', '[DONE]'],
    );
    assert.equal(events[1].delta, 'fast');
    assert.ok(h.fake.requests[0]!.closedAt !== undefined, 'the slow upstream was closed');
  });

  it('after the first delta there is no fallback: an error event, route 2 untouched, 0 charged', async () => {
    const before = await h.balance(acct.id);
    h.fake.respondWith({ chunks: ['partial'], ending: 'reset', delayMs: 20 });
    const r = await generate('gpt-5', true);
    assert.deepEqual(
      sseEvents(r.text).map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'error', '[DONE]'],
    );
    assert.equal(second.requests.length, 0);
    assert.equal(await h.balance(acct.id), before);
  });

  it('total timeout ends a slow generation as a provider failure', async () => {
    h.fake.respondWith({ chunks: ['a', 'b', 'c', 'd', 'e'], delayMs: 100 });
    const r = await generate('gpt-5-nano');
    assert.equal(r.status, 500);
    assert.equal(r.json.error, 'provider_error');
    assert.match(r.json.message, /total time over 250 ms/);
  });

  it('circuit breaker: a route failing repeatedly is skipped, then comes back by itself', async (t) => {
    // The cooldown is the product's own clock: cockatiel times it with Date.now. That clock is mocked
    // (Date only: timers and I/O stay real), so it stands still however slow the machine is, and the
    // test moves it past the cooldown instead of waiting for it.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    h.fake.respondWith({ status: 500 });
    second.respondWith({ chunks: ['backup'] });
    assert.equal((await generate('gpt-5.2-pro')).status, 200); // 2 failures on route 1 -> breaker opens
    assert.equal(h.fake.requests.length, 2);
    assert.equal((await generate('gpt-5.2-pro')).json.result_text, 'backup');
    assert.equal(h.fake.requests.length, 2, 'route 1 was skipped while its breaker is open');
    t.mock.timers.tick(401); // past the cooldown (400 ms)
    h.fake.respondWith({ chunks: ['route 1 is back'] });
    const r = await generate('gpt-5.2-pro');
    assert.equal(r.json.result_text, 'route 1 is back');
    assert.equal(h.fake.requests.length, 3, 'half-open trial went to route 1');
  });
});
