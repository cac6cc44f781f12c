import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { never, type FakeMediaServer } from '../../test/support/fake-media.js';
import { FAKE_OPENAI_KEY, FAKE_TRANSCRIPT, fakeImage, openAIError, startFakeOpenAIMedia } from '../../test/support/fake-openai-media.js';
import { openAIMedia } from './openai-media.js';
import { ProviderError, type MediaRequest } from './spec.js';

const media = (fake: FakeMediaServer, key = FAKE_OPENAI_KEY) => openAIMedia({ type: 'openai', base_url: `${fake.origin}/v1`, api_key: key });
const req = (r: Partial<MediaRequest> & Pick<MediaRequest, 'kind' | 'upstreamModel'>): MediaRequest => ({ options: {}, signal: never, ...r });

describe('openai media', () => {
  let fake: FakeMediaServer;
  before(async () => (fake = await startFakeOpenAIMedia()));
  after(() => fake.close());

  it('dall-e-3: posts size, quality, style, n=1 and response_format b64_json; answers done with the image bytes', async () => {
    const p = media(fake);
    const out = await p.start(req({ kind: 'image', upstreamModel: 'dall-e-3', prompt: 'a red fox', options: { size: '1792x1024', quality: 'hd', style: 'natural', seed: 7 } }));
    const got = fake.requests.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/v1/images/generations');
    assert.equal(got.headers.authorization, `Bearer ${FAKE_OPENAI_KEY}`);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.raw.toString(), JSON.stringify({ model: 'dall-e-3', prompt: 'a red fox', n: 1, size: '1792x1024', quality: 'hd', style: 'natural', response_format: 'b64_json' }));
    assert.equal(out.state, 'done');
    assert.ok(out.state === 'done');
    assert.deepEqual(out.result.files, [{ data: fakeImage('a red fox'), mediaType: 'image/png', metadata: { width: 1792, height: 1024, format: 'png' } }]);
    await p.close();
  });

  it('gpt-image-1: sends no response_format or style (the API refuses them), output_format from format', async () => {
    const p = media(fake);
    const out = await p.start(req({ kind: 'image', upstreamModel: 'gpt-image-1', prompt: 'a cat', options: { quality: 'low', format: 'webp', style: 'vivid' } }));
    assert.deepEqual(fake.requests.at(-1)!.json, { model: 'gpt-image-1', prompt: 'a cat', n: 1, size: '1024x1024', quality: 'low', output_format: 'webp' });
    assert.ok(out.state === 'done');
    assert.equal(out.result.files[0]!.mediaType, 'image/webp');
    assert.deepEqual(out.result.files[0]!.data, fakeImage('a cat'));
    await p.close();
  });

  it('speech: posts model, input, voice, response_format and speed; answers the audio bytes and the characters spoken', async () => {
    const p = media(fake);
    const out = await p.start(req({ kind: 'tts', upstreamModel: 'tts-1', prompt: 'Привет, world', options: { voice_id: 'nova', format: 'opus', speed: 1.25 } }));
    const got = fake.requests.at(-1)!;
    assert.equal(got.path, '/v1/audio/speech');
    assert.equal(got.raw.toString(), JSON.stringify({ model: 'tts-1', input: 'Привет, world', voice: 'nova', response_format: 'opus', speed: 1.25 }));
    assert.ok(out.state === 'done');
    assert.deepEqual(out.result, {
      files: [{ data: new Uint8Array(Buffer.from('AUDIO-opus:nova:Привет, world')), mediaType: 'audio/ogg', metadata: { format: 'opus' } }],
      measured: { characters: 13 },
    });
    await p.close();
  });

  it('speech defaults: voice alloy, mp3', async () => {
    const p = media(fake);
    const out = await p.start(req({ kind: 'tts', upstreamModel: 'gpt-4o-mini-tts', prompt: 'Hi' }));
    assert.deepEqual(fake.requests.at(-1)!.json, { model: 'gpt-4o-mini-tts', input: 'Hi', voice: 'alloy', response_format: 'mp3' });
    assert.ok(out.state === 'done');
    assert.equal(out.result.files[0]!.mediaType, 'audio/mpeg');
    await p.close();
  });

  it('transcription: multipart file, model, language and response_format json; answers the text and seconds', async () => {
    const p = media(fake);
    const audio = new Uint8Array([0x49, 0x44, 0x33, 1, 2, 3, 0, 255]);
    const out = await p.start(req({ kind: 'stt', upstreamModel: 'whisper-1', options: { language: 'en' }, input: { data: audio, mediaType: 'audio/mpeg', filename: 'talk.mp3' } }));
    const got = fake.requests.at(-1)!;
    assert.equal(got.path, '/v1/audio/transcriptions');
    assert.match(String(got.headers['content-type']), /^multipart\/form-data; boundary=/);
    const file = got.form!.get('file') as File;
    assert.equal(file.name, 'talk.mp3');
    assert.equal(file.type, 'audio/mpeg');
    assert.deepEqual(new Uint8Array(await file.arrayBuffer()), audio);
    assert.deepEqual([...got.form!.keys()], ['file', 'model', 'language', 'response_format']);
    assert.equal(got.form!.get('model'), 'whisper-1');
    assert.equal(got.form!.get('language'), 'en');
    assert.equal(got.form!.get('response_format'), 'json');
    assert.ok(out.state === 'done');
    assert.deepEqual(out.result, { files: [], text: FAKE_TRANSCRIPT, measured: { seconds: 3 } });
    await p.close();
  });

  it('transcription with gpt-4o-transcribe (token usage): text only', async () => {
    const p = media(fake);
    const out = await p.start(req({ kind: 'stt', upstreamModel: 'gpt-4o-transcribe', input: { data: new Uint8Array([1]), mediaType: 'audio/wav' } }));
    assert.equal((fake.requests.at(-1)!.form!.get('file') as File).name, 'audio');
    assert.ok(out.state === 'done');
    assert.deepEqual(out.result, { files: [], text: FAKE_TRANSCRIPT });
    await p.close();
  });

  it('a refusal is a ProviderError with the status and OpenAI message; 429 carries Retry-After', async () => {
    const p = media(fake, 'sk-wrong');
    await assert.rejects(p.start(req({ kind: 'image', upstreamModel: 'dall-e-3', prompt: 'x' })), (err: unknown) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.status, 401);
      assert.equal(err.retryable, false);
      assert.match(err.message, /^Incorrect API key provided/);
      return true;
    });
    await p.close();
    const q = media(fake);
    fake.failNext({ ...openAIError(429, 'Rate limit reached for images', 'requests', 'rate_limit_exceeded'), headers: { 'retry-after': '7' } });
    await assert.rejects(q.start(req({ kind: 'tts', upstreamModel: 'tts-1', prompt: 'x' })), (err: unknown) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.status, 429);
      assert.equal(err.retryable, true);
      assert.equal(err.retryAfter, 7);
      assert.equal(err.message, 'Rate limit reached for images');
      return true;
    });
    await q.close();
  });

  it('refuses kinds OpenAI media does not serve, without calling upstream', async () => {
    const p = media(fake);
    const before = fake.requests.length;
    await assert.rejects(p.start(req({ kind: 'audio', upstreamModel: 'music-1', prompt: 'x' })), (err: unknown) => err instanceof ProviderError && err.status === 400);
    assert.equal(fake.requests.length, before);
    await p.close();
  });

  it('an aborted request rejects with the abort reason', async () => {
    const p = media(fake);
    const ac = new AbortController();
    ac.abort(new Error('client left'));
    await assert.rejects(p.start(req({ kind: 'tts', upstreamModel: 'tts-1', prompt: 'x', signal: ac.signal })), /client left/);
    await p.close();
  });
});
