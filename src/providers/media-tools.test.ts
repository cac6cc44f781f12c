// Provider-level tests of the tool and video paths against fakes that speak each wire format:
// OpenAI Videos (Sora), ElevenLabs Text to Dialogue and Dubbing, Replicate tool inputs and a text
// output (OCR).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { never, readAll } from '../../test/support/fake-media.js';
import { FAKE_OPENAI_KEY } from '../../test/support/fake-openai-media.js';
import { startFakeOpenAIVideos, type FakeOpenAIVideos } from '../../test/support/fake-openai-videos.js';
import { FAKE_ELEVENLABS_KEY } from '../../test/support/fake-elevenlabs.js';
import { startFakeElevenLabsTools, type FakeElevenLabsTools } from '../../test/support/fake-elevenlabs-tools.js';
import { startFakeReplicate, type FakeReplicate } from '../../test/support/fake-replicate.js';
import { dialogueInputs, elevenLabsMedia } from './elevenlabs.js';
import { openAIMedia } from './openai-media.js';
import { replicateInput } from './replicate-inputs.js';
import { replicateProvider } from './replicate.js';
import { ProviderError, type MediaOutputFile, type MediaRequest } from './spec.js';

const req = (r: Partial<MediaRequest> & Pick<MediaRequest, 'kind' | 'upstreamModel'>): MediaRequest => ({ options: {}, signal: never, ...r });

describe('sora (OpenAI Videos)', () => {
  let fake: FakeOpenAIVideos;
  before(async () => (fake = await startFakeOpenAIVideos()));
  after(() => fake.close());
  const media = () => openAIMedia({ type: 'openai', base_url: fake.baseUrl, api_key: FAKE_OPENAI_KEY });

  it('start posts the multipart form and answers running with the video id; polls go on until completed, then the MP4 is downloaded', async () => {
    const p = media();
    const r = req({ kind: 'video', upstreamModel: 'sora-2', prompt: 'a fox', options: { duration: 12, size: '1792x1024', image_url: 'https://example.com/first.png' } });
    const started = await p.start(r);
    assert.ok(started.state === 'running');
    const create = fake.server.requests.at(-1)!;
    assert.equal(create.headers.authorization, `Bearer ${FAKE_OPENAI_KEY}`);
    assert.match(String(create.headers['content-type']), /^multipart\/form-data; boundary=/);
    const v = fake.videos.get(started.providerJobId)!;
    assert.deepEqual(v.form, { model: 'sora-2', prompt: 'a fox', seconds: '12', size: '1792x1024', 'input_reference[image_url]': 'https://example.com/first.png' });
    const first = await p.poll!(r, started.providerJobId);
    assert.deepEqual(first, { state: 'running', providerJobId: v.id, pollAfterMs: 5_000 });
    const done = await p.poll!(r, v.id);
    assert.ok(done.state === 'done');
    const [{ open, ...file }] = done.result.files as [MediaOutputFile];
    assert.deepEqual(
      { ...done.result, files: [file] },
      {
        files: [{ mediaType: 'video/mp4', metadata: { format: 'mp4', duration: 12, width: 1792, height: 1024 } }],
        measured: { seconds: 12 },
      },
    );
    // Downloaded when the store opens it (and reads it as it writes), not by the poll.
    assert.notEqual(fake.server.requests.at(-1)!.path, `/v1/videos/${v.id}/content`);
    const opened = await open!(new AbortController().signal);
    assert.deepEqual(await readAll(opened.body), new Uint8Array(fake.bytes(v.id)));
    assert.equal(fake.server.requests.at(-1)!.path, `/v1/videos/${v.id}/content`);
    assert.equal(fake.server.requests.at(-1)!.headers.accept, 'application/binary');
    await p.close();
  });

  it('the stored input file (a data: URL given to the gateway) is sent as the input_reference file; a failed video is a non-retryable ProviderError; cancel deletes', async () => {
    const p = media();
    fake.queue.push({ ending: 'failed' });
    const r = req({ kind: 'video', upstreamModel: 'sora-2', prompt: 'x', input: { data: Buffer.from('iVBORw0KGgo=', 'base64'), mediaType: 'image/png' } });
    const started = await p.start(r);
    assert.ok(started.state === 'running');
    assert.deepEqual(fake.videos.get(started.providerJobId)!.form, { model: 'sora-2', prompt: 'x', input_reference: 'file:image/png:8' });
    await p.poll!(r, started.providerJobId);
    await assert.rejects(p.poll!(r, started.providerJobId), (err: unknown) => err instanceof ProviderError && !err.retryable && /moderation/.test(err.message));
    await p.cancel!(r, started.providerJobId);
    assert.equal(fake.server.requests.at(-1)!.method, 'DELETE');
    assert.equal(fake.videos.get(started.providerJobId)!.deleted, true);
    await p.close();
  });

  it("OpenAI's refusal of a bad duration is a 400 ProviderError with its message", async () => {
    const p = media();
    await assert.rejects(p.start(req({ kind: 'video', upstreamModel: 'sora-2', prompt: 'x', options: { duration: 5 } })), (err: unknown) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.status, 400);
      assert.match(err.message, /Supported values are: '4', '8', and '12'/);
      return true;
    });
    await p.close();
  });
});

