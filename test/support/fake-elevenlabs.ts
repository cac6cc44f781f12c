// A fake of the ElevenLabs API (xi-api-key auth): text-to-speech, speech-to-text (Scribe),
// sound-generation, music, speech-to-speech and audio-isolation, with its real answer shapes:
// raw audio bytes, Scribe's {language_code, text, words[]}, and errors as {detail:{status,message}}
// (or FastAPI's {detail:[{loc,msg,type}]} for a body that fails validation).
import { fakeBytes, startFakeMedia, type FakeAnswer, type FakeMediaServer, type MediaRecordedRequest } from './fake-media.js';

export const FAKE_ELEVENLABS_KEY = 'xi-test';

export function elevenLabsError(status: number, code: string, message: string): FakeAnswer {
  return { status, json: { detail: { status: code, message } } };
}

export const FAKE_SCRIBE = {
  language_code: 'en',
  language_probability: 0.98,
  text: 'Hello world.',
  words: [
    { text: 'Hello', start: 0.12, end: 0.5, type: 'word', speaker_id: 'speaker_0', logprob: -0.02 },
    { text: ' ', start: 0.5, end: 0.56, type: 'spacing', speaker_id: 'speaker_0', logprob: 0 },
    { text: 'world.', start: 0.56, end: 1.25, type: 'word', speaker_id: 'speaker_0', logprob: -0.05 },
  ],
};

const audioTypes: Record<string, string> = { mp3: 'audio/mpeg', wav: 'audio/wav', pcm: 'audio/pcm', opus: 'audio/ogg', ulaw: 'audio/basic' };

function audio(req: MediaRecordedRequest, seed: string): FakeAnswer {
  const format = req.query.get('output_format') ?? 'mp3_44100_128';
  return { headers: { 'content-type': audioTypes[format.split('_')[0]!] ?? 'audio/mpeg' }, body: fakeBytes(`EL-${format}`, seed) };
}

export function startFakeElevenLabs(): Promise<FakeMediaServer> {
  return startFakeMedia(async (req) => {
    if (req.headers['xi-api-key'] !== FAKE_ELEVENLABS_KEY) return elevenLabsError(401, 'invalid_api_key', 'Invalid API key');
    if (req.method !== 'POST') return undefined;
    const p = req.pathname;
    const tts = /^\/v1\/text-to-speech\/([^/]+)$/.exec(p);
    if (tts) {
      if (typeof req.json?.text !== 'string') return { status: 422, json: { detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }] } };
      return audio(req, `${decodeURIComponent(tts[1]!)}:${req.json.model_id}:${req.json.text}`);
    }
    const sts = /^\/v1\/speech-to-speech\/([^/]+)$/.exec(p);
    if (sts) return audio(req, `sts:${decodeURIComponent(sts[1]!)}:${(req.form?.get('audio') as File | null)?.size}`);
    switch (p) {
      case '/v1/speech-to-text':
        if (!req.form?.get('file')) return { status: 422, json: { detail: [{ loc: ['body', 'file'], msg: 'field required', type: 'value_error.missing' }] } };
        return { json: FAKE_SCRIBE };
      case '/v1/sound-generation':
        return audio(req, `sfx:${req.json.text}`);
      case '/v1/music':
        return audio(req, `music:${req.json.prompt}:${req.json.music_length_ms}`);
      case '/v1/audio-isolation':
        return { headers: { 'content-type': 'audio/mpeg' }, body: fakeBytes('EL-isolated', String((req.form?.get('audio') as File | null)?.size)) };
    }
    return undefined;
  });
}
