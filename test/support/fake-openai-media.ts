// A fake of OpenAI's media endpoints with its real answer shapes: images/generations (b64_json;
// gpt-image refuses response_format like the real API), audio/speech (raw audio bytes) and
// audio/transcriptions (multipart in, {text, usage} out). Errors use OpenAI's error envelope.
import { fakeBytes, startFakeMedia, type FakeAnswer, type FakeMediaServer, type MediaRecordedRequest } from './fake-media.js';

export const FAKE_OPENAI_KEY = 'sk-test';
export const FAKE_TRANSCRIPT = 'The quick brown fox.';

export function openAIError(status: number, message: string, type = 'invalid_request_error', code: string | null = null, param: string | null = null): FakeAnswer {
  return { status, json: { error: { message, type, param, code } } };
}

/** The PNG signature and the prompt: what a test can recognise after base64 round trips. */
export function fakeImage(prompt: string): Uint8Array {
  return new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Buffer.from(prompt, 'utf8')]);
}

export function startFakeOpenAIMedia(): Promise<FakeMediaServer> {
  return startFakeMedia(async (req: MediaRecordedRequest) => {
    if (req.headers.authorization !== `Bearer ${FAKE_OPENAI_KEY}`) {
      return openAIError(401, 'Incorrect API key provided: sk-wr***ng. You can find your API key at https://platform.openai.com/account/api-keys.', 'invalid_request_error', 'invalid_api_key');
    }
    if (req.method !== 'POST') return undefined;
    switch (req.pathname) {
      case '/v1/images/generations': {
        const b = req.json;
        if (String(b.model).startsWith('gpt-image') && b.response_format !== undefined)
          return openAIError(400, "Unknown parameter: 'response_format'.", 'invalid_request_error', 'unknown_parameter', 'response_format');
        if (!String(b.model).startsWith('gpt-image') && b.response_format !== 'b64_json') {
          return { json: { created: 1713833628, data: [{ url: 'https://oaidalleapiprodscus.blob.core.windows.net/private/img.png', revised_prompt: b.prompt }] } };
        }
        const b64 = Buffer.from(fakeImage(b.prompt)).toString('base64');
        return String(b.model).startsWith('gpt-image')
          ? {
              json: {
                created: 1713833628,
                background: 'opaque',
                data: [{ b64_json: b64 }],
                output_format: b.output_format ?? 'png',
                quality: b.quality ?? 'high',
                size: b.size,
                usage: { input_tokens: 10, input_tokens_details: { image_tokens: 0, text_tokens: 10 }, output_tokens: 4160, total_tokens: 4170 },
              },
            }
          : { json: { created: 1713833628, data: [{ b64_json: b64, revised_prompt: `A detailed picture: ${b.prompt}` }] } };
      }
      case '/v1/audio/speech': {
        const b = req.json;
        const types: Record<string, string> = { mp3: 'audio/mpeg', wav: 'audio/wav', opus: 'audio/ogg', aac: 'audio/aac', flac: 'audio/flac', pcm: 'audio/pcm' };
        return { headers: { 'content-type': types[b.response_format ?? 'mp3'] ?? 'audio/mpeg' }, body: fakeBytes(`AUDIO-${b.response_format ?? 'mp3'}`, `${b.voice}:${b.input}`) };
      }
      case '/v1/audio/transcriptions': {
        const f = req.form;
        if (!f?.get('file')) return openAIError(400, "you must provide a 'file' parameter");
        return f.get('model') === 'whisper-1'
          ? { json: { text: FAKE_TRANSCRIPT, usage: { type: 'duration', seconds: 3 } } }
          : { json: { text: FAKE_TRANSCRIPT, usage: { type: 'tokens', input_tokens: 14, input_token_details: { text_tokens: 0, audio_tokens: 14 }, output_tokens: 6, total_tokens: 20 } } };
      }
    }
    return undefined;
  });
}
