import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAKE_GOOGLE_KEY, startFakeGoogleMedia, type FakeGoogleMedia } from '../../test/support/fake-google-media.js';
import { fakeBytes, never, readAll } from '../../test/support/fake-media.js';
import { googleMedia } from './google-media.js';
import { ProviderError, type MediaOutputFile, type MediaRequest } from './spec.js';

const media = (fake: FakeGoogleMedia, key = FAKE_GOOGLE_KEY) => googleMedia({ type: 'google', base_url: `${fake.origin}/v1beta`, api_key: key });
const req = (r: Partial<MediaRequest> & Pick<MediaRequest, 'kind' | 'upstreamModel'>): MediaRequest => ({ options: {}, signal: never, ...r });

describe('google media', () => {
  let fake: FakeGoogleMedia;
  before(async () => (fake = await startFakeGoogleMedia()));
  after(() => fake.close());

  it('Imagen: :predict with instances[{prompt}] and parameters{sampleCount, aspectRatio}; done with the image bytes', async () => {
    const p = media(fake);
    const out = await p.start(req({ kind: 'image', upstreamModel: 'imagen-4.0-generate-001', prompt: 'a robot', options: { aspect_ratio: '16:9' } }));
    const got = fake.requests.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/v1beta/models/imagen-4.0-generate-001:predict');
    assert.equal(got.headers['x-goog-api-key'], FAKE_GOOGLE_KEY);
    assert.equal(got.raw.toString(), JSON.stringify({ instances: [{ prompt: 'a robot' }], parameters: { sampleCount: 1, aspectRatio: '16:9' } }));
    assert.deepEqual(out, { state: 'done', result: { files: [{ data: fakeBytes('PNG', 'a robot'), mediaType: 'image/png' }] } });
    await p.close();
  });

  it('Imagen with every image filtered: a non-retryable content_filter error', async () => {
    const p = media(fake);
    await assert.rejects(
      p.start(req({ kind: 'image', upstreamModel: 'imagen-4.0-generate-001', prompt: 'forbidden thing' })),
      (err: unknown) => err instanceof ProviderError && err.code === 'content_filter' && !err.retryable,
    );
    await p.close();
  });

  it('Veo: :predictLongRunning answers running with the operation name; poll downloads the video with the key, not leaking it past the redirect', async () => {
    const p = media(fake);
    const image = { data: new Uint8Array([0xff, 0xd8, 0xff]), mediaType: 'image/jpeg' };
    const r = req({ kind: 'video', upstreamModel: 'veo-3.0-generate-001', prompt: 'a cat surfing', options: { aspect_ratio: '16:9', duration: 6, negative_prompt: 'rain' }, input: image });
    const started = await p.start(r);
    const got = fake.requests.at(-1)!;
    assert.equal(got.path, '/v1beta/models/veo-3.0-generate-001:predictLongRunning');
    assert.equal(
      got.raw.toString(),
      JSON.stringify({
        instances: [{ prompt: 'a cat surfing', image: { bytesBase64Encoded: '/9j/', mimeType: 'image/jpeg' } }],
        parameters: { aspectRatio: '16:9', durationSeconds: 6, negativePrompt: 'rain' },
      }),
    );
    assert.deepEqual(started, { state: 'running', providerJobId: 'models/veo-3.0-generate-001/operations/op1', pollAfterMs: 10000 });
    assert.ok(started.state === 'running');

    const second = await p.poll!(r, started.providerJobId);
    assert.equal(fake.requests.at(-1)!.path, '/v1beta/models/veo-3.0-generate-001/operations/op1');
    assert.equal(second.state, 'running');
    const third = await p.poll!(r, started.providerJobId);
    assert.ok(third.state === 'done');
    const [{ open, ...file }] = third.result.files as [MediaOutputFile];
    assert.deepEqual({ ...third.result, files: [file] }, { files: [{ mediaType: 'video/mp4', metadata: { duration: 6 } }], measured: { seconds: 6 } });
    // The video is not read by the poll: the store opens it when it stores it, and reads it as it writes.
    const seen = (q: { method: string; path: string; headers: Record<string, unknown> }) => `${q.method} ${q.path} key=${(q.headers['x-goog-api-key'] as string | undefined) ?? '-'}`;
    assert.equal(fake.requests.at(-1)!.path, '/v1beta/models/veo-3.0-generate-001/operations/op1');
    const opened = await open!(new AbortController().signal);
    assert.equal(opened.mediaType, 'video/mp4');
    assert.deepEqual(await readAll(opened.body), fakeBytes('MP4', 'op1'));
    assert.deepEqual(fake.requests.slice(-2).map(seen), [
      `GET /v1beta/models/veo-3.0-generate-001/operations/op1 key=${FAKE_GOOGLE_KEY}`,
      `GET /v1beta/files/op1:download?alt=media key=${FAKE_GOOGLE_KEY}`,
    ]);
    // The redirect goes to another origin: followed, without the key.
    assert.deepEqual(fake.storage.requests.map(seen), ['GET /storage/op1.mp4?sig=abc key=-']);
    await p.close();
  });

  it('a Veo operation that ends with an error rejects with its message, not retryable', async () => {
    const p = media(fake);
    const r = req({ kind: 'video', upstreamModel: 'veo-3.0-fast-generate-001', prompt: 'please fail' });
    const started = await p.start(r);
    assert.deepEqual(fake.requests.at(-1)!.json, { instances: [{ prompt: 'please fail' }], parameters: {} });
    assert.ok(started.state === 'running');
    await p.poll!(r, started.providerJobId);
    await assert.rejects(
      p.poll!(r, started.providerJobId),
      (err: unknown) => err instanceof ProviderError && !err.retryable && err.message === 'Veo operation failed: Video generation failed due to an internal error.',
    );
    await p.close();
  });

  it("refuses operation names that are not paths of the API, and refusals carry Google's message", async () => {
    const p = media(fake);
    const before = fake.requests.length;
    await assert.rejects(p.poll!(req({ kind: 'video', upstreamModel: 'veo' }), '../../x'), (err: unknown) => err instanceof ProviderError && err.status === 400);
    await assert.rejects(p.poll!(req({ kind: 'video', upstreamModel: 'veo' }), 'https://evil.test/x'), (err: unknown) => err instanceof ProviderError && err.status === 400);
    assert.equal(fake.requests.length, before);
    await p.close();
    const bad = media(fake, 'wrong');
    await assert.rejects(
      bad.start(req({ kind: 'image', upstreamModel: 'imagen-4.0-generate-001', prompt: 'x' })),
      (err: unknown) => err instanceof ProviderError && err.status === 400 && err.message === 'API key not valid. Please pass a valid API key.',
    );
    await bad.close();
  });
});
