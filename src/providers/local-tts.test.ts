import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { never } from '../../test/support/fake-media.js';
import { localTtsProvider, voiceOf, wavSeconds } from './local-tts.js';
import { ProviderError, type MediaRequest } from './spec.js';

const req = (prompt: string, options: Record<string, unknown> = {}): MediaRequest => ({ kind: 'tts', upstreamModel: 'espeak', prompt, options, signal: never });

function assertWav(data: Uint8Array | undefined): Uint8Array {
  assert.ok(data);
  const ascii = (from: number, to: number) => Buffer.from(data.subarray(from, to)).toString('latin1');
  assert.equal(ascii(0, 4), 'RIFF');
  assert.equal(ascii(8, 12), 'WAVE');
  assert.equal(ascii(12, 16), 'fmt ');
  // RIFF size = file length - 8 (eSpeak writes the header after synthesis).
  assert.equal(new DataView(data.buffer, data.byteOffset).getUint32(4, true), data.length - 8);
  assert.ok(data.length > 10_000, `a spoken word is more than 10 KB of 22 kHz PCM, got ${data.length}`);
  return data;
}

describe('local-tts (eSpeak NG in a worker)', () => {
  const provider = localTtsProvider('local-tts', { type: 'local-tts', base_url: '' });
  after(() => provider.close?.());

  it('speaks "hello" in English and "привет" in Russian as WAV, with characters measured', async () => {
    const hello = await provider.media!.start(req('hello'));
    assert.ok(hello.state === 'done');
    const en = assertWav(hello.result.files[0]!.data);
    assert.equal(hello.result.files[0]!.mediaType, 'audio/wav');
    assert.deepEqual(hello.result.measured, { characters: 5 });
    assert.ok((hello.result.files[0]!.metadata?.duration ?? 0) > 0.3);

    const privet = await provider.media!.start(req('привет', { language: 'ru' }));
    assert.ok(privet.state === 'done');
    const ru = assertWav(privet.result.files[0]!.data);
    assert.deepEqual(privet.result.measured, { characters: 6 });
    assert.notDeepEqual(ru, en);
  });

  it('runs two requests at once without mixing them up', async () => {
    const [a, b] = await Promise.all([provider.media!.start(req('one')), provider.media!.start(req('two three four five six'))]);
    assert.ok(a.state === 'done' && b.state === 'done');
    assert.ok(wavSeconds(b.result.files[0]!.data!)! > wavSeconds(a.result.files[0]!.data!)!);
  });

  it('picks the voice: voice_id, then language, then Cyrillic -> ru; never anything that is not a voice name', () => {
    assert.equal(voiceOf(req('hi', { voice_id: 'en-us' }), 'hi'), 'en-us');
    assert.equal(voiceOf(req('hi', { language: 'RU' }), 'hi'), 'ru');
    assert.equal(voiceOf(req('привет'), 'привет'), 'ru');
    assert.equal(voiceOf(req('hi', { voice_id: '--path=/etc' }), 'hi'), 'en');
  });

  it('refuses other kinds and serves no text', async () => {
    await assert.rejects(provider.media!.start({ ...req('x'), kind: 'stt' }), (err: unknown) => err instanceof ProviderError && err.status === 400);
    await assert.rejects(provider.open({ upstreamModel: 'espeak', messages: [], signal: never }), ProviderError);
  });
});
