import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeUpstream } from '../../test/support/fake-openai.js';
import { drain, providerConformance, request, within } from '../../test/support/provider-conformance.js';
import { openAICompatibleProvider } from './openai-compatible.js';
import { ProviderError } from './spec.js';

const make = (fake: FakeUpstream, apiKey = 'sk-test') => openAICompatibleProvider('openai', { type: 'openai-compatible', base_url: `${fake.origin}/v1`, ...(apiKey ? { api_key: apiKey } : {}) });

providerConformance({ name: 'openai-compatible', startFake: startFakeOpenAI, makeProvider: (f) => make(f), overloadStatus: 503 });

describe('openai-compatible: request on the wire', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeOpenAI()));
  after(() => fake.close());

  it('posts Chat Completions with Bearer auth, model, messages, temperature, max_tokens and stream_options.include_usage', async () => {
    const stream = await make(fake).open(
      request({
        upstreamModel: 'gpt-5-nano',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'Again' },
        ],
        temperature: 0.5,
        maxTokens: 33,
      }),
    );
    const drained = await drain(stream.parts);
    const got = fake.requests.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/v1/chat/completions');
    assert.equal(got.headers.authorization, 'Bearer sk-test');
    assert.equal(got.body.model, 'gpt-5-nano');
    assert.equal(got.body.stream, true);
    assert.deepEqual(got.body.stream_options, { include_usage: true });
    assert.deepEqual(got.body.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'Again' },
    ]);
    assert.equal(got.body.temperature, 0.5);
    assert.equal(got.body.max_tokens, 33);
    // Usage only exists because include_usage was sent: the fake sends none otherwise.
    assert.deepEqual(drained.finish?.usage, { input_tokens: 12, output_tokens: 7, total_tokens: 19, reasoning_tokens: 0, cached_input_tokens: 0 });
  });

  it('sends no Authorization header for keyless local servers (ollama, vllm, llama.cpp)', async () => {
    await drain((await make(fake, '').open(request())).parts);
    assert.equal(fake.requests.at(-1)!.headers.authorization, undefined);
  });

  it('sends extra configured headers', async () => {
    const provider = openAICompatibleProvider('openrouter', { type: 'openai-compatible', base_url: `${fake.origin}/v1`, api_key: 'k', headers: { 'HTTP-Referer': 'https://example.test' } });
    await drain((await provider.open(request())).parts);
    assert.equal(fake.requests.at(-1)!.headers['http-referer'], 'https://example.test');
  });

  it('reuses keep-alive upstream connections instead of opening one per stream', async () => {
    const provider = make(fake);
    const before = fake.requests.length;
    for (let i = 0; i < 5; i++) assert.equal((await drain((await provider.open(request())).parts)).error, undefined);
    const ports = fake.requests.slice(before).map((r) => r.clientPort);
    assert.equal(ports.length, 5);
    // undici frees a socket a moment after the body ends, so the next request may take a second
    // one; a connection per request (no pool, or a closed socket) would show five ports.
    assert.ok(new Set(ports).size <= 2, `connections reused, got client ports ${ports.join(', ')}`);
    await provider.close?.();
  });

  it('treats a redirect as a refusal (undici follows none), not as an empty stream', async () => {
    fake.respondWith({ status: 307 });
    await assert.rejects(make(fake).open(request()), (err: unknown) => {
      assert.ok(err instanceof ProviderError, String(err));
      assert.equal(err.status, 307);
      assert.equal(err.retryable, false);
      return true;
    });
  });

  it('carries the message of an HTTP error body', async () => {
    fake.respondWith({ status: 429 });
    await assert.rejects(make(fake).open(request()), /Rate limit reached/);
  });
});

describe('openai-compatible: reading the stream', () => {
  it('events cut anywhere between network reads (inside a line, inside a UTF-8 character) come out whole and in order', async () => {
    const deltas = ['Привет', ', 🌍', '!'];
    const chunk = (delta: object, finish: string | null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const body = Buffer.from(`${deltas.map((d) => chunk({ content: d }, null)).join('')}${chunk({}, 'stop')}data: [DONE]\n\n`);
    // Three bytes per write, each in a tick of its own: the Cyrillic letters (2 bytes) and the
    // emoji (4) are cut between writes, as are the `data:` lines and the blank lines.
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        void (async () => {
          for (let i = 0; i < body.length; i += 3) {
            res.write(body.subarray(i, i + 3));
            await new Promise((r) => setImmediate(r));
          }
          res.end();
        })();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const provider = openAICompatibleProvider('openai', { type: 'openai-compatible', base_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` });
      const got = await drain((await provider.open(request())).parts);
      assert.equal(got.error, undefined);
      assert.deepEqual(got.deltas, deltas);
      assert.equal(got.finish?.finishReason, 'stop');
      await provider.close?.();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('a reader that stops early (a for-await loop left) closes the upstream connection', async () => {
    const fake = await startFakeOpenAI();
    try {
      // The upstream stalls after its words: only the gateway can close the connection.
      fake.respondWith({ chunks: ['first', 'second'], ending: 'stall' });
      const stream = await make(fake).open(request());
      for await (const part of stream.parts) {
        assert.deepEqual(part, { type: 'text-delta', delta: 'first' });
        break;
      }
      await within(fake.requests.at(-1)!.closed, 20_000, 'upstream connection still open');
    } finally {
      await fake.close();
    }
  });
});
