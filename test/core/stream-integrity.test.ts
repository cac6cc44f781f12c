// Stream integrity on every streaming surface (/api/v2/generate/stream, /v1/chat/completions and
// /v1/responses with stream: true, a re-attached v2 stream) in front of fakes that speak each
// provider's wire format: an upstream's own failure markers are failures, never a finished answer;
// the SSE framings a server may use (a byte order mark, lone CR line ends, comments) lose nothing;
// heartbeats come before the first token and never as data; the client leaving closes the upstream;
// and what a client that left is charged matches what it was sent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { settled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import { startFakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeGoogle } from '../support/fake-google.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import type { FakeScript, FakeUpstream } from '../support/fake-upstream.js';
import { LineLog } from '../support/waits.js';

interface Open {
  status: number;
  headers: Record<string, unknown>;
  text(): string;
  /** Resolves once `cond(body so far)` holds, checked at each chunk; rejects if the body ends first. */
  until(cond: (text: string) => boolean, what: string): Promise<void>;
  ended: Promise<void>;
  destroy(): void;
}

/** A request whose body the test reads byte for byte as it arrives, and whose connection it can cut. */
function open(url: string, opts: { method?: 'GET' | 'POST'; key: string; body?: unknown; headers?: Record<string, string> }): Promise<Open> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${opts.key}`, ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers };
    const req = request(url, { method: opts.method ?? 'POST', headers }, (res) => {
      const log = new LineLog();
      res.setEncoding('utf8');
      const ended = new Promise<void>((r) => res.on('close', r));
      res.on('data', (c: string) => log.add(c));
      res.on('close', () => log.end());
      res.on('error', () => {});
      resolve({
        status: res.statusCode!,
        headers: res.headers,
        text: () => log.lines.join(''),
        until: (cond, what) => log.until((chunks) => cond(chunks.join('')), what),
        ended,
        destroy: () => req.destroy(),
      });
    });
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

const pings = (text: string) => (text.match(/^: ping$/gm) ?? []).length;

type Surface = 'v2' | 'chat' | 'responses';
const surfaces: Surface[] = ['v2', 'chat', 'responses'];
const path: Record<Surface, string> = { v2: '/api/v2/generate/stream', chat: '/v1/chat/completions', responses: '/v1/responses' };
const bodyFor = (surface: Surface, model: string, extra: Record<string, unknown> = {}) =>
  surface === 'v2'
    ? { model, prompt: 'x', ...extra }
    : surface === 'chat'
      ? { model, messages: [{ role: 'user', content: 'x' }], stream: true, ...extra }
      : { model, input: 'x', stream: true, ...extra };

/** The text a surface's stream sent, and whether it ended with its failure event. */
function readStream(surface: Surface, text: string): { content: string; failed: boolean; finished: boolean } {
  const events = sseEvents(text).filter((e) => e !== '[DONE]');
  if (surface === 'v2') {
    return {
      content: events
        .filter((e) => e.type === 'content_delta')
        .map((e) => e.delta)
        .join(''),
      failed: events.at(-1)?.type === 'error',
      finished: events.at(-1)?.type === 'generation_end',
    };
  }
  if (surface === 'chat') {
    return {
      content: events.map((e) => e.choices?.[0]?.delta?.content ?? '').join(''),
      failed: events.at(-1)?.error !== undefined,
      finished: events.some((e) => e.choices?.[0]?.finish_reason),
    };
  }
  return {
    content: events
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => e.delta)
      .join(''),
    failed: events.at(-1)?.type === 'response.failed',
    finished: events.at(-1)?.type === 'response.completed',
  };
}

/** The generation id a stream's headers name. */
const generationOf = (s: Open) => Number(s.headers['x-generation-id']);

describe('stream integrity', () => {
  let h: Harness;
  let anthropic: FakeUpstream;
  let google: FakeUpstream;
  let ollama: FakeOllama;
  const fakes: Record<'openai' | 'anthropic' | 'google', () => FakeUpstream> = { openai: () => h.fake, anthropic: () => anthropic, google: () => google };
  const modelOf = { openai: 'gpt-5-nano', anthropic: 'claude-haiku-4.5', google: 'gemini-2.5-flash' } as const;
  before(async () => {
    anthropic = await startFakeAnthropic();
    google = await startFakeGoogle();
    ollama = await startFakeOllama(['llama3.2:3b']);
    h = await startHarness({
      heartbeatMs: 40,
      env: {
        ANTHROPIC_API_KEY: 'sk-ant-fake',
        ANTHROPIC_BASE_URL: `${anthropic.origin}/v1`,
        GOOGLE_API_KEY: 'g-fake',
        GOOGLE_BASE_URL: `${google.origin}/v1beta`,
        OLLAMA_BASE_URL: ollama.baseUrl,
      },
      // A breaker that never opens: failures here are the point, not a route going offline.
      catalog: { circuit_breaker: { failures: 1_000, cooldown_ms: 1_000 } },
    });
  });
  after(async () => {
    await h?.close();
    await anthropic?.close();
    await google?.close();
    await ollama?.close();
  });

  describe('an upstream that marks its answer failed with finish_reason "error" (OpenRouter, vLLM) or "abort" (vLLM)', () => {
    for (const finish of ['error', 'abort']) {
      for (const surface of surfaces) {
        it(`${surface}, mid-answer, finish_reason "${finish}": the stream ends with the failure, the generation failed, 0 charged`, async () => {
          const a = await h.account({ tokens: 10 });
          const marker = `data: ${JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: '' }, finish_reason: finish }] })}\n\ndata: [DONE]\n\n`;
          h.fake.respondWith({ chunks: ['half an'], raw: marker, ending: 'truncate' });
          const r = await h.post(path[surface], bodyFor(surface, 'gpt-5-nano'), a.key);
          assert.equal(r.status, 200, r.text);
          const got = readStream(surface, r.text);
          assert.deepEqual([got.content, got.failed, got.finished], ['half an', true, false], r.text);
          if (surface !== 'responses') assert.equal(sseEvents(r.text).at(-1), '[DONE]');
          const g = await settled(h, Number(r.headers.get('x-generation-id')), a.key);
          assert.equal(g.status, 'failed');
          assert.match(g.error, new RegExp(`finish_reason "${finish}"`));
          assert.equal(g.tokens_spent, 0);
          assert.equal(await h.balance(a.id), 10);
        });
      }
    }

    it('before the first token: the route is tried again and the answer served, charged once', async () => {
      const a = await h.account({ tokens: 10 });
      const marker = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'error' }], error: { message: 'Provider returned error', code: 502 } })}\n\n`;
      const { length } = h.fake.requests;
      h.fake.respondWith([{ chunks: [], raw: marker, ending: 'truncate' }, { chunks: ['second try'] }]);
      const r = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, a.key);
      assert.deepEqual(readStream('v2', r.text), { content: 'second try', failed: false, finished: true });
      assert.equal(h.fake.requests.length - length, 2);
      assert.equal(await h.balance(a.id), 9);
      h.fake.respondWith({});
    });
  });

  describe("an upstream's in-band error (OpenAI's error object, Anthropic's error event, Gemini's error object) at each point of a stream, or its end without the terminal event", () => {
    const weather = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };
    const toolsFor = (surface: Surface) => (surface === 'responses' ? [{ type: 'function', ...weather }] : [{ type: 'function', function: weather }]);
    for (const provider of ['openai', 'anthropic', 'google'] as const) {
      for (const surface of surfaces) {
        it(`${provider}, ${surface}: before the first token the route is tried again and serves the answer, charged once`, async () => {
          const a = await h.account({ tokens: 10 });
          const fake = fakes[provider]();
          const { length } = fake.requests;
          fake.respondWith([{ chunks: [], ending: 'error-event' }, { chunks: ['second', ' try'] }]);
          const r = await h.post(path[surface], bodyFor(surface, modelOf[provider]), a.key);
          assert.deepEqual(readStream(surface, r.text), { content: 'second try', failed: false, finished: true }, r.text);
          assert.equal(fake.requests.length - length, 2);
          assert.equal(await h.balance(a.id), 9);
          fake.respondWith({});
        });

        const points: [string, FakeScript, boolean][] = [
          ['mid-text', { chunks: ['partial', ' answer'], ending: 'error-event' }, false],
          // Not an error event: the response ends cleanly without the terminal event ([DONE] or the finish chunk, message_stop, finishReason).
          ['closed without its terminal event', { chunks: ['partial', ' answer'], ending: 'truncate' }, false],
        ];
        // Gemini sends a call whole, in the chunk that finishes the answer: it has no middle of a call.
        if (provider !== 'google') points.push(['mid-tool-call', { chunks: [], toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: ['{"ci', 'ty":"Pa'] }], ending: 'error-event' }, true]);
        for (const [point, script, tools] of points) {
          it(`${provider}, ${surface}, ${point}: what came before is sent, then the failure event (and [DONE]); failed, 0 charged`, async () => {
            const a = await h.account({ tokens: 10 });
            const fake = fakes[provider]();
            fake.respondWith(script);
            const r = await h.post(path[surface], bodyFor(surface, modelOf[provider], tools ? { tools: toolsFor(surface) } : {}), a.key);
            assert.equal(r.status, 200, r.text);
            const got = readStream(surface, r.text);
            assert.deepEqual([got.content, got.failed, got.finished], [tools ? '' : 'partial answer', true, false], r.text);
            // The call's fragments went out as they came where the surface streams them (v2 sends whole calls only).
            if (tools && surface !== 'v2') assert.match(r.text, surface === 'chat' ? /"tool_calls":\[\{"index":0,"id":"call_1"/ : /response\.function_call_arguments\.delta/);
            if (surface !== 'responses') assert.equal(sseEvents(r.text).at(-1), '[DONE]');
            const g = await settled(h, Number(r.headers.get('x-generation-id')), a.key);
            assert.deepEqual([g.status, g.tokens_spent], ['failed', 0]);
            assert.equal(await h.balance(a.id), 10);
            fake.respondWith({});
          });
        }
      }
    }
  });

  describe('SSE framings an upstream may use', () => {
    it('a byte order mark before the first event (a server that sends the whole answer in its first chunk, as Ollama does): the answer is not lost', async () => {
      const a = await h.account({ tokens: 10 });
      ollama.bom = true;
      try {
        const r = await h.post('/api/v2/generate/stream', { model: 'ollama/llama3.2:3b', prompt: 'x' }, a.key);
        assert.deepEqual(readStream('v2', r.text), { content: 'hi from llama3.2:3b', failed: false, finished: true }, r.text);
        const chat = await h.post('/v1/chat/completions', { model: 'ollama/llama3.2:3b', messages: [{ role: 'user', content: 'x' }] }, a.key);
        assert.equal(chat.json.choices[0].message.content, 'hi from llama3.2:3b', chat.text);
      } finally {
        ollama.bom = false;
      }
    });

    it('lone CR line ends and a finish chunk (with usage) as the last event, no [DONE]: completed with its usage', async () => {
      const a = await h.account({ tokens: 10 });
      const finish = { id: 'chatcmpl-x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 4, completion_tokens: 2 } };
      h.fake.respondWith({ chunks: ['all', ' of it'], raw: `data: ${JSON.stringify(finish)}\n\n`, ending: 'truncate', framing: { eol: '\r' } });
      const r = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, a.key);
      assert.deepEqual(readStream('v2', r.text), { content: 'all of it', failed: false, finished: true }, r.text);
      const g = await settled(h, sseEvents(r.text)[0].id, a.key);
      assert.deepEqual([g.status, g.usage?.input_tokens, g.usage?.output_tokens], ['completed', 4, 2]);
      h.fake.respondWith({});
    });

    // Lone CRs only where a server may choose its framing (any OpenAI-compatible server); Anthropic
    // and Google write LF and CRLF.
    for (const [provider, eol] of [
      ['openai', '\r'],
      ['anthropic', '\r\n'],
      ['google', '\r\n'],
    ] as const) {
      it(`${provider}: a byte order mark and ${JSON.stringify(eol)} line ends over a long stream (more than the 1 MiB cap of one event in all): every delta arrives, completed`, async () => {
        const a = await h.account({ tokens: 10 });
        const fake = fakes[provider]();
        // More characters in all than the size cap of one event (MAX_EVENT_CHARS, 1 MiB), in many events.
        const chunks = Array.from({ length: 5000 }, (_, i) => `w${i} ${'·'.repeat(100)} `);
        fake.respondWith({ chunks, framing: { eol, bom: true } });
        const r = await h.post('/api/v2/generate/stream', { model: modelOf[provider], prompt: 'x' }, a.key);
        const got = readStream('v2', r.text);
        assert.ok(got.finished, r.text.slice(-500));
        assert.equal(got.content, chunks.join(''));
        assert.equal(await h.balance(a.id), 10 - (await settled(h, sseEvents(r.text)[0].id, a.key)).tokens_spent);
        fake.respondWith({});
      });
    }
  });

  describe("heartbeats before the first token on every surface, never as data, the upstream's own comments never passed on", () => {
    const cases: [Surface | 'reattach', string][] = [
      ['v2', 'gpt-5-nano'],
      ['chat', 'gpt-5-nano'],
      ['responses', 'gpt-5-nano'],
      ['reattach', 'gpt-5-nano'],
      ['chat', 'claude-haiku-4.5'],
      ['responses', 'gemini-2.5-flash'],
    ];
    for (const [surface, model] of cases) {
      it(`${surface} (${model})`, async () => {
        const a = await h.account({ tokens: 10 });
        const provider = model === 'gpt-5-nano' ? 'openai' : model === 'claude-haiku-4.5' ? 'anthropic' : 'google';
        const fake = fakes[provider]();
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        // OpenRouter's comment while the model thinks, then the first token held until the client has had two pings.
        const script: FakeScript = { chunks: ['late', ' answer'], holdAfter: { writes: 0, until: held } };
        fake.respondWith(script);
        const arrived = fake.nextRequest();
        const first = await open(h.url + path[surface === 'reattach' ? 'v2' : surface], { key: a.key, body: bodyFor(surface === 'reattach' ? 'v2' : surface, model) });
        const upstream = await arrived;
        upstream.response.write(': OPENROUTER PROCESSING\n\n');
        let s = first;
        if (surface === 'reattach') {
          await first.until((t) => t.includes('generation_start'), 'generation_start');
          s = await open(`${h.url}/api/v2/generate/${generationOf(first)}/stream`, { method: 'GET', key: a.key, headers: { 'last-event-id': `${generationOf(first)}:1` } });
        }
        try {
          await s.until((t) => pings(t) >= 2, 'two heartbeats');
        } finally {
          release();
        }
        await s.ended;
        const text = s.text();
        assert.ok(!text.includes('OPENROUTER'), "the upstream's comment is not passed on");
        // Every line is an SSE field or a comment, and every frame with data parses: a ping is never data.
        for (const line of text.split('\n')) assert.match(line, /^(|: ping|id: \d+:\d+|event: [a-z_.]+|data: .+)$/, JSON.stringify(line));
        const before = text.slice(0, text.indexOf(surface === 'responses' ? 'output_text.delta' : surface === 'chat' ? '"content":"late' : 'content_delta'));
        assert.ok(pings(before) >= 2, text);
        const got = readStream(surface === 'reattach' ? 'v2' : surface, text);
        assert.deepEqual([got.content, got.finished], ['late answer', true], text);
      });
    }
  });

  describe("a silent upstream is governed by the model's timeouts, not the HTTP client's", () => {
    // Node's fetch, which the AI SDK providers call, gives up on a response whose next bytes take
    // longer than its default dispatcher's timeouts (300 s): a model thinking longer than that was
    // cut even where the catalog's first_token_ms / chunk_gap_ms allow it. Here the process's
    // default dispatcher is made impatient (100 ms), and the held upstream is released only once a
    // fetch on that dispatcher, started later, has been cut by it: by then the gateway's upstream
    // call would have been cut too, and retried (a second request) or failed.
    for (const provider of ['anthropic', 'google'] as const) {
      it(`${provider}: an upstream silent for longer than the default dispatcher's timeouts is served on one request`, async () => {
        const { Agent, getGlobalDispatcher, setGlobalDispatcher } = await import('undici');
        const a = await h.account({ tokens: 10 });
        const fake = fakes[provider]();
        let release!: () => void;
        fake.respondWith({ chunks: ['after', ' a long think'], holdAfter: { writes: 0, until: new Promise<void>((r) => (release = r)) } });
        let releaseControl!: () => void;
        h.fake.respondWith({ chunks: ['x'], holdAfter: { writes: 0, until: new Promise<void>((r) => (releaseControl = r)) } });
        const { length } = fake.requests;
        const global = getGlobalDispatcher();
        const impatient = new Agent({ headersTimeout: 100, bodyTimeout: 100 });
        setGlobalDispatcher(impatient);
        let s: Open;
        try {
          s = await open(h.url + path.v2, { key: a.key, body: bodyFor('v2', modelOf[provider]) });
          // The upstream's head and first events are in: its call now waits on a silent body.
          await s.until((t) => pings(t) >= 1, 'a heartbeat');
          const control = await fetch(`${h.fake.origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
          await assert.rejects(control.text(), /terminated/);
        } finally {
          setGlobalDispatcher(global);
          release();
          releaseControl();
          await impatient.close();
        }
        await s.ended;
        assert.deepEqual(readStream('v2', s.text()), { content: 'after a long think', failed: false, finished: true }, s.text());
        assert.equal(fake.requests.length - length, 1, 'one upstream request: the first was not cut');
        fake.respondWith({});
        h.fake.respondWith({});
      });
    }
  });

  describe('the client leaving closes the upstream on every surface, for every wire format', () => {
    for (const surface of surfaces) {
      for (const provider of ['openai', 'anthropic', 'google'] as const) {
        it(`${surface} on ${provider}: after a delta the upstream connection is closed; completed, client_disconnected, charged`, async () => {
          const a = await h.account({ tokens: 10 });
          const fake = fakes[provider]();
          let release!: () => void;
          fake.respondWith({ chunks: Array.from({ length: 50 }, (_, i) => `w${i} `), holdAfter: { writes: 1, until: new Promise<void>((r) => (release = r)) } });
          const arrived = fake.nextRequest();
          const s = await open(h.url + path[surface], { key: a.key, body: bodyFor(surface, modelOf[provider]) });
          await s.until((t) => readStream(surface, t).content.length > 0, 'the first delta');
          const upstream = await arrived;
          s.destroy();
          // The upstream holds the rest forever: only the gateway can close its connection.
          await upstream.closed;
          release();
          const g = await settled(h, generationOf(s), a.key);
          assert.deepEqual([g.status, g.result_metadata.finish_reason, g.result_text, g.tokens_spent], ['completed', 'client_disconnected', 'w0 ', 1]);
          fake.respondWith({});
        });
      }
    }
  });

  describe('parts a surface does not send (tool argument fragments on v2, reasoning on /v1/responses) are not the answer', () => {
    /** Resolves when the next upstream stream of the OpenAI provider has handed its first part to the gateway. */
    const firstPartRead = () =>
      new Promise<void>((resolve) => {
        const provider = h.server.app.services.providers.get('openai')!;
        const open = provider.open;
        provider.open = async (req) => {
          provider.open = open;
          const stream = await open.call(provider, req);
          const parts = stream.parts[Symbol.asyncIterator]();
          const next = () =>
            parts.next().then((r) => {
              resolve();
              return r;
            });
          return { ...stream, parts: { [Symbol.asyncIterator]: () => ({ next, return: () => parts.return?.() ?? Promise.resolve({ value: undefined, done: true as const }) }) } };
        };
      });
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const cases: { surface: Surface; what: string; script: FakeScript; opening: string[] }[] = [
      // v2 sends a tool call whole (tool_call), never its argument fragments.
      {
        surface: 'v2',
        what: 'a tool call whose arguments are still streaming (v2 sends whole calls)',
        script: { chunks: [], toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: ['{"ci', 'ty":"Paris"}'] }] },
        opening: ['generation_start'],
      },
      // /v1/responses sends no reasoning.
      {
        surface: 'responses',
        what: 'reasoning (the Responses stream sends none)',
        script: { chunks: ['the answer'], reasoning: ['Thinking', ' more'] },
        opening: ['response.created', 'response.in_progress'],
      },
    ];
    it("responses: the generation's first_token_at is when the reasoning came, not when the text after it did", async () => {
      const a = await h.account({ tokens: 10 });
      let release!: () => void;
      h.fake.respondWith({ chunks: ['the answer'], reasoning: ['Thinking'], holdAfter: { writes: 1, until: new Promise<void>((r) => (release = r)) } });
      const s = await open(h.url + path.responses, { key: a.key, body: bodyFor('responses', 'gpt-5-nano') });
      // The reasoning came with the head; two heartbeats later the text is still held.
      await s.until((t) => pings(t) >= 2, 'two heartbeats');
      const textReleasedAfter = Date.now();
      release();
      await s.ended;
      const g = await settled(h, generationOf(s), a.key);
      const row = await h.server.db.kysely.selectFrom('generations').select('first_token_at').where('id', '=', g.id).executeTakeFirstOrThrow();
      assert.ok(Date.parse(String(row.first_token_at)) < textReleasedAfter, `first_token_at ${row.first_token_at}, text released after ${new Date(textReleasedAfter).toISOString()}`);
      h.fake.respondWith({});
    });

    for (const { surface, what, script, opening } of cases) {
      const body = bodyFor(surface, 'gpt-5-nano', surface === 'v2' ? { tools } : {});
      it(`${surface}: a client that leaves after ${what}: failed, client_disconnected, 0 charged`, async () => {
        const a = await h.account({ tokens: 10 });
        let release!: () => void;
        h.fake.respondWith({ ...script, holdAfter: { writes: 1, until: new Promise<void>((r) => (release = r)) } });
        const read = firstPartRead();
        const arrived = h.fake.nextRequest();
        const s = await open(h.url + path[surface], { key: a.key, body });
        await read;
        const upstream = await arrived;
        const sent = s.text();
        s.destroy();
        await upstream.closed;
        release();
        const g = await settled(h, generationOf(s), a.key);
        // What the client had: the stream's opening events, nothing of the answer.
        assert.deepEqual(
          sseEvents(sent).map((e) => e.type),
          opening,
          sent,
        );
        assert.deepEqual([g.status, g.error, g.tokens_spent], ['failed', 'client_disconnected', 0]);
        assert.equal(await h.balance(a.id), 10);
        h.fake.respondWith({});
      });

      it(`${surface}: an upstream that fails after ${what} is tried again (nothing was sent): served, charged once`, async () => {
        const a = await h.account({ tokens: 10 });
        const { length } = h.fake.requests;
        h.fake.respondWith([{ ...script, chunks: [], ending: 'error-event' }, { chunks: ['second try'] }]);
        const r = await h.post(path[surface], body, a.key);
        assert.deepEqual(readStream(surface, r.text), { content: 'second try', failed: false, finished: true }, r.text);
        assert.equal(h.fake.requests.length - length, 2);
        assert.equal(await h.balance(a.id), 9);
        h.fake.respondWith({});
      });
    }
  });
});
