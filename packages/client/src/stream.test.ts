// client.stream() against a real HTTP server on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LumengateClient } from './client.js';
import { LumengateError, LumengateStreamError } from './errors.js';
import { openSse, sendJson, sseEvent, startServer, writePieces, type TestServer } from './test-support/http-server.js';
import { RECORDED_BYTES, RECORDED_EVENTS, cut } from './test-support/recorded-stream.js';
import type { StreamEvent } from './types.js';

const API_KEY = 'nb_EXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLE000';

async function collect(iterable: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of iterable) events.push(event);
  return events;
}

describe('client.stream over HTTP', () => {
  let server: TestServer;
  /** Resolves when the server sees the client's connection close, keyed by request id header. */
  const closed = new Map<string, Promise<void>>();
  let splits: number[] = [];

  before(async () => {
    server = await startServer(async (req, res) => {
      const scenario = req.url?.startsWith('/api/v2/generate/stream') ? req.headers['x-scenario'] : 'not-a-stream-route';
      const id = String(req.headers['x-test-id'] ?? '');
      closed.set(id, new Promise((resolve) => res.on('close', () => resolve())));
      switch (scenario) {
        case 'recorded':
          openSse(res);
          await writePieces(res, cut(RECORDED_BYTES, splits));
          return void res.end();
        case 'normal':
          openSse(res);
          res.write(': ping\n\n');
          res.write(sseEvent({ type: 'generation_start', id: 42, model: 'gpt-5-nano' }));
          res.write(sseEvent({ type: 'content_delta', delta: 'Hello' }));
          res.write(sseEvent({ type: 'content_delta', delta: ', world' }));
          res.write(sseEvent({ type: 'generation_end', id: 42, tokens_spent: 1, tokens_used: 1, balance_remaining: 99 }));
          return void res.end('data: [DONE]\n\n');
        case 'error-event':
          openSse(res);
          res.write(sseEvent({ type: 'generation_start', id: 43, model: 'gpt-5-nano' }));
          res.write(sseEvent({ type: 'content_delta', delta: 'Par' }));
          res.write(sseEvent({ type: 'error', message: 'Upstream stopped answering', code: 'provider_error' }));
          return void res.end('data: [DONE]\n\n');
        case 'silent-close':
          openSse(res);
          res.write(sseEvent({ type: 'generation_start', id: 44, model: 'gpt-5-nano' }));
          res.write(sseEvent({ type: 'content_delta', delta: 'cut' }));
          return void res.end();
        case 'socket-reset':
          openSse(res);
          await writePieces(res, [new TextEncoder().encode(sseEvent({ type: 'generation_start', id: 45, model: 'm' }))]);
          return void res.socket?.destroy();
        case 'endless':
          // Stays open with heartbeats until the client goes away.
          openSse(res);
          res.write(sseEvent({ type: 'generation_start', id: 46, model: 'gpt-5-nano' }));
          res.write(sseEvent({ type: 'content_delta', delta: 'tick' }));
          {
            const ping = setInterval(() => res.write(': ping\n\n'), 20);
            res.on('close', () => clearInterval(ping));
          }
          return;
        case 'json-200':
          return sendJson(res, 200, { id: 1, status: 'completed' });
        case 'no-tokens':
          return sendJson(res, 402, {
            error: 'insufficient_tokens',
            message: 'Balance 0 is below the price 2',
            details: { balance: 0, price: 2 },
          });
        default:
          return sendJson(res, 404, { error: 'not_found', message: 'no route', details: {} });
      }
    });
  });
  after(() => server.close());

  const clientFor = (scenario: string, testId = scenario) =>
    new LumengateClient({
      apiKey: API_KEY,
      baseUrl: server.url + '/',
      fetch: (input, init) =>
        fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), 'x-scenario': scenario, 'x-test-id': testId } }),
    });

  it('yields typed events of a normal stream and sends the documented request', async () => {
    const events = await collect(clientFor('normal').stream({ model: 'gpt-5-nano', prompt: 'Hi', stream: false }));
    assert.deepEqual(events, [
      { type: 'generation_start', id: 42, model: 'gpt-5-nano' },
      { type: 'content_delta', delta: 'Hello' },
      { type: 'content_delta', delta: ', world' },
      { type: 'generation_end', id: 42, tokens_spent: 1, tokens_used: 1, balance_remaining: 99 },
    ]);
    const request = server.requests.at(-1)!;
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/api/v2/generate/stream');
    assert.equal(request.headers['authorization'], `Bearer ${API_KEY}`);
    assert.equal(request.headers['accept'], 'text/event-stream');
    assert.match(String(request.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(request.body), { model: 'gpt-5-nano', prompt: 'Hi' });
  });

  it('gives the recorded events for every split position of the network chunks', async () => {
    const client = clientFor('recorded');
    for (let offset = 0; offset <= RECORDED_BYTES.length; offset++) {
      splits = [offset];
      assert.deepEqual(await collect(client.stream({ model: 'gpt-5', prompt: 'x' })), RECORDED_EVENTS, `split at ${offset}`);
    }
  });

  it('gives the recorded events with one byte per network write', async () => {
    splits = Array.from({ length: RECORDED_BYTES.length - 1 }, (_, i) => i + 1);
    let reads = 0;
    const client = new LumengateClient({
      apiKey: API_KEY,
      baseUrl: server.url,
      fetch: async (input, init) => {
        const response = await fetch(input, {
          ...init,
          headers: { ...(init?.headers as Record<string, string>), 'x-scenario': 'recorded' },
        });
        // Counts the reads the client gets, to show the bytes really arrived in many pieces.
        const counted = response.body!.pipeThrough(new TransformStream({ transform: (chunk, c) => (reads++, c.enqueue(chunk)) }));
        return new Response(counted, { status: response.status, headers: response.headers });
      },
    });
    assert.deepEqual(await collect(client.stream({ model: 'gpt-5', prompt: 'x' })), RECORDED_EVENTS);
    assert.ok(reads > 1, `expected the body in several reads, got ${reads}`);
  });

  it('throws a LumengateStreamError with the code of an error event', async () => {
    const seen: StreamEvent[] = [];
    await assert.rejects(
      async () => {
        for await (const event of clientFor('error-event').stream({ model: 'gpt-5-nano', prompt: 'x' })) seen.push(event);
      },
      (error: unknown) => {
        assert.ok(error instanceof LumengateStreamError);
        assert.ok(error instanceof LumengateError);
        assert.equal(error.code, 'provider_error');
        assert.equal(error.status, 200);
        assert.equal(error.message, 'Upstream stopped answering');
        assert.equal(error.streamGenerationId, 43);
        assert.equal(error.partialText, 'Par');
        return true;
      },
    );
    assert.deepEqual(
      seen.map((event) => event.type),
      ['generation_start', 'content_delta'],
    );
  });

  it('throws stream_interrupted when the stream closes without generation_end or error', async () => {
    await assert.rejects(collect(clientFor('silent-close').stream({ model: 'gpt-5-nano', prompt: 'x' })), (error: unknown) => {
      assert.ok(error instanceof LumengateStreamError);
      assert.equal(error.code, 'stream_interrupted');
      assert.equal(error.partialText, 'cut');
      return true;
    });
  });

  it('throws stream_interrupted when the connection is reset mid-stream', async () => {
    await assert.rejects(collect(clientFor('socket-reset').stream({ model: 'm', prompt: 'x' })), {
      code: 'stream_interrupted',
    });
  });

  it('throws the JSON error of a request refused before the stream opened', async () => {
    await assert.rejects(collect(clientFor('no-tokens').stream({ model: 'gpt-5', prompt: 'x' })), (error: unknown) => {
      assert.ok(error instanceof LumengateError);
      assert.ok(!(error instanceof LumengateStreamError));
      assert.equal(error.status, 402);
      assert.equal(error.code, 'insufficient_tokens');
      assert.deepEqual(error.details, { balance: 0, price: 2 });
      return true;
    });
  });

  it('rejects a 200 answer that is not text/event-stream as invalid_response', async () => {
    await assert.rejects(collect(clientFor('json-200').stream({ model: 'm', prompt: 'x' })), {
      code: 'invalid_response',
      status: 200,
    });
  });

  it('aborting the signal stops iteration and closes the HTTP request', { timeout: 10_000 }, async () => {
    const controller = new AbortController();
    const seen: StreamEvent[] = [];
    await assert.rejects(
      async () => {
        for await (const event of clientFor('endless', 'abort').stream(
          { model: 'gpt-5-nano', prompt: 'x' },
          { signal: controller.signal },
        )) {
          seen.push(event);
          if (event.type === 'content_delta') controller.abort();
        }
      },
      { name: 'AbortError' },
    );
    assert.deepEqual(
      seen.map((event) => event.type),
      ['generation_start', 'content_delta'],
    );
    const serverSawClose = closed.get('abort');
    assert.ok(serverSawClose);
    await serverSawClose;
  });

  it('leaving the loop early also closes the HTTP request', { timeout: 10_000 }, async () => {
    for await (const event of clientFor('endless', 'break').stream({ model: 'gpt-5-nano', prompt: 'x' })) {
      if (event.type === 'generation_start') break;
    }
    const serverSawClose = closed.get('break');
    assert.ok(serverSawClose);
    await serverSawClose;
  });
});
