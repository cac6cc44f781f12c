// Behaviour every streaming provider module must show against its fake upstream: ordered deltas,
// usage, HTTP errors before the stream, in-stream errors, resets, truncation and abort.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ProviderError, type Message, type Provider, type ProviderRequest, type StreamPart, type ToolCall } from '../../src/providers/spec.js';
import type { FakeUpstream } from './fake-upstream.js';

export interface Drained {
  deltas: string[];
  reasoning: string[];
  toolCalls: ToolCall[];
  /** Every part in order, for tests of the part sequence. */
  parts: StreamPart[];
  finish: Extract<StreamPart, { type: 'finish' }> | undefined;
  error: unknown;
}

/** Reads every part; a thrown error is captured with the parts that came before it. */
export async function drain(parts: AsyncIterable<StreamPart>): Promise<Drained> {
  const out: Drained = { deltas: [], reasoning: [], toolCalls: [], parts: [], finish: undefined, error: undefined };
  try {
    for await (const p of parts) {
      out.parts.push(p);
      if (p.type === 'text-delta') out.deltas.push(p.delta);
      else if (p.type === 'reasoning-delta') out.reasoning.push(p.delta);
      else if (p.type === 'tool-call') out.toolCalls.push({ id: p.id, name: p.name, arguments: p.arguments });
      else if (p.type === 'finish') out.finish = p;
    }
  } catch (err) {
    out.error = err;
  }
  return out;
}

/** A message as tests write it: user content may be a plain string. */
export type LooseMessage = Message | { role: 'user'; content: string };

export function request(overrides: Partial<Omit<ProviderRequest, 'messages'>> & { messages?: LooseMessage[] } = {}): ProviderRequest {
  const { messages = [{ role: 'user', content: 'Say hi' }], ...rest } = overrides;
  return {
    upstreamModel: 'test-model',
    signal: new AbortController().signal,
    ...rest,
    messages: messages.map((m): Message => (m.role === 'user' && typeof m.content === 'string' ? { role: 'user', content: [{ type: 'text', text: m.content }] } : (m as Message))),
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
      const got = await drain(stream.parts);
      assert.equal(got.error, undefined);
      assert.deepEqual(got.deltas, chunks);
      assert.equal(got.finish?.finishReason, 'stop');
      const u = got.finish?.usage;
      assert.deepEqual({ input_tokens: u?.input_tokens, output_tokens: u?.output_tokens, total_tokens: u?.total_tokens }, { input_tokens: 21, output_tokens: 9, total_tokens: 30 });
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
      const got = await drain((await provider.open(request())).parts);
      assert.deepEqual(got.deltas, ['one', 'two']);
      assert.equal(got.finish, undefined);
      assert.ok(got.error instanceof ProviderError, String(got.error));
      assert.equal(got.error.retryable, true);
    });

    it('throws a ProviderError, never a clean finish, when the connection resets mid-stream', async () => {
      fake.respondWith({ chunks: ['partial'], delayMs: 10, ending: 'reset' });
      const got = await drain((await provider.open(request())).parts);
      assert.deepEqual(got.deltas, ['partial']);
      assert.equal(got.finish, undefined);
      assert.ok(got.error instanceof ProviderError, String(got.error));
      assert.equal(got.error.retryable, true);
    });

    it('throws a ProviderError when the stream ends without its terminal event', async () => {
      fake.respondWith({ chunks: ['cut', ' short'], ending: 'truncate' });
      const got = await drain((await provider.open(request())).parts);
      assert.deepEqual(got.deltas, ['cut', ' short']);
      assert.equal(got.finish, undefined);
      assert.ok(got.error instanceof ProviderError, String(got.error));
    });

    it('closes the upstream connection on an abort, and does not finish', async () => {
      fake.respondWith({ chunks: ['first'], ending: 'stall' });
      const controller = new AbortController();
      const stream = await provider.open(request({ signal: controller.signal }));
      const iterator = stream.parts[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.deepEqual(first.value, { type: 'text-delta', delta: 'first' });
      const upstream = fake.requests.at(-1)!;
      assert.equal(upstream.closedAt, undefined, 'connection open while stalled');
      // Settle-handlers attached now: the rejection lands before we look at it.
      const pending = iterator.next().then(
        (r) => ({ resolved: r }),
        (err: unknown) => ({ rejected: err }),
      );
      // The upstream stalls forever: only the abort can close its connection (an event, not a
      // measured delay; the ceiling only turns a hang into a failure).
      controller.abort(new Error('client left'));
      await within(upstream.closed, 20_000, 'upstream connection still open');
      const outcome = await pending;
      assert.ok('rejected' in outcome, `expected a rejection, got ${JSON.stringify(outcome)}`);
    });

    it('closes the upstream connection when aborted before the first byte of the body', async () => {
      // The first chunk is held for the whole test: only the abort can close the connection.
      let release!: () => void;
      fake.respondWith({ chunks: ['late'], holdAfter: { writes: 0, until: new Promise<void>((r) => (release = r)) } });
      const controller = new AbortController();
      const arrived = fake.nextRequest();
      const opening = provider
        .open(request({ signal: controller.signal }))
        .then((s) => drain(s.parts))
        .then(
          (d) => d.error ?? d.finish,
          (err: unknown) => err,
        );
      const upstream = await arrived;
      controller.abort(new Error('timeout'));
      await within(upstream.closed, 20_000, 'upstream connection still open').finally(release);
      const outcome = await opening;
      assert.ok(outcome instanceof Error, `expected an error, got ${JSON.stringify(outcome)}`);
    });
  });
}
