import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent, Client } from 'undici';
import { callUpstream } from './upstream-call.js';

/** A local server whose handler each test sets; every request's client port is recorded. */
describe('upstream-call: one call on undici dispatch()', () => {
  let server: Server;
  let url: URL;
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const ports: number[] = [];
  const agent = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  before(async () => {
    server = createServer((req, res) => {
      ports.push(req.socket.remotePort!);
      handle(req, res);
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`);
  });
  after(async () => {
    await agent.close();
    server.closeAllConnections();
    server.close();
  });
  const call = (signal?: AbortSignal) => callUpstream(agent, url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal });
  const readAll = async (body: AsyncIterable<Buffer>) => {
    let text = '';
    for await (const chunk of body) text += chunk.toString();
    return text;
  };

  it('pauses the upstream while the caller does not read, and loses nothing', async () => {
    const piece = 'x'.repeat(16 * 1024);
    const total = 512 * piece.length; // 8 MiB, more than the socket buffers hold
    handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const more = () => {
        while (sent < total) {
          sent += piece.length;
          if (!res.write(piece)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    };
    const res = await call();
    assert.equal(res.statusCode, 200);
    // Nobody reads: the body pauses the upstream once it holds its limit, long before all arrived.
    while (!res.body.paused && !res.body.ended) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(res.body.paused, true, 'paused before the end');
    assert.equal((await readAll(res.body)).length, total);
  });

  it('drains the rest after the caller is done, so the connection is reused', async () => {
    let finish: (() => void) | undefined;
    handle = (_req, res) => {
      res.writeHead(200);
      res.write('first');
      finish = () => res.end('rest of the body');
    };
    // One connection only: the second call waits for it, and had the first call closed it instead
    // of draining it, the second would come on a new one.
    const client = new Client(url.origin, { keepAliveTimeout: 30_000 });
    const one = () => callUpstream(client, url, { method: 'POST', headers: {}, body: '{}' });
    const first = await one();
    for await (const chunk of first.body) {
      assert.equal(chunk.toString(), 'first');
      break;
    }
    first.body.drain(64 * 1024, 60_000);
    finish!();
    handle = (_req, res) => res.end('second');
    const second = await one();
    assert.equal(await readAll(second.body), 'second');
    assert.equal(ports.at(-1), ports.at(-2), `the same connection, got ports ${ports.slice(-2).join(', ')}`);
    await client.close();
  });

  it('closes the connection when the rest is more than the drain allows', async () => {
    let closed: Promise<unknown> | undefined;
    let more: (() => void) | undefined;
    handle = (req, res) => {
      closed = once(req.socket, 'close');
      res.writeHead(200);
      res.write('first');
      more = () => res.write('y'.repeat(1024));
    };
    const res = await call();
    for await (const chunk of res.body) {
      assert.equal(chunk.toString(), 'first');
      break;
    }
    res.body.drain(10, 60_000);
    more!();
    await closed;
    assert.equal(res.body.ended, true);
  });

  it("rejects with the signal's reason when aborted before the head, and the upstream sees the close", async () => {
    const abort = new AbortController();
    let closed: Promise<unknown> | undefined;
    const arrived = new Promise<void>((resolve) => {
      handle = (req) => {
        closed = once(req.socket, 'close');
        resolve();
      };
    });
    const pending = call(abort.signal);
    await arrived;
    const reason = new Error('client left');
    abort.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
    await closed;
  });

  it("throws the signal's reason from the body when aborted in the middle", async () => {
    const abort = new AbortController();
    handle = (_req, res) => {
      res.writeHead(200);
      res.write('first');
    };
    const res = await call(abort.signal);
    const reason = new Error('timeout');
    await assert.rejects(
      (async () => {
        for await (const chunk of res.body) {
          assert.equal(chunk.toString(), 'first');
          abort.abort(reason);
        }
      })(),
      (err) => err === reason,
    );
    assert.equal(res.body.ended, true);
  });

  it("throws undici's error from the body when the upstream resets mid-body", async () => {
    handle = (req, res) => {
      res.writeHead(200);
      res.write('first', () => req.socket.destroy());
    };
    const res = await call();
    await assert.rejects(readAll(res.body), (err: Error) => /other side closed|socket/i.test(err.message));
  });

  it('rejects at once, sending nothing, when the signal has already fired', async () => {
    const before = ports.length;
    const reason = new Error('gone');
    await assert.rejects(call(AbortSignal.abort(reason)), (err) => err === reason);
    assert.equal(ports.length, before);
  });

  it("lets go of undici's raw header Buffers once the head is read", async () => {
    handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'r1' });
      res.end('data: 1\n\n');
    };
    // An interceptor sees the controller undici hands our handler (the body keeps it to the end).
    let controller: { rawHeaders?: unknown } | undefined;
    const watched = agent.compose(
      (dispatch) => (opts, handler) =>
        dispatch(opts, {
          ...handler,
          onRequestStart: (c, context) => {
            controller = c;
            handler.onRequestStart?.(c, context);
          },
          onResponseStart: (c, status, headers, message) => handler.onResponseStart?.(c, status, headers, message),
          onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
          onResponseEnd: (c, trailers) => handler.onResponseEnd?.(c, trailers),
          onResponseError: (c, err) => handler.onResponseError?.(c, err),
        }),
    );
    const res = await callUpstream(watched, url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.headers['x-request-id'], 'r1');
    assert.ok(controller, 'the controller was seen');
    assert.equal(controller.rawHeaders, null);
    assert.equal(await readAll(res.body), 'data: 1\n\n');
  });
});
