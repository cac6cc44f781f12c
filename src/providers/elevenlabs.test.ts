import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAKE_ELEVENLABS_KEY, FAKE_SCRIBE, elevenLabsError, startFakeElevenLabs } from '../../test/support/fake-elevenlabs.js';
import { never, type FakeMediaServer } from '../../test/support/fake-media.js';
import { DEFAULT_VOICE_ID, elevenLabsMedia } from './elevenlabs.js';
import { ProviderError, type MediaProgress, type MediaRequest } from './spec.js';

const media = (fake: FakeMediaServer, key = FAKE_ELEVENLABS_KEY) => elevenLabsMedia({ type: 'elevenlabs', base_url: `${fake.origin}/v1`, api_key: key });
const req = (r: Partial<MediaRequest> & Pick<MediaRequest, 'kind' | 'upstreamModel'>): MediaRequest => ({ options: {}, signal: never, ...r });
const bytes = (s: string) => new Uint8Array(Buffer.from(s));
function done(p: MediaProgress) {
  assert.ok(p.state === 'done', `expected done, got ${p.state}`);
  return p.result;
}

describe('elevenlabs media', () => {
  let fake: FakeMediaServer;
  before(async () => (fake = await startFakeElevenLabs()));
  after(() => fake.close());

  it('speech: POST /v1/text-to-speech/{voice}?output_format with xi-api-key, model_id, text and voice_settings', async () => {
    const p = media(fake);
    const out = done(
      await p.start(req({ kind: 'tts', upstreamModel: 'eleven_multilingual_v2', prompt: 'Привет!', options: { voice_id: 'JBFqnCBsd6RMkjVDRZzb', speed: 1.1, stability: 0.4, language: 'ru' } })),
    );
    const got = fake.requests.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb?output_format=mp3_44100_128');
    assert.equal(got.headers['xi-api-key'], FAKE_ELEVENLABS_KEY);
    assert.equal(got.headers.authorization, undefined);
    assert.equal(got.raw.toString(), JSON.stringify({ text: 'Привет!', model_id: 'eleven_multilingual_v2', language_code: 'ru', voice_settings: { stability: 0.4, speed: 1.1 } }));
    assert.deepEqual(out, {
      files: [{ data: bytes('EL-mp3_44100_128:JBFqnCBsd6RMkjVDRZzb:eleven_multilingual_v2:Привет!'), mediaType: 'audio/mpeg', metadata: { format: 'mp3' } }],
      measured: { characters: 7 },
    });
    await p.close();
  });

  it('speech defaults to the premade voice; format wav maps to wav_44100', async () => {
    const p = media(fake);
    const out = done(await p.start(req({ kind: 'tts', upstreamModel: 'eleven_flash_v2_5', prompt: 'Hi', options: { format: 'wav' } })));
    const got = fake.requests.at(-1)!;
    assert.equal(got.path, `/v1/text-to-speech/${DEFAULT_VOICE_ID}?output_format=wav_44100`);
    assert.deepEqual(got.json, { text: 'Hi', model_id: 'eleven_flash_v2_5' });
    assert.equal(out.files[0]!.mediaType, 'audio/wav');
    await p.close();
  });

  it('Scribe: multipart model_id, file, language_code, diarize; answers the text and the seconds spoken', async () => {
    const p = media(fake);
    const audio = new Uint8Array([0x52, 0x49, 0x46, 0x46, 9, 8, 7]);
    const out = done(await p.start(req({ kind: 'stt', upstreamModel: 'scribe_v1', options: { language: 'en', diarize: true }, input: { data: audio, mediaType: 'audio/wav', filename: 'a.wav' } })));
    const got = fake.requests.at(-1)!;
    assert.equal(got.path, '/v1/speech-to-text');
    assert.match(String(got.headers['content-type']), /^multipart\/form-data; boundary=/);
    assert.deepEqual([...got.form!.keys()], ['model_id', 'file', 'language_code', 'diarize']);
    assert.equal(got.form!.get('model_id'), 'scribe_v1');
    assert.equal(got.form!.get('language_code'), 'en');
    assert.equal(got.form!.get('diarize'), 'true');
    const file = got.form!.get('file') as File;
    assert.equal(file.name, 'a.wav');
    assert.deepEqual(new Uint8Array(await file.arrayBuffer()), audio);
    assert.deepEqual(out, { files: [], text: FAKE_SCRIBE.text, measured: { seconds: 1.25 } });
    await p.close();
  });

  it('sound effects: POST /v1/sound-generation with text, model_id, duration_seconds', async () => {
    const p = media(fake);
    const out = done(await p.start(req({ kind: 'tool', upstreamModel: 'eleven_text_to_sound_v2', prompt: 'door creak', options: { duration: 2.5 } })));
    const got = fake.requests.at(-1)!;
    assert.equal(got.path, '/v1/sound-generation?output_format=mp3_44100_128');
    assert.equal(got.raw.toString(), JSON.stringify({ text: 'door creak', model_id: 'eleven_text_to_sound_v2', duration_seconds: 2.5 }));
    assert.deepEqual(out.files[0]!.data, bytes('EL-mp3_44100_128:sfx:door creak'));
    await p.close();
  });

  it('music: POST /v1/music with prompt, music_length_ms, model_id; measured seconds', async () => {
    const p = media(fake);
    const out = done(await p.start(req({ kind: 'audio', upstreamModel: 'music_v1', prompt: 'calm piano', options: { duration: 30 } })));
    const got = fake.requests.at(-1)!;
    assert.equal(got.path, '/v1/music?output_format=mp3_44100_128');
    assert.equal(got.raw.toString(), JSON.stringify({ prompt: 'calm piano', music_length_ms: 30000, model_id: 'music_v1' }));
    assert.deepEqual(out, { files: [{ data: bytes('EL-mp3_44100_128:music:calm piano:30000'), mediaType: 'audio/mpeg', metadata: { format: 'mp3' } }], measured: { seconds: 30 } });
    await p.close();
  });

  it('voice changer and isolator: multipart audio', async () => {
    const p = media(fake);
    const input = { data: new Uint8Array(5), mediaType: 'audio/mpeg', filename: 'v.mp3' };
    const changed = done(await p.start(req({ kind: 'tool', upstreamModel: 'eleven_multilingual_sts_v2', options: { voice_id: 'abc' }, input })));
    let got = fake.requests.at(-1)!;
    assert.equal(got.path, '/v1/speech-to-speech/abc?output_format=mp3_44100_128');
    assert.deepEqual([...got.form!.keys()], ['audio', 'model_id']);
    assert.deepEqual(changed.files[0]!.data, bytes('EL-mp3_44100_128:sts:abc:5'));
    const isolated = done(await p.start(req({ kind: 'tool', upstreamModel: 'audio-isolation', input })));
    got = fake.requests.at(-1)!;
    assert.equal(got.path, '/v1/audio-isolation');
    assert.deepEqual(isolated.files[0], { data: bytes('EL-isolated:5'), mediaType: 'audio/mpeg', metadata: { format: 'mp3' } });
    await p.close();
  });

  it('refusals: the message of {detail:{message}} and of a validation {detail:[{msg}]}, with the status', async () => {
    const bad = media(fake, 'wrong');
    await assert.rejects(
      bad.start(req({ kind: 'tts', upstreamModel: 'eleven_flash_v2_5', prompt: 'x' })),
      (err: unknown) => err instanceof ProviderError && err.status === 401 && err.message === 'Invalid API key' && !err.retryable,
    );
    await bad.close();
    const p = media(fake);
    fake.failNext({ status: 422, json: { detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }] } });
    await assert.rejects(
      p.start(req({ kind: 'tts', upstreamModel: 'eleven_flash_v2_5', prompt: 'x' })),
      (err: unknown) => err instanceof ProviderError && err.status === 422 && err.message === 'field required',
    );
    fake.failNext({ ...elevenLabsError(429, 'too_many_concurrent_requests', 'Too many concurrent requests'), headers: { 'retry-after': '2' } });
    await assert.rejects(
      p.start(req({ kind: 'tts', upstreamModel: 'eleven_flash_v2_5', prompt: 'x' })),
      (err: unknown) => err instanceof ProviderError && err.status === 429 && err.retryable && err.retryAfter === 2,
    );
    await assert.rejects(p.start(req({ kind: 'image', upstreamModel: 'x', prompt: 'x' })), (err: unknown) => err instanceof ProviderError && err.status === 400);
    await p.close();
  });
});
