// Behaviour every streaming provider module must show against its fake upstream: ordered deltas,
// usage, HTTP errors before the stream, in-stream errors, resets, truncation and abort.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { ProviderError, type Provider, type ProviderEvent, type ProviderRequest } from '../../src/providers/types.js';
import type { FakeUpstream } from './fake-upstream.js';

export interface Drained {
  deltas: string[];
  finish: Extract<ProviderEvent, { type: 'finish' }> | undefined;
  error: unknown;
}

/** Reads every event; a thrown error is captured with the deltas that came before it. */
export async function drain(events: AsyncIterable<ProviderEvent>): Promise<Drained> {
  const out: Drained = { deltas: [], finish: undefined, error: undefined };
  try {
    for await (const ev of events) {
      if (ev.type === 'delta') out.deltas.push(ev.text);
      else out.finish = ev;
    }
  } catch (err) {
    out.error = err;
  }
  return out;
}

export function request(overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    upstreamModel: 'test-model',
    messages: [{ role: 'user', content: 'Say hi' }],
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Fails (instead of hanging the run) when the promise does not settle in time. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} after ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface ConformanceTarget {
  name: string;
  startFake(): Promise<FakeUpstream>;
  makeProvider(fake: FakeUpstream): Provider;
  /** HTTP statuses the provider really uses for "overloaded / unavailable". */
  overloadStatus: number;
}

export function providerConformance(target: ConformanceTarget): void {
  describe(`${target.name}: streaming conformance`, () => {
    let fake: FakeUpstream;
    let provider: Provider;
    before(async () => {
      fake = await target.startFake();
      provider = target.makeProvider(fake);
    });
    after(() => fake.close());

    it('streams text deltas in order, including Cyrillic and emoji, then finishes with usage', async () => {
      const chunks = ['Привет', ', мир', ' 👋🏽', ' — done'];
      fake.respondWith({ chunks, usage: { input: 21, output: 9 } });
      const stream = await provider.open(request());
      const got = await drain(stream.events);
      assert.equal(got.error, undefined);
      assert.deepEqual(got.deltas, chunks);
      assert.equal(got.finish?.finishReason, 'stop');
      assert.deepEqual(got.finish?.usage, { input_tokens: 21, output_tokens: 9, total_tokens: 30 });
    });

    for (const status of [429, 500, target.overloadStatus]) {
      it(`rejects open() with a retryable ProviderError on HTTP ${status} before the stream`, async () => {
        fake.respondWith({ status });
        await assert.rejects(provider.open(request()), (err: unknown) => {
          assert.ok(err instanceof ProviderError, String(err));
          assert.equal(err.status, status);
          assert.equal(err.retryable, true);
          return true;
        });
      });
    }

    it('rejects open() with a non-retryable ProviderError on HTTP 400', async () => {
      fake.respondWith({ status: 400 });
      await assert.rejects(provider.open(request()), (err: unknown) => {
        assert.ok(err instanceof ProviderError, String(err));
        assert.equal(err.status, 400);
        assert.equal(err.retryable, false);
        return true;
      });
    });

    it('throws a ProviderError from the events after the earlier deltas on an in-stream error', async () => {
      fake.respondWith({ chunks: ['one', 'two'], ending: 'error-event' });
      const got = await drain((await provider.open(request())).events);
      assert.deepEqual(got.deltas, ['one', 'two']);
      assert.equal(got.finish, undefined);
      assert.ok(got.error instanceof ProviderError, String(got.error));
      assert.equal(got.error.retryable, true);
    });

    it('throws a ProviderError, never a clean finish, when the connection resets mid-stream', async () => {
      fake.respondWith({ chunks: ['partial'], delayMs: 10, ending: 'reset' });
      const got = await drain((await provider.open(request())).events);
      assert.deepEqual(got.deltas, ['partial']);
      assert.equal(got.finish, undefined);
      assert.ok(got.error instanceof ProviderError, String(got.error));
      assert.equal(got.error.retryable, true);
    });

    it('throws a ProviderError when the stream ends without its terminal event', async () => {
      fake.respondWith({ chunks: ['cut', ' short'], ending: 'truncate' });
      const got = await drain((await provider.open(request())).events);
      assert.deepEqual(got.deltas, ['cut', ' short']);
      assert.equal(got.finish, undefined);
      assert.ok(got.error instanceof ProviderError, String(got.error));
    });

    it('closes the upstream connection within 100 ms of an abort, and does not finish', async () => {
      fake.respondWith({ chunks: ['first'], ending: 'stall' });
      const controller = new AbortController();
      const stream = await provider.open(request({ signal: controller.signal }));
      const iterator = stream.events[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.deepEqual(first.value, { type: 'delta', text: 'first' });
      const upstream = fake.requests.at(-1)!;
      assert.equal(upstream.closedAt, undefined, 'connection open while stalled');
      // Settle-handlers attached now: the rejection lands before we look at it.
      const pending = iterator.next().then((r) => ({ resolved: r }), (err: unknown) => ({ rejected: err }));
      const abortedAt = performance.now();
      controller.abort(new Error('client left'));
      const closedAt = await within(upstream.closed, 2000, 'upstream connection still open');
      assert.ok(closedAt - abortedAt < 100, `closed ${Math.round(closedAt - abortedAt)} ms after abort`);
      const outcome = await pending;
      assert.ok('rejected' in outcome, `expected a rejection, got ${JSON.stringify(outcome)}`);
    });

    it('closes the upstream connection when aborted before the first byte of the body', async () => {
      fake.respondWith({ chunks: ['late'], delayMs: 10_000 });
      const controller = new AbortController();
      const seen = fake.requests.length;
      const opening = provider
        .open(request({ signal: controller.signal }))
        .then((s) => drain(s.events))
        .then((d) => d.error ?? d.finish, (err: unknown) => err);
      while (fake.requests.length === seen) await new Promise((r) => setTimeout(r, 5));
      const upstream = fake.requests[seen]!;
      const abortedAt = performance.now();
      controller.abort(new Error('timeout'));
      const closedAt = await within(upstream.closed, 2000, 'upstream connection still open');
      assert.ok(closedAt - abortedAt < 100, `closed ${Math.round(closedAt - abortedAt)} ms after abort`);
      const outcome = await opening;
      assert.ok(outcome instanceof Error, `expected an error, got ${JSON.stringify(outcome)}`);
    });
  });
}
