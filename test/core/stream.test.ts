// SSE honesty: event order and bytes, heartbeats, UTF-8, upstream failures before and after the
// stream opened, idle timeout, and client disconnects (the upstream closed because the client left,
// billing rule 16). Every wait is for an event (bytes seen, a connection closed, a row settled).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { settled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import { LineLog } from '../support/waits.js';

interface OpenStream {
  status: number;
  headers: Record<string, unknown>;
  /** The body's chunks as they arrived. */
  chunks: readonly string[];
  /** Resolves once `cond(body so far)` holds, checked at each chunk; rejects if the body ends first. */
  until(cond: (text: string) => boolean, what: string): Promise<void>;
  destroy(): void;
  ended: Promise<void>;
}

/** Opens a stream with node:http so the test controls the socket; resolves with the response head. */
function openStream(url: string, key: string, body: unknown): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/v2/generate/stream`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      const body = new LineLog();
      res.setEncoding('utf8');
      const ended = new Promise<void>((r) => {
        res.on('end', r);
        res.on('close', r);
      });
      res.on('data', (c: string) => body.add(c));
      res.on('close', () => body.end());
      res.on('error', () => {});
      resolve({
        status: res.statusCode!,
        headers: res.headers,
        chunks: body.lines,
        until: (cond, what) => body.until((chunks) => cond(chunks.join('')), what),
        destroy: () => req.destroy(),
        ended,
      });
    });
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
    req.end(JSON.stringify(body));
  });
}

describe('SSE streaming', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ heartbeatMs: 40, catalog: { models: [{ slug: 'gpt-5-nano', timeouts: { chunk_gap_ms: 1000, first_token_ms: 5000 } }] } });
  });
  after(() => h.close());

  it('normal stream: generation_start, content_delta…, generation_end, [DONE], exact bytes and headers', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Once', ' upon', ' a time'] });
    const r = await h.post('/api/v2/generate/stream', { model: 'gpt-5', prompt: 'story' }, a.key);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.equal(r.headers.get('x-accel-buffering'), 'no');
    const id = Number(r.headers.get('x-generation-id'));
    assert.ok(id > 0);
    const body = r.text.replace(/: ping\n\n/g, '');
    // Every event carries `id: <generation id>:<sequence>` (docs/api.md); the [DONE] sentinel has none.
    assert.equal(
      body,
      `id: ${id}:1\ndata: {"type":"generation_start","id":${id},"model":"gpt-5"}\n\n` +
        `id: ${id}:2\ndata: {"type":"content_delta","delta":"Once"}\n\n` +
        `id: ${id}:3\ndata: {"type":"content_delta","delta":" upon"}\n\n` +
        `id: ${id}:4\ndata: {"type":"content_delta","delta":" a time"}\n\n` +
        `id: ${id}:5\ndata: {"type":"generation_end","id":${id},"tokens_spent":2,"tokens_used":2,"balance_remaining":8}\n\n` +
        'data: [DONE]\n\n',
    );
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.equal(g.status, 'completed');
    assert.equal(g.result_text, 'Once upon a time');
    assert.equal(await h.balance(a.id), 8);
  });

  it('stream: true on /api/v2/generate gives the same events as /api/v2/generate/stream', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['a', 'b'] });
    const viaFlag = await h.post('/api/v2/generate', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'x' }], stream: true }, a.key);
    h.fake.respondWith({ chunks: ['a', 'b'] });
    const viaStream = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, a.key);
    const strip = (evs: any[]) => evs.map((e) => (typeof e === 'object' ? { ...e, id: 0, balance_remaining: 0 } : e));
    assert.equal(viaFlag.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.deepEqual(strip(sseEvents(viaFlag.text)), strip(sseEvents(viaStream.text)));
    assert.deepEqual(
      sseEvents(viaFlag.text).map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'content_delta', 'generation_end', '[DONE]'],
    );
  });

  it('Cyrillic and emoji deltas arrive intact', async () => {
    const a = await h.account({ tokens: 10 });
    const chunks = ['Привет', ', ', 'мир', '! 👋🏽', '🇷🇺 ok', 'ё'];
    h.fake.respondWith({ chunks });
    const r = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'hi' }, a.key);
    assert.deepEqual(
      sseEvents(r.text)
        .filter((e) => e.type === 'content_delta')
        .map((e) => e.delta),
      chunks,
    );
  });

  it('heartbeats: ": ping" comments while waiting for the first token', async () => {
    const a = await h.account({ tokens: 10 });
    // The upstream holds its first chunk until the client has received two heartbeats.
    let release!: () => void;
    h.fake.respondWith({ chunks: ['late'], holdAfter: { writes: 0, until: new Promise<void>((r) => (release = r)) } });
    const s = await openStream(h.url, a.key, { model: 'gpt-5-nano', prompt: 'x' });
    try {
      await s.until((text) => (text.match(/^: ping$/gm) ?? []).length >= 2, 'two heartbeats');
    } finally {
      release();
    }
    await s.ended;
    const text = s.chunks.join('');
    const beforeFirstDelta = text.slice(0, text.indexOf('content_delta'));
    assert.ok((beforeFirstDelta.match(/^: ping$/gm) ?? []).length >= 2, text);
    assert.deepEqual(
      sseEvents(text).map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'generation_end', '[DONE]'],
    );
  });

  it('upstream 500 before the first byte: JSON 500 provider_error, nothing charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ status: 500 });
    const r = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, a.key);
    assert.equal(r.status, 500);
    assert.match(r.headers.get('content-type')!, /application\/json/);
    assert.equal(r.json.error, 'provider_error');
    const id = r.json.details.generation_id;
    assert.equal(typeof id, 'number');
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.equal(g.status, 'failed');
    assert.equal(g.tokens_spent, 0);
    assert.equal(await h.balance(a.id), 10);
    h.fake.respondWith({ chunks: ['x'] });
  });

  it('upstream connection reset mid-stream: error event then [DONE], generation failed, 0 charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['one', 'two'], ending: 'reset', delayMs: 30 });
    const r = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, a.key);
    const events = sseEvents(r.text);
    assert.deepEqual(
      events.map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'content_delta', 'error', '[DONE]'],
    );
    const err = events[3];
    assert.equal(err.code, 'provider_error');
    assert.ok(err.message.length > 0);
    const g = (await h.get(`/api/v2/generate/${events[0].id}`, a.key)).json;
    assert.equal(g.status, 'failed');
    assert.equal(g.tokens_spent, 0);
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('upstream stall: the gap timeout ends the stream with an error event, 0 charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['one'], ending: 'stall' });
    const r = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, a.key);
    const events = sseEvents(r.text);
    assert.deepEqual(
      events.map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'error', '[DONE]'],
    );
    assert.match(events[2].message, /timed out/);
    assert.equal(await h.balance(a.id), 10);
    // The stalled upstream connection was closed by us.
    await h.fake.requests.at(-1)!.closed;
  });

  it('client disconnect after content: the upstream is closed, completed with partial text, charged', async () => {
    const a = await h.account({ tokens: 10 });
    // Two chunks, then the upstream holds the rest for as long as the test runs: the connection can
    // only close because the gateway closed it, and the settled row says why (client_disconnected).
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    h.fake.respondWith({ chunks: Array.from({ length: 200 }, (_, i) => `w${i} `), holdAfter: { writes: 2, until: hold } });
    const s = await openStream(h.url, a.key, { model: 'gpt-5-nano', prompt: 'long' });
    assert.equal(s.status, 200);
    await s.until((text) => text.includes('content_delta'), 'the first content_delta');
    const upstream = h.fake.requests.at(-1)!;
    s.destroy();
    await upstream.closed;
    release();
    const id = Number(s.headers['x-generation-id']);
    const g = await settled(h, id, a.key);
    assert.equal(g.status, 'completed');
    assert.equal(g.result_metadata.finish_reason, 'client_disconnected');
    assert.match(g.result_text, /^w0 /);
    assert.ok(!g.result_text.includes('w2 '), 'nothing past the held point');
    assert.equal(g.tokens_spent, 1);
    assert.equal(await h.balance(a.id), 9);
  });

  it('client disconnect before any content: the upstream is closed, failed, 0 charged', async () => {
    const a = await h.account({ tokens: 10 });
    // The upstream sends no content until the test is over: only the gateway can close it.
    let release!: () => void;
    h.fake.respondWith({ chunks: ['never'], holdAfter: { writes: 0, until: new Promise<void>((r) => (release = r)) } });
    const s = await openStream(h.url, a.key, { model: 'gpt-5-nano', prompt: 'x' });
    await s.until((text) => text.includes('generation_start'), 'generation_start');
    const upstream = h.fake.requests.at(-1)!;
    s.destroy();
    await upstream.closed;
    release();
    const g = await settled(h, Number(s.headers['x-generation-id']), a.key);
    assert.equal(g.status, 'failed');
    assert.equal(g.error, 'client_disconnected');
    assert.equal(g.tokens_spent, 0);
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});