describe('ElevenLabs dialogue and dubbing', () => {
  let fake: FakeElevenLabsTools;
  before(async () => (fake = await startFakeElevenLabsTools()));
  after(() => fake.close());
  const media = () => elevenLabsMedia({ type: 'elevenlabs', base_url: fake.baseUrl, api_key: FAKE_ELEVENLABS_KEY });

  it('dialogue takes ElevenLabs-shaped inputs, or "Speaker: line" prompt lines (continuation lines join the speaker)', () => {
    const base = { kind: 'tool' as const, upstreamModel: 'eleven_v3' };
    assert.deepEqual(dialogueInputs(req({ ...base, options: { inputs: [{ text: 'Hi', voice_id: 'v1' }] } })), [{ text: 'Hi', voice_id: 'v1' }]);
    assert.deepEqual(dialogueInputs(req({ ...base, prompt: 'Bo: Hello\nthere.\nv2: Hi Bo.', options: { voices: { Bo: 'v1' } } })), [
      { text: 'Hello there.', voice_id: 'v1' },
      { text: 'Hi Bo.', voice_id: 'v2' },
    ]);
    assert.throws(
      () => dialogueInputs(req({ ...base, prompt: 'no speaker here' })),
      (err: unknown) => err instanceof ProviderError && err.status === 400,
    );
    assert.throws(() => dialogueInputs(req({ ...base, options: { inputs: [{ text: 'x' }] } })), /inputs\.0 needs text and voice_id/);
  });

  it('dialogue posts JSON to /v1/text-to-dialogue and answers the audio bytes', async () => {
    const p = media();
    const out = await p.start(req({ kind: 'tool', upstreamModel: 'eleven_v3', prompt: 'v1: One.\nv2: Two.', options: { format: 'wav' } }));
    const got = fake.server.requests.at(-1)!;
    assert.equal(got.path, '/v1/text-to-dialogue?output_format=wav_44100');
    assert.equal(
      got.raw.toString(),
      JSON.stringify({
        inputs: [
          { text: 'One.', voice_id: 'v1' },
          { text: 'Two.', voice_id: 'v2' },
        ],
        model_id: 'eleven_v3',
      }),
    );
    assert.ok(out.state === 'done');
    assert.equal(out.result.files[0]!.mediaType, 'audio/wav');
    assert.equal(Buffer.from(out.result.files[0]!.data!).toString(), 'EL-dialogue-wav_44100:v1>One.|v2>Two.');
    await p.close();
  });

  it('dubbing: start answers running with the dubbing id; polls until dubbed; fetches the target language audio', async () => {
    const p = media();
    fake.next = { sourceSeconds: 30 };
    const r = req({ kind: 'tool', upstreamModel: 'dubbing', options: { audio_url: 'https://example.com/a.mp3', target_lang: 'fr', num_speakers: 2 } });
    const started = await p.start(r);
    assert.ok(started.state === 'running');
    assert.deepEqual(fake.dubs.get(started.providerJobId)!.form, { source_url: 'https://example.com/a.mp3', target_lang: 'fr', source_lang: 'auto', num_speakers: '2', end_time: '60' });
    assert.equal((await p.poll!(r, started.providerJobId)).state, 'running');
    const done = await p.poll!(r, started.providerJobId);
    assert.ok(done.state === 'done');
    assert.deepEqual(done.result, {
      files: [{ data: fake.dubBytes(started.providerJobId, 'fr'), mediaType: 'audio/mpeg', metadata: { duration: 30, format: 'mp3' } }],
      measured: { seconds: 30 },
    });
    assert.equal(fake.server.requests.at(-1)!.path, `/v1/dubbing/${started.providerJobId}/audio/fr`);
    await p.cancel!(r, started.providerJobId);
    assert.equal(fake.dubs.get(started.providerJobId)!.deleted, true);
    await p.close();
  });

  it('dubbing an input file sends it as `file`; without a source it is refused before any request', async () => {
    const p = media();
    const withFile = await p.start(req({ kind: 'tool', upstreamModel: 'dubbing', input: { data: new Uint8Array(5), mediaType: 'audio/wav', filename: 'a.wav' }, options: { target_lang: 'es' } }));
    assert.ok(withFile.state === 'running');
    assert.equal(fake.dubs.get(withFile.providerJobId)!.form.file, 'file:audio/wav:5');
    const before = fake.server.requests.length;
    await assert.rejects(p.start(req({ kind: 'tool', upstreamModel: 'dubbing', options: { target_lang: 'es' } })), /audio_url or video_url/);
    await assert.rejects(p.start(req({ kind: 'tool', upstreamModel: 'eleven_multilingual_sts_v2' })), /el-voice-changer \(the audio to change\) needs an input file/);
    await assert.rejects(p.start(req({ kind: 'tool', upstreamModel: 'audio-isolation' })), /el-voice-isolator \(the audio to clean\) needs an input file/);
    assert.equal(fake.server.requests.length, before);
    await p.close();
  });
});

