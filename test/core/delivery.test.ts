// Delivery: a client that hangs up before a non-streamed answer was sent pays nothing; a client
// that reads slowly is not failed by the upstream chunk-gap timer, and the upstream waits for it;
// an upstream that says [DONE] but keeps the connection open ends the answer at once; an endless
// line is cut, not buffered.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { allSettled, settled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import { blockedFor } from '../support/waits.js';
import { openAITextModel } from '../support/text-models.js';
import { MAX_EVENT_CHARS } from '../../src/providers/body-limit.js';

const GAP_MS = 500;

describe('delivery', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      catalog: {
        circuit_breaker: { failures: 1_000, cooldown_ms: 1_000 },
        models: [
          // A small chunk gap: the slow-reader test must outlast it many times over.
          { slug: 'gpt-5', timeouts: { first_token_ms: 20_000, chunk_gap_ms: GAP_MS, total_ms: 60_000 } },
          // Timeouts far past the tests' own: [DONE] (or the client leaving) must end the answer, never a timer.
          { slug: 'gpt-5.2', timeouts: { first_token_ms: 600_000, chunk_gap_ms: 600_000, total_ms: 600_000 } },
          // A short total time, for a reader that stops reading.
          { ...openAITextModel('gpt-5-total'), min_plan: 'free', timeouts: { first_token_ms: 20_000, chunk_gap_ms: 600_000, total_ms: 2_000 } },
        ],
      },
      // One generation at a time per account: a place the stalled reader kept would refuse the next.
      env: { LUMENGATE_MAX_CONCURRENT_PER_ACCOUNT: '1' },
    });
  });
  after(() => h.close());
  beforeEach(() => {
    h.fake.respondWith({});
    h.fake.requests.length = 0;
  });

  for (const [path, body] of [
    ['/api/v2/generate', { model: 'gpt-5.2', prompt: 'x' }],
    ['/v1/chat/completions', { model: 'gpt-5.2', messages: [{ role: 'user', content: 'x' }] }],
  ] as const) {
    it(`${path} (not streamed): a client that hangs up before the answer is not charged and the upstream is closed`, { timeout: 60_000 }, async () => {
      const acct = await h.account({ plan: 'elite', tokens: 100 });
      // The first words come at once, the rest is held until the test is over: only the gateway
      // can close the upstream connection (and the gap timeout is far past the test's own).
      let release!: () => void;
      h.fake.respondWith({ chunks: ['early', 'late'], holdAfter: { writes: 1, until: new Promise<void>((r) => (release = r)) } });
      const arrived = h.fake.nextRequest();
      const ac = new AbortController();
      const pending = fetch(h.url + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${acct.key}` }, body: JSON.stringify(body), signal: ac.signal });
      const upstream = await arrived;
      ac.abort();
      await assert.rejects(pending);
      await upstream.closed;
      release();
      const [g] = await allSettled(h, acct.id);
      assert.equal(g.status, 'failed');
      assert.equal(g.tokens_spent, 0);
      assert.equal(await h.balance(acct.id), 100);
      assert.deepEqual(await h.ledgerMismatches(), []);
    });
  }

  it('a slow-reading stream client is not failed by the chunk-gap timer, and the upstream waits too: completed and charged', { timeout: 120_000 }, async () => {
    const acct = await h.account({ plan: 'elite', tokens: 100 });
    // ~32 MB of answer: far more than the loopback sockets of both hops buffer (a receive buffer
    // grows only as it is read, a send buffer to 4 MB), so the server must wait on the client, and
    // the upstream on the server.
    const chunks = Array.from({ length: 4000 }, (_, i) => `${String(i).padStart(4, '0')}${'y'.repeat(8 * 1024)}`);
    h.fake.respondWith({ chunks });
    const upstream = h.fake.nextRequest();
    // The server side of the client's connection, to see its backpressure.
    const served = new Promise<ServerResponse>((resolve) => {
      const onRequest = (req: IncomingMessage, res: ServerResponse) => {
        if (req.url !== '/api/v2/generate/stream') return;
        h.server.app.server.off('request', onRequest);
        resolve(res);
      };
      h.server.app.server.on('request', onRequest);
    });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(`${h.url}/api/v2/generate/stream`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${acct.key}` } }, resolve);
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'gpt-5', prompt: 'long answer please' }));
    });
    const res = await response;
    res.pause();
    const serverRes = await served;
    // The socket's own buffer: SSE frames are written to it directly (src/http/sse.ts). Stay blocked
    // there one gap timeout long (the condition under test): the wait ends once the server has waited
    // GAP_MS for the client since its last write, which came after the last upstream part it read; a
    // gap timer (re)armed by that part and not paused would have fired first (waits.ts). Then read
    // everything.
    await blockedFor(serverRes.socket!, GAP_MS);
    assert.ok(serverRes.socket!.writableNeedDrain, 'still under backpressure');
    // The server stopped reading the upstream instead of holding the answer in memory: the rest
    // is still in the fake upstream's own buffer.
    assert.ok((await upstream).response.writableLength > 0, 'the upstream is under backpressure too');
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => (text += d));
    res.resume();
    await new Promise((r) => res.on('end', r));
    const events = sseEvents(text);
    const types = events.map((e) => e.type ?? e);
    assert.equal(types.at(-2), 'generation_end', `ended with ${JSON.stringify(events.at(-2)).slice(0, 300)}`);
    assert.equal(types.filter((t) => t === 'content_delta').length, chunks.length);
    const g = await settled(h, events[0].id, acct.key);
    assert.equal(g.status, 'completed');
    assert.ok(g.tokens_spent > 0);
    assert.equal(await h.balance(acct.id), 100 - g.tokens_spent);
  });

  it("a client that stops reading does not keep its generation past the model's total time: it fails, is released, and its place is free", { timeout: 60_000 }, async () => {
    const acct = await h.account({ plan: 'elite', tokens: 100 });
    // Far more than the sockets hold: the server waits for this client, which never reads again.
    // The kernel grows a loopback connection's buffers up to its maxima (tcp_rmem's 32 MiB on some
    // machines), so a fixed 16 MB answer could all fit in them, and complete, on one.
    const chunk = 8 * 1024;
    h.fake.respondWith({ chunks: Array.from({ length: Math.ceil((2 * socketBuffersMax()) / chunk) }, (_, i) => `${i} ${'y'.repeat(chunk)}`) });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(`${h.url}/api/v2/generate/stream`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${acct.key}` } }, resolve);
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'gpt-5-total', prompt: 'long answer please' }));
    });
    res.pause();
    // The writes after the cancel (what the generation had read already) wait on the same drain, not on a listener each.
    const warnings: string[] = [];
    const onWarning = (w: Error) => void (w.name === 'MaxListenersExceededWarning' && warnings.push(w.message));
    process.on('warning', onWarning);
    try {
      const id = Number(res.headers['x-generation-id']);
      // Ends at its total time (2 s) while the client still reads nothing: the settlement's event, not a sleep.
      const g = await settled(h, id, acct.key);
      assert.equal(g.status, 'failed');
      assert.match(g.error, /total time/);
      assert.equal(g.tokens_spent, 0);
      assert.equal(await h.balance(acct.id), 100);
      // Its place among the account's running generations (the cap is 1 here) is free again.
      h.fake.respondWith({ chunks: ['ok'] });
      const next = await h.post('/api/v2/generate', { model: 'gpt-5.2', prompt: 'x' }, acct.key);
      assert.equal(next.status, 200, next.text);
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
      res.destroy();
    }
  });

  it('an upstream that sends [DONE] but keeps the connection open: the answer ends at once', { timeout: 60_000 }, async () => {
    const acct = await h.account({ plan: 'elite', tokens: 100 });
    for (const stream of [true, false]) {
      h.fake.respondWith({ chunks: ['all', ' there'], ending: 'done-no-close' });
      // The answer ends on [DONE] itself: had it waited for the connection to end, the test would
      // time out (the gap timeout is 10 minutes).
      const r = await h.post(stream ? '/api/v2/generate/stream' : '/api/v2/generate', { model: 'gpt-5.2', prompt: 'x' }, acct.key);
      if (stream) {
        const events = sseEvents(r.text);
        assert.deepEqual(
          events.map((e) => e.type ?? e),
          ['generation_start', 'content_delta', 'content_delta', 'generation_end', '[DONE]'],
        );
        assert.ok(events[3].tokens_spent > 0, 'charged');
      } else {
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.status, 'completed');
        assert.equal(r.json.result_text, 'all there');
      }
    }
  });

  for (const chunks of [['start'], []]) {
    it(`an endless upstream line (${chunks.length ? 'after' : 'before'} the first words) fails as provider_error at the cap, 0 charged`, { timeout: 60_000 }, async () => {
      const acct = await h.account({ plan: 'elite', tokens: 100 });
      h.fake.respondWith({ chunks, endlessLine: 4 * MAX_EVENT_CHARS });
      const arrived = h.fake.nextRequest();
      const r = await h.post('/api/v2/generate', { model: 'gpt-5.2', prompt: 'x' }, acct.key);
      assert.equal(r.status, 500, r.text);
      assert.equal(r.json.error, 'provider_error');
      assert.match(r.json.message, /longer than/);
      // Cut at the cap, not read to the end: the upstream connection is closed.
      await (
        await arrived
      ).closed;
      assert.equal(h.fake.requests.length, 1, 'not retried');
      const g = await settled(h, r.json.details.generation_id, acct.key);
      assert.equal(g.status, 'failed');
      assert.equal(g.tokens_spent, 0);
      assert.equal(await h.balance(acct.id), 100);
    });
  }
});

/** The most one loopback connection's kernel buffers may hold: the receiver's and the sender's autotuning maxima (Linux; 10 MiB elsewhere). */
function socketBuffersMax(): number {
  const max = (file: string) => {
    try {
      return Number(readFileSync(file, 'utf8').trim().split(/\s+/).at(-1));
    } catch {
      return 5 << 20;
    }
  };
  return max('/proc/sys/net/ipv4/tcp_rmem') + max('/proc/sys/net/ipv4/tcp_wmem');
}
