// What the streaming hot path must not do per chunk (issue 6, docs/BENCHMARKS.md): write to the
// database or write a log line. A generation writes its hold and its settlement, whatever its
// length; the logger's lines per request do not grow with the number of chunks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Client } from 'undici';
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

  /** A server whose handler gets each request's writer; closed by the caller. */
  async function sseServer(handler: (sse: SseWriter, url: string) => void) {
    const server = createServer((req, res) => handler(new SseWriter(res, 0), req.url ?? ''));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { server, port: (server.address() as AddressInfo).port };
  }

  it('a pipelined response, queued behind the one before it, keeps its frames and their order', async () => {
    // The second request's response has no socket until the first ends: it must not write to the
    // connection directly while the first is still streaming on it.
    let secondOpened!: () => void;
    const opened = new Promise<void>((r) => (secondOpened = r));
    const { server, port } = await sseServer((sse, url) => {
      sse.open({});
      if (url === '/a') {
        void sse.send({ n: 'a1' });
        void opened.then(() => {
          void sse.send({ n: 'a2' });
          setImmediate(() => sse.end());
        });
      } else {
        void sse.send({ n: 'b1' });
        secondOpened();
        setImmediate(() => {
          void sse.send({ n: 'b2' });
          sse.end();
        });
      }
    });
    const client = new Client(`http://127.0.0.1:${port}`, { pipelining: 2 });
    try {
      const [a, b] = await Promise.all(['/a', '/b'].map(async (path) => (await client.request({ path, method: 'GET' })).body.text()));
      assert.equal(a, 'data: {"n":"a1"}\n\ndata: {"n":"a2"}\n\ndata: [DONE]\n\n');
      assert.equal(b, 'data: {"n":"b1"}\n\ndata: {"n":"b2"}\n\ndata: [DONE]\n\n');
    } finally {
      await client.close();
      server.close();
    }
  });

  it('an HTTP/1.0 client gets the frames unchunked, ended by the close', async () => {
    const { server, port } = await sseServer((sse) => {
      sse.open({});
      void sse.send({ n: 1 });
      setImmediate(() => {
        void sse.send({ n: 2 });
        sse.end();
      });
    });
    try {
      const socket = connect(port, '127.0.0.1');
      socket.end('GET / HTTP/1.0\r\n\r\n');
      let raw = '';
      for await (const c of socket) raw += String(c);
      const [head, body] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n') + 4)];
      assert.doesNotMatch(head, /transfer-encoding/i);
      assert.equal(body, 'data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n');
    } finally {
      server.close();
    }
  });

  it('a write after the end never reaches the connection, which carries the next response intact', async () => {
    const { server, port } = await sseServer((sse, url) => {
      sse.open({});
      void sse.send({ url });
      sse.end();
      void sse.send({ late: url });
      process.nextTick(() => void sse.send({ later: url }));
    });
    let connections = 0;
    server.on('connection', () => connections++);
    const client = new Client(`http://127.0.0.1:${port}`);
    try {
      for (const path of ['/1', '/2', '/3']) {
        const res = await client.request({ path, method: 'GET' });
        assert.equal(await res.body.text(), `data: {"url":"${path}"}\n\ndata: [DONE]\n\n`);
      }
      // Bytes after a response's end would make the client drop the connection and open another.
      assert.equal(connections, 1);
    } finally {
      await client.close();
      server.close();
    }
  });
});