describe('Replicate tools', () => {
  let fake: FakeReplicate;
  before(async () => (fake = await startFakeReplicate()));
  after(() => fake.close());

  it('maps Style C options to each tool model’s input names', () => {
    const tool = (upstreamModel: string, options: Record<string, unknown>, prompt?: string) => replicateInput(req({ kind: 'tool', upstreamModel, options, ...(prompt ? { prompt } : {}) }));
    const img = 'https://example.com/a.png';
    assert.deepEqual(tool('nightmareai/real-esrgan:abc', { image_url: img, scale: 2, face_enhance: true }), { image: img, scale: 2, face_enhance: true });
    assert.deepEqual(tool('851-labs/background-remover:abc', { image_url: img }), { image: img });
    assert.deepEqual(tool('fofr/style-transfer:abc', { image_url: img, style_image_url: 'https://example.com/s.png' }, 'oil painting'), {
      structure_image: img,
      style_image: 'https://example.com/s.png',
      prompt: 'oil painting',
    });
    assert.deepEqual(tool('piddnad/ddcolor:abc', { image_url: img, model_size: 'tiny' }), { image: img, model_size: 'tiny' });
    assert.deepEqual(tool('black-forest-labs/flux-fill-pro', { image_url: img, mask_url: 'https://example.com/m.png', seed: 3 }, 'a hat'), {
      image: img,
      mask: 'https://example.com/m.png',
      prompt: 'a hat',
      seed: 3,
    });
    assert.deepEqual(replicateInput(req({ kind: 'tts', upstreamModel: 'minimax/speech-02-hd', prompt: 'Hi', options: { voice_id: 'Wise_Woman', emotion: 'happy' } })), {
      text: 'Hi',
      voice_id: 'Wise_Woman',
      emotion: 'happy',
    });
    // Other models keep the shared image/video names.
    assert.deepEqual(replicateInput(req({ kind: 'image', upstreamModel: 'black-forest-labs/flux-kontext-pro', prompt: 'x', options: { image_url: img } })), { prompt: 'x', input_image: img });
  });

  it('an OCR prediction whose output is a string answers it as text, with no file', async () => {
    const p = replicateProvider('replicate', { type: 'replicate', base_url: fake.baseUrl, api_key: 'r8_fake_test_token' });
    fake.queue.push({ text: 'Hello\nworld' });
    const out = await p.media!.start(req({ kind: 'tool', upstreamModel: 'abiruyt/text-extract-ocr:a524', options: { image_url: 'https://example.com/a.png' } }));
    // Done within Prefer: wait, with the prediction's id (stored before the result is kept: execute.ts).
    assert.deepEqual(out, { state: 'done', result: { files: [], text: 'Hello\nworld' }, providerJobId: [...fake.predictions.keys()].at(-1) });
    assert.deepEqual(fake.calls.at(-1)!.body, { version: 'a524', input: { image: 'https://example.com/a.png' } });
    await p.close!();
  });
});
