// Slow clients and connection floods: a request whose body trickles in is answered 408 and closed
// after LUMENGATE_REQUEST_TIMEOUT_MS (an SSE stream, whose request is complete, is not), and one
// client address holds at most LUMENGATE_MAX_CONNECTIONS_PER_IP connections.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { request } from 'node:http';
import { startHarness, type Harness } from '../support/harness.js';
import { startGatedOpenAI, type GatedUpstream } from '../support/gated-openai.js';

const opened = new Set<Socket>();
/** Destroys what a failed test left open, so that closing the server cannot hang. */
const destroyAll = () => {
  for (const s of opened) s.destroy();
};

/** A connected raw socket and everything it received until it closed. */
async function rawSocket(url: string): Promise<{ socket: Socket; closed: Promise<string> }> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  opened.add(socket);
  await once(socket, 'connect');
  let raw = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => (raw += c));
  socket.on('error', () => {});
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve(raw))) };
}

describe('request timeout', () => {
  let h: Harness;
  let upstream: GatedUpstream;
  before(async () => {
    upstream = await startGatedOpenAI();
    h = await startHarness({ env: { LUMENGATE_REQUEST_TIMEOUT_MS: '400', OPENAI_BASE_URL: `${upstream.origin}/v1` } });
  });
  after(async () => {
    destroyAll();
    await upstream.close();
    await h.close();
  });

  it('a body that trickles in is answered 408 and closed; an SSE stream open longer than the timeout is not cut', { timeout: 120_000 }, async () => {
    const a = await h.account({ tokens: 10 });
    // A stream that is in flight before the slow client starts, so it lives longer than the timeout.
    const streamed = new Promise<string>((resolve) => {
      const req = request(`${h.url}/api/v2/generate/stream`, { method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('close', () => resolve(body));
      });
      req.on('error', () => resolve(''));
      req.end(JSON.stringify({ model: 'gpt-5-nano', prompt: 'long story' }));
    });
    await upstream.waitFor(1);

    // 1 byte of a 100-byte body, then nothing: the server ends it. (With a valid key: without one the
    // auth hook answers 401 before the body is read, and the timeout still closes the connection.)
    const slow = await rawSocket(h.url);
    slow.socket.write(`POST /api/v2/generate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
    const answer = await slow.closed;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"error":"request_timeout"/);

    // Headers that never finish are cut too.
    const noHead = await rawSocket(h.url);
    noHead.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    assert.match(await noHead.closed, /^(HTTP\/1\.1 408 |$)/);

    upstream.release();
    const body = await streamed;
    assert.match(body, /"type":"generation_end"/, 'the stream outlived the request timeout and completed');
    const g = await h.server.db.kysely.selectFrom('generations').select(['status']).where('account_id', '=', a.id).executeTakeFirstOrThrow();
    assert.equal(g.status, 'completed');
  });
});

describe('connections per client address', () => {
  let h: Harness;
  const MAX = 3;
  before(async () => {
    h = await startHarness({ env: { LUMENGATE_MAX_CONNECTIONS_PER_IP: String(MAX) } });
  });
  after(async () => {
    destroyAll();
    await h.close();
  });

  it(`refuses connection ${MAX + 1} while ${MAX} are open, accepts again once one closes`, { timeout: 120_000 }, async () => {
    // Server-side sockets, to wait for the server to see a close.
    const serverSide: Socket[] = [];
    const onConnection = (s: Socket) => serverSide.push(s);
    h.server.app.server.on('connection', onConnection);
    const ping = async (s: Socket) => {
      const got = new Promise<string>((resolve) => {
        let raw = '';
        const onData = (c: string) => {
          raw += c;
          if (raw.includes('\r\n\r\n') && raw.includes('"status"')) {
            s.off('data', onData);
            resolve(raw);
          }
        };
        s.on('data', onData);
      });
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      return got;
    };
    try {
      const held = [];
      for (let i = 0; i < MAX; i++) {
        const c = await rawSocket(h.url);
        // Answered and kept open (keep-alive): the server counts it.
        assert.match(await ping(c.socket), /^HTTP\/1\.1 200 /);
        held.push(c);
      }
      const extra = await rawSocket(h.url);
      extra.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await extra.closed, '', 'closed at once, nothing answered');

      // One of the three goes away: a new connection is served again.
      const first = serverSide[0]!;
      const serverClosed = once(first, 'close');
      held[0]!.socket.destroy();
      await serverClosed;
      const again = await rawSocket(h.url);
      assert.match(await ping(again.socket), /^HTTP\/1\.1 200 /);
      for (const c of [...held.slice(1), again]) c.socket.destroy();
    } finally {
      h.server.app.server.off('connection', onConnection);
    }
  });
});
