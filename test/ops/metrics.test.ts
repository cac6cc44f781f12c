// /metrics, /healthz, /readyz and request ids, against a real server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startHarness, type Harness } from '../support/harness.js';

/** The value of one sample line, e.g. metric('x_total', { model: 'a' }); undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('observability', () => {
  let h: Harness;
  const metrics = async () => (await h.get('/metrics')).text;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('counts requests by route and status, tokens charged and time to first token by model', async () => {
    const a = await h.account({ tokens: 20 });
    h.fake.respondWith({ chunks: ['a', 'b'] });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5', prompt: 'x' }, a.key)).status, 200);
    assert.equal((await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }, a.key)).status, 200);
    assert.equal((await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'x' }] }, a.key)).status, 200);
    assert.equal((await h.post('/api/v2/generate', { model: 'nope', prompt: 'x' }, a.key)).status, 404);
    assert.equal((await h.get('/no/such/route')).status, 404);

    const r = await h.get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    const t = r.text;
    assert.equal(sample(t, 'lumengate_http_requests_total', { method: 'POST', route: '/api/v2/generate', status: '200' }), 1);
    assert.equal(sample(t, 'lumengate_http_requests_total', { method: 'POST', route: '/api/v2/generate', status: '404' }), 1);
    assert.equal(sample(t, 'lumengate_http_requests_total', { method: 'POST', route: '/api/v2/generate/stream', status: '200' }), 1);
    assert.equal(sample(t, 'lumengate_http_requests_total', { method: 'POST', route: '/v1/chat/completions', status: '200' }), 1);
    assert.equal(sample(t, 'lumengate_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1);
    assert.equal(sample(t, 'lumengate_tokens_charged_total', { model: 'gpt-5' }), 2);
    assert.equal(sample(t, 'lumengate_tokens_charged_total', { model: 'gpt-5-nano' }), 2);
    assert.equal(sample(t, 'lumengate_generation_time_to_first_token_seconds_count', { model: 'gpt-5-nano' }), 2);
    assert.equal(sample(t, 'lumengate_generation_duration_seconds_count', { model: 'gpt-5', status: 'completed' }), 1);
    assert.ok(sample(t, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics');
  });

  it('provider errors by provider, and failed generations charge nothing', async () => {
    const a = await h.account({ tokens: 10 });
    const before = sample(await metrics(), 'lumengate_provider_errors_total', { provider: 'openai' }) ?? 0;
    h.fake.respondWith({ status: 500 });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x' }, a.key)).status, 500);
    h.fake.respondWith({});
    const t = await metrics();
    // The harness allows one retry: two failed attempts.
    assert.equal(sample(t, 'lumengate_provider_errors_total', { provider: 'openai' }), before + 2);
    assert.equal(sample(t, 'lumengate_generation_duration_seconds_count', { model: 'gpt-5-nano', status: 'failed' }), 1);
  });

  it('open streams gauge: 1 while a stream is open, 0 after', async () => {
    const a = await h.account({ tokens: 10 });
    // The upstream holds the stream open after its first chunk until the gauge has been seen at 1.
    let release!: () => void;
    h.fake.respondWith({ chunks: ['slow', 'er'], holdAfter: { writes: 1, until: new Promise<void>((r) => (release = r)) } });
    const res = await fetch(`${h.url}/api/v2/generate/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-5-nano', prompt: 'x' }),
    });
    const body = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    try {
      // The gauge goes up as the stream opens, before its generation_start is written: once the
      // client has read generation_start, the stream is open and counted until the upstream is released.
      while (!text.includes('generation_start')) {
        const { value, done } = await body.read();
        assert.ok(!done, `the stream ended before it opened: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
      assert.equal(sample(await metrics(), 'lumengate_open_streams'), 1);
    } finally {
      release();
    }
    // Read to the end: settlement, which counts the stream closed, comes before the stream's end.
    while (!(await body.read()).done);
    assert.equal(sample(await metrics(), 'lumengate_open_streams'), 0);
    h.fake.respondWith({});
  });

  it('/healthz and /readyz answer JSON; /readyz is 503 when the database is gone', async () => {
    assert.deepEqual((await h.get('/healthz')).json, { status: 'ok' });
    const ready = await h.get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { status: 'ok', database: 'ok' });
  });

  it('request ids: a sane x-request-id is echoed, anything else replaced by a UUID; SSE responses carry it', async () => {
    const echo = async (id: string) => (await fetch(`${h.url}/healthz`, { headers: { 'x-request-id': id } })).headers.get('x-request-id');
    assert.equal(await echo('abc-123_XYZ.9'), 'abc-123_XYZ.9');
    const replaced = await echo('bad id with spaces');
    assert.match(replaced!, /^[0-9a-f]{8}-[0-9a-f]{4}-/);
    assert.match((await fetch(`${h.url}/healthz`)).headers.get('x-request-id')!, /^[0-9a-f]{8}-/);
    const a = await h.account({ tokens: 10 });
    const sseId = await new Promise<unknown>((resolve, reject) => {
      const req = request(
        `${h.url}/api/v2/generate/stream`,
        { method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json', 'x-request-id': 'sse-req-1' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['x-request-id']));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'gpt-5-nano', prompt: 'x' }));
    });
    assert.equal(sseId, 'sse-req-1');
  });
});

describe('readiness without a database', () => {
  it('/readyz answers 503 service_unavailable JSON when the database does not answer', async () => {
    const h = await startHarness();
    try {
      await h.server.db.close();
      const r = await h.get('/readyz');
      assert.equal(r.status, 503);
      assert.equal(r.json.error, 'service_unavailable');
      assert.match(r.json.message, /database unreachable/);
      assert.equal((await h.get('/healthz')).status, 200);
    } finally {
      await h.close();
    }
  });
});
