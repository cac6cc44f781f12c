import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAKE_LUMA_KEY, startFakeLuma, type FakeLuma } from '../../test/support/fake-luma.js';
import { never } from '../../test/support/fake-media.js';
import { lumaMedia } from './luma.js';
import { ProviderError, type MediaRequest } from './spec.js';

const media = (fake: FakeLuma, key = FAKE_LUMA_KEY) => lumaMedia({ type: 'luma', base_url: `${fake.origin}/dream-machine/v1`, api_key: key });
const req = (r: Partial<MediaRequest> & Pick<MediaRequest, 'kind' | 'upstreamModel'>): MediaRequest => ({ options: {}, signal: never, ...r });

describe('luma media', () => {
  let fake: FakeLuma;
  before(async () => (fake = await startFakeLuma()));
  after(() => fake.close());

  it('video: start posts the Ray body and answers running with the generation id; poll runs it to the asset URL', async () => {
    const p = media(fake);
    const r = req({ kind: 'video', upstreamModel: 'ray-2', prompt: 'a wave', options: { duration: 9, aspect_ratio: '16:9', resolution: '720p', image_url: 'https://example.test/a.jpg' } });
    const started = await p.start(r);
    const got = fake.requests.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/dream-machine/v1/generations/video');
    assert.equal(got.headers.authorization, `Bearer ${FAKE_LUMA_KEY}`);
    assert.equal(
      got.raw.toString(),
      JSON.stringify({ prompt: 'a wave', model: 'ray-2', resolution: '720p', duration: '9s', aspect_ratio: '16:9', keyframes: { frame0: { type: 'image', url: 'https://example.test/a.jpg' } } }),
    );
    assert.equal(started.state, 'running');
    assert.ok(started.state === 'running');
    assert.ok(fake.generations.has(started.providerJobId));
    assert.equal(started.pollAfterMs, 5000);

    // queued -> dreaming -> completed, one state per read.
    const second = await p.poll!(r, started.providerJobId);
    assert.deepEqual(second, { state: 'running', providerJobId: started.providerJobId, pollAfterMs: 5000 });
    assert.equal(fake.requests.at(-1)!.method, 'GET');
    assert.equal(fake.requests.at(-1)!.path, `/dream-machine/v1/generations/${started.providerJobId}`);
    const third = await p.poll!(r, started.providerJobId);
    assert.deepEqual(third, {
      state: 'done',
      providerJobId: started.providerJobId,
      result: { files: [{ url: `https://storage.cdn-luma.com/dream_machine/${started.providerJobId}/out.mp4`, mediaType: 'video/mp4', metadata: { duration: 9 } }], measured: { seconds: 9 } },
    });
    await p.close();
  });

  it('a poll by another instance (a fresh provider, only the stored id) resumes the same generation', async () => {
    const r = req({ kind: 'image', upstreamModel: 'photon-1', prompt: 'a lighthouse', options: { aspect_ratio: '1:1' } });
    const first = media(fake);
    const started = await first.start(r);
    assert.deepEqual(fake.requests.at(-1)!.json, { prompt: 'a lighthouse', model: 'photon-1', aspect_ratio: '1:1' });
    await first.close();
    assert.ok(started.state === 'running');
    assert.equal(started.pollAfterMs, 2000);
    const creates = fake.requests.filter((q) => q.method === 'POST').length;
    const second = media(fake);
    let progress = await second.poll!(r, started.providerJobId);
    while (progress.state === 'running') progress = await second.poll!(r, progress.providerJobId);
    assert.deepEqual(progress.result.files, [{ url: `https://storage.cdn-luma.com/dream_machine/${started.providerJobId}/out.jpg`, mediaType: 'image/jpeg' }]);
    assert.equal(fake.requests.filter((q) => q.method === 'POST').length, creates, 'no second generation was started');
    await second.close();
  });

  it('a failed generation rejects with its failure_reason, not retryable', async () => {
    const p = media(fake);
    const r = req({ kind: 'image', upstreamModel: 'photon-flash-1', prompt: 'please fail' });
    const started = await p.start(r);
    assert.ok(started.state === 'running');
    await p.poll!(r, started.providerJobId);
    await assert.rejects(
      p.poll!(r, started.providerJobId),
      (err: unknown) => err instanceof ProviderError && !err.retryable && err.message === 'Luma generation failed: 400: prompt not allowed because advanced moderation failed',
    );
    await p.close();
  });

  it('cancel deletes the generation', async () => {
    const p = media(fake);
    const r = req({ kind: 'video', upstreamModel: 'ray-flash-2', prompt: 'x' });
    const started = await p.start(r);
    assert.ok(started.state === 'running');
    await p.cancel!(r, started.providerJobId);
    assert.equal(fake.requests.at(-1)!.method, 'DELETE');
    assert.equal(fake.requests.at(-1)!.path, `/dream-machine/v1/generations/${started.providerJobId}`);
    assert.equal(fake.generations.has(started.providerJobId), false);
    await p.close();
  });

  it("refusals carry Luma's {detail} message and status", async () => {
    const bad = media(fake, 'nope');
    await assert.rejects(
      bad.start(req({ kind: 'image', upstreamModel: 'photon-1', prompt: 'x' })),
      (err: unknown) => err instanceof ProviderError && err.status === 401 && err.message === 'Invalid API key',
    );
    await bad.close();
    const p = media(fake);
    await assert.rejects(
      p.poll!(req({ kind: 'image', upstreamModel: 'photon-1' }), '00000000-0000-0000-0000-000000000000'),
      (err: unknown) => err instanceof ProviderError && err.status === 404 && err.message === 'Generation not found',
    );
    await assert.rejects(p.start(req({ kind: 'tts', upstreamModel: 'x', prompt: 'x' })), (err: unknown) => err instanceof ProviderError && err.status === 400);
    await p.close();
  });
});
