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

  it('sends each assistant message with the results of its own calls right after it, where text followed the calls as a message of its own', async () => {
    const call = (id: string, city: string) => ({ id, name: 'get_weather', arguments: `{"city":"${city}"}` });
    const wireCall = (id: string, city: string) => ({ id, type: 'function', function: { name: 'get_weather', arguments: `{"city":"${city}"}` } });
    await drain(
      (
        await make(fake).open(
          request({
            messages: [
              { role: 'user', content: 'Weather?' },
              { role: 'assistant', content: 'Checking Oslo.', toolCalls: [call('call_O', 'Oslo')] },
              { role: 'assistant', content: 'And Paris.', toolCalls: [call('call_P', 'Paris')] },
              { role: 'assistant', content: 'One moment.' },
              { role: 'tool', toolCallId: 'call_P', content: 'rain' },
              { role: 'tool', toolCallId: 'call_O', content: 'sun' },
            ],
          }),
        )
      ).parts,
    );
    assert.deepEqual(fake.requests.at(-1)!.body.messages, [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: 'Checking Oslo.', tool_calls: [wireCall('call_O', 'Oslo')] },
      { role: 'tool', tool_call_id: 'call_O', content: 'sun' },
      { role: 'assistant', content: 'And Paris.', tool_calls: [wireCall('call_P', 'Paris')] },
      { role: 'tool', tool_call_id: 'call_P', content: 'rain' },
      { role: 'assistant', content: 'One moment.' },
    ]);
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

/** An upstream that answers every request with `writes`, each in a tick of its own; the drained parts of one stream from it. */
async function readRaw(writes: (string | Buffer)[]): Promise<Awaited<ReturnType<typeof drain>>> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      void (async () => {
        for (const w of writes) {
          res.write(w);
          await new Promise((r) => setImmediate(r));
        }
        res.end();
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const provider = openAICompatibleProvider('openai', { type: 'openai-compatible', base_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` });
  try {
    return await drain((await provider.open(request())).parts);
  } finally {
    await provider.close?.();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const chunkJson = (delta: object, finish: string | null = null) => JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] });

describe('openai-compatible: reading the stream', () => {
  it('events cut anywhere between network reads (inside a line, inside a UTF-8 character) come out whole and in order', async () => {
    const deltas = ['Привет', ', 🌍', '!'];
    const body = Buffer.from(`${deltas.map((d) => `data: ${chunkJson({ content: d })}\n\n`).join('')}data: ${chunkJson({}, 'stop')}\n\ndata: [DONE]\n\n`);
    // Three bytes per write: the Cyrillic letters (2 bytes) and the emoji (4) are cut between
    // writes, as are the `data:` lines and the blank lines.
    const writes: Buffer[] = [];
    for (let i = 0; i < body.length; i += 3) writes.push(body.subarray(i, i + 3));
    const got = await readRaw(writes);
    assert.equal(got.error, undefined);
    assert.deepEqual(got.deltas, deltas);
    assert.equal(got.finish?.finishReason, 'stop');
  });

  it('every SSE form an upstream may write: CRLF and CR line ends, comments, id and event fields, data without a space, data over two lines, several events in one write', async () => {
    const got = await readRaw([
      `data: ${chunkJson({ content: 'a' })}\r\n\r\n`,
      `: keep-alive comment\n\ndata:${chunkJson({ content: 'b' })}\n\n`,
      `id: 7\nevent: message\ndata: ${chunkJson({ content: 'c' })}\n\n`,
      `data: ${chunkJson({ content: 'd' })}\r\rdata: {"choices":\ndata: [{"index":0,"delta":{"content":"e"},"finish_reason":null}]}\n\n`,
      `data: ${chunkJson({ content: 'f' })}\n\ndata: ${chunkJson({ content: 'g' })}\n\n`,
      `data: ${chunkJson({}, 'stop')}\n\n`,
      'data: [DONE]\n\n',
    ]);
    assert.equal(got.error, undefined);
    assert.deepEqual(got.deltas, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    assert.equal(got.finish?.finishReason, 'stop');
  });

  it('a named error event after words fails the stream after them', async () => {
    const got = await readRaw([`data: ${chunkJson({ content: 'so far' })}\n\n`, 'event: error\ndata: {"message":"overloaded"}\n\n']);
    assert.deepEqual(got.deltas, ['so far']);
    assert.ok(got.error instanceof ProviderError, String(got.error));
    assert.match(got.error.message, /overloaded/);
  });

  it('a second read while one is waiting is refused, not left unanswered; the first gets its part', async () => {
    const fake = await startFakeOpenAI();
    try {
      // The first chunk is held until both reads are made.
      let release!: () => void;
      fake.respondWith({ chunks: ['only'], holdAfter: { writes: 0, until: new Promise<void>((r) => (release = r)) } });
      const iterator = (await make(fake).open(request())).parts[Symbol.asyncIterator]();
      const first = iterator.next();
      await assert.rejects(iterator.next(), /already waiting/);
      release();
      assert.deepEqual((await first).value, { type: 'text-delta', delta: 'only' });
    } finally {
      await fake.close();
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
