// What the streaming hot path must not do per chunk (issue 6, docs/BENCHMARKS.md): write to the
// database or write a log line. A generation writes its hold and its settlement, whatever its
// length; the logger's lines per request do not grow with the number of chunks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SseWriter } from '../../src/http/sse.js';
import { sseEvents, startHarness, type Harness } from '../support/harness.js';

describe('streaming hot path', () => {
  let h: Harness;
  const logLines: string[] = [];
  before(async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logLines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    h = await startHarness({ logger: pino({ level: 'info' }, sink) });
  });
  after(() => h.close());

  /** Streams one generation of `chunks` deltas and returns what it cost in database row changes and log lines. */
  async function streamOf(key: string, chunks: number) {
    h.fake.respondWith({ chunks: Array.from({ length: chunks }, (_, i) => `t${i} `), delayMs: 0 });
    const sqlite = h.server.db.sqlite;
    const changes = () => (sqlite ? (sqlite.prepare('select total_changes() as n').get() as { n: number }).n : 0);
    const rowsBefore = changes();
    const linesBefore = logLines.length;
    const res = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'count' }, key);
    assert.equal(res.status, 200);
    const events = sseEvents(res.text);
    assert.equal(events.filter((e) => e.type === 'content_delta').length, chunks);
    assert.equal(events.at(-2).type, 'generation_end');
    // pino writes to the sink synchronously here; the request's last line follows the response.
    await new Promise((r) => setImmediate(r));
    return { rows: changes() - rowsBefore, logLines: logLines.length - linesBefore };
  }

  it('database writes per generation are the same for 3 chunks and for 200', async (t) => {
    if (!h.server.db.sqlite) {
      // total_changes() is SQLite's exact count; the lifecycle that decides when to write is the same on PostgreSQL.
      t.skip("SQLite only: it counts the connection's row changes");
      return;
    }
    const a = await h.account({ tokens: 100 });
    await streamOf(a.key, 1); // the key's first use also records last_used_at (once a minute)
    const short = await streamOf(a.key, 3);
    const long = await streamOf(a.key, 200);
    assert.ok(short.rows > 0, 'a generation writes its hold and settlement');
    assert.equal(long.rows, short.rows, `rows changed: ${short.rows} for 3 chunks, ${long.rows} for 200`);
  });

  it('log lines per generation are the same for 3 chunks and for 200', async () => {
    const a = await h.account({ tokens: 100 });
    await streamOf(a.key, 1);
    const short = await streamOf(a.key, 3);
    const long = await streamOf(a.key, 200);
    assert.ok(short.logLines > 0, 'requests are logged at info');
    assert.equal(long.logLines, short.logLines);
  });

  it("a generation makes one AbortSignal, the upstream attempt's (src/core/cancel.ts)", async () => {
    // Counts the signals our own code creates (AbortController's signal is made on first use),
    // not the test client's: on Node 20 each costs ~5 µs and outlives the young generation.
    const real = Object.getOwnPropertyDescriptor(AbortController.prototype, 'signal')!;
    const seen = new WeakSet<AbortController>();
    let ours = 0;
    Object.defineProperty(AbortController.prototype, 'signal', {
      configurable: true,
      get(this: AbortController) {
        if (!seen.has(this)) {
          seen.add(this);
          if (/[\\/]dist[\\/]src[\\/]/.test(new Error().stack ?? '')) ours++;
        }
        return real.get!.call(this) as AbortSignal;
      },
    });
    try {
      const a = await h.account({ tokens: 100 });
      h.fake.respondWith({ chunks: ['one', ' two'], delayMs: 0 });
      assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'count' }, a.key)).status, 200);
      assert.equal(ours, 1, 'non-streaming');
      await streamOf(a.key, 3);
      assert.equal(ours, 2, 'streaming');
      h.fake.respondWith({ chunks: ['one'], delayMs: 0 });
      assert.equal((await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'count' }] }, a.key)).status, 200);
      assert.equal(ours, 3, '/v1/chat/completions');
    } finally {
      Object.defineProperty(AbortController.prototype, 'signal', real);
    }
  });
});

describe('SSE writer', () => {
  it('events written in one tick leave in one socket write, the head with them', async () => {
    let writes = 0;
    const server = createServer((_req, res) => {
      // Count what reaches the socket's write calls: each is one write or writev system call.
      const socket = res.socket as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
      for (const name of ['_write', '_writev'] as const) {
        const original = socket[name].bind(socket);
        socket[name] = (...a: unknown[]) => {
          writes++;
          original(...a);
        };
      }
      const sse = new SseWriter(res, 0);
      sse.open({ 'x-test': 1 });
      for (let i = 0; i < 3; i++) void sse.send({ type: 'content_delta', delta: `t${i}` });
      // The next tick: a write of its own, then the end.
      process.nextTick(() => {
        void sse.send({ type: 'generation_end' });
        setImmediate(() => sse.end());
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const req = request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
      req.end();
      const [res] = (await once(req, 'response')) as [NodeJS.ReadableStream];
      let body = '';
      for await (const c of res) body += String(c);
      assert.equal(body.match(/^data: /gm)?.length, 5, body);
      // Head + three events, the fourth event, the end with [DONE]: three writes, not nine.
      assert.equal(writes, 3);
    } finally {
      server.close();
    }
  });
});
