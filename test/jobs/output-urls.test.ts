// What the gateway downloads from a job's output (docs/api.md): a text model's answer is text even
// when it reads as a URL, and output URLs off the provider's own origin are fetched only from public
// addresses. An "internal" server on 127.0.0.1 stands for a service (or a cloud metadata endpoint)
// only the gateway can reach: it must never be asked for anything.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { settled, startJobHarness, type Harness } from '../support/harness.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import { FAKE_GOOGLE_KEY, startFakeGoogleMedia, type FakeGoogleMedia } from '../support/fake-google-media.js';
import { endedJob } from '../support/job-rows.js';

describe('output URLs', () => {
  let h: Harness;
  let fake: FakeReplicate;
  let internal: Server;
  let port: number;
  const hits: string[] = [];
  before(async () => {
    internal = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'image/webp' });
      res.end('INTERNAL-ONLY secret');
    });
    await new Promise<void>((r) => internal.listen(0, '127.0.0.1', r));
    port = (internal.address() as AddressInfo).port;
    fake = await startFakeReplicate();
    h = await startJobHarness({
      REPLICATE_API_TOKEN: 'r8_fake_test_token',
      REPLICATE_BASE_URL: fake.baseUrl,
    });
  });
  after(async () => {
    await h.close();
    await fake.close();
    internal.closeAllConnections();
    await new Promise((r) => internal.close(r));
  });
  beforeEach(() => {
    fake.queue.length = 0;
  });

  it('text-ocr: text that reads as a URL is the answer (result_text), never fetched', async () => {
    const acc = await h.account({ tokens: 10 });
    const text = `http://127.0.0.1:${port}/latest/meta-data/iam/security-credentials/role`;
    fake.queue.push({ polls: 1, text });
    const r = await h.post('/api/v2/generate', { model: 'text-ocr', image_url: 'https://example.com/a-url-written-on-paper.png' }, acc.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.status, r.json.result_text, r.json.result_url, r.json.tokens_spent], ['completed', text, null, 1]);
    assert.deepEqual(hits, []);
  });

  for (const [what, url] of [
    ['a loopback IP literal', () => `http://127.0.0.1:${port}/out.webp`],
    ['a name resolving to loopback', () => `http://localhost:${port}/out.webp`],
    ['a link-local address (cloud metadata)', () => 'http://169.254.169.254/latest/meta-data/'],
  ] as const) {
    it(`an output file URL on ${what} (not the provider's origin) is not downloaded: failed, nothing charged`, async () => {
      const acc = await h.account({ tokens: 10 });
      fake.queue.push({ polls: 1, urls: [url()] });
      const r = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'x', wait: 0 }, acc.key);
      assert.equal(r.status, 200, r.text);
      const done = await settled(h, r.json.id, acc.key);
      assert.deepEqual([done.status, done.tokens_spent, done.result_url, await h.balance(acc.id)], ['failed', 0, null, 10]);
      assert.match(done.error, /not a public address|not on a public address/);
      // Refused for good: no second attempt.
      assert.equal((await endedJob(h.server.db, r.json.id)).attempts, 1);
      assert.deepEqual(hits, []);
    });
  }
});

// Veo's video URI needs the API key, so the provider downloads it itself (src/providers/google-media.ts):
// the same check, and the key only ever goes to Google's own origin.
describe('Veo video URIs', () => {
  let h: Harness;
  let google: FakeGoogleMedia;
  let internal: Server;
  let port: number;
  const hits: { url: string; key: unknown }[] = [];
  before(async () => {
    internal = createServer((req, res) => {
      hits.push({ url: req.url ?? '', key: req.headers['x-goog-api-key'] });
      res.writeHead(200, { 'content-type': 'video/mp4' });
      res.end('INTERNAL-ONLY secret');
    });
    await new Promise<void>((r) => internal.listen(0, '127.0.0.1', r));
    port = (internal.address() as AddressInfo).port;
    google = await startFakeGoogleMedia();
    h = await startJobHarness({
      GOOGLE_API_KEY: FAKE_GOOGLE_KEY,
      GOOGLE_BASE_URL: `${google.origin}/v1beta`,
    });
  });
  after(async () => {
    await h.close();
    await google.close();
    internal.closeAllConnections();
    await new Promise((r) => internal.close(r));
  });
  beforeEach(() => {
    delete google.videoUri;
  });

  it("the video on Google's files API is downloaded with the key, through its redirect to storage without it", async () => {
    const acc = await h.account({ plan: 'pro', tokens: 1000 });
    const r = await h.post('/api/v2/generate', { model: 'veo-3.1', prompt: 'the fox runs', wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    const done = await settled(h, r.json.id, acc.key);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.ok(done.result_url);
    assert.ok(done.tokens_spent > 0);
    assert.deepEqual(
      google.storage.requests.map((q) => q.headers['x-goog-api-key']),
      [undefined],
    );
  });

  it('veo-3.1 without a duration: Veo is asked for the 8 s it makes by default, and the 8 s are quoted, held and charged', async () => {
    const acc = await h.account({ plan: 'pro', tokens: 1000 });
    const quote = await h.post('/api/v2/models/veo-3.1/calculate-price', { params: {} }, acc.key);
    const r = await h.post('/api/v2/generate', { model: 'veo-3.1', prompt: 'the fox runs', wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    const done = await settled(h, r.json.id, acc.key);
    const sent = google.requests.filter((q) => q.pathname.endsWith(':predictLongRunning')).at(-1)!;
    assert.equal(sent.json.parameters.durationSeconds, 8, 'the priced default is sent, not left to Google (src/jobs/options.ts)');
    assert.equal(done.status, 'completed', JSON.stringify(done));
    // 8 s × 20.75 = 166: quoted, held and charged alike (held 4 s, 83, for the 8 s made before).
    assert.deepEqual([quote.json.token_cost, 1000 - r.json.balance_remaining, done.tokens_spent, await h.balance(acc.id)], [166, 166, 166, 834]);
  });

  for (const [what, uri] of [
    ['a loopback IP literal', () => `http://127.0.0.1:${port}/video.mp4`],
    ['a name resolving to loopback', () => `http://localhost:${port}/video.mp4`],
  ] as const) {
    it(`a video URI on ${what} (not Google's origin) is not downloaded: failed, refunded, nothing charged`, async () => {
      const acc = await h.account({ plan: 'pro', tokens: 1000 });
      google.videoUri = uri;
      const r = await h.post('/api/v2/generate', { model: 'veo-3.1', prompt: 'the fox runs', wait: 0 }, acc.key);
      assert.equal(r.status, 200, r.text);
      const done = await settled(h, r.json.id, acc.key);
      assert.deepEqual([done.status, done.tokens_spent, done.result_url, await h.balance(acc.id)], ['failed', 0, null, 1000]);
      assert.match(done.error, /not a public address|not on a public address/);
      assert.equal((await endedJob(h.server.db, r.json.id)).attempts, 1);
      assert.deepEqual(hits, []);
    });
  }
});
