// OpenAI's media endpoints: images (dall-e-3, gpt-image-*), speech (tts-1, gpt-4o-mini-tts) and
// transcription (whisper-1, gpt-4o-transcribe), all synchronous (start() answers done); and Sora
// videos, an asynchronous job polled and cancelled through openai-videos.ts.
// The registry composes this beside the Chat Completions provider for type "openai".
import { FormData } from 'undici';
import type { ProviderConfig } from './config.js';
import { inlineOutputLimit, outputLimit } from './body-limit.js';
import { MediaHttp, defined, filePart, num, requireInput, sizeOf, str, type ClosableMediaProvider } from './media-http.js';
import { VIDEO_OPTIONS, cancelVideo, pollVideo, startVideo } from './openai-videos.js';
import { ProviderError, type MediaKind, type MediaProgress, type MediaRequest } from './spec.js';

/** OpenAI's speech formats and the media types of their bytes (opus comes in an Ogg container). */
export const speechMediaTypes: Record<string, string> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  opus: 'audio/ogg',
  aac: 'audio/aac',
  flac: 'audio/flac',
  pcm: 'audio/pcm',
};

const imageMediaTypes: Record<string, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

interface ImagesResponse {
  data?: { b64_json?: string }[];
}
interface TranscriptionResponse {
  text?: string;
  usage?: { type?: string; seconds?: number };
}

// The Style C options each endpoint below forwards (src/providers/media-options.ts).
// gpt-image models take output_format and no style; dall-e answers PNG and takes style.
const GPT_IMAGE_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'size', 'quality', 'format']);
const DALL_E_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'size', 'quality', 'style']);
const SPEECH_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'format', 'voice_id', 'speed', 'instructions']);
const TRANSCRIPTION_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'language', 'temperature']);

/** Options of which the module reads the first when both are given (src/providers/media-options.ts, OneOf): Sora's first frame is image_url, else the input file. */
export function openAIOneOf(kind: MediaKind): readonly (readonly [string, string])[] {
  return kind === 'video' ? [['image_url', 'audio_url']] : [];
}

export function openAIMediaOptions(kind: MediaKind, upstreamModel: string): ReadonlySet<string> {
  switch (kind) {
    case 'image':
      return upstreamModel.startsWith('gpt-image') ? GPT_IMAGE_OPTIONS : DALL_E_OPTIONS;
    case 'tts':
      return SPEECH_OPTIONS;
    case 'stt':
      return TRANSCRIPTION_OPTIONS;
    case 'video':
      return VIDEO_OPTIONS;
    default:
      return new Set();
  }
}

export function openAIMedia(cfg: ProviderConfig): ClosableMediaProvider {
  const http = new MediaHttp(cfg.base_url, { ...cfg.headers, ...(cfg.api_key ? { authorization: `Bearer ${cfg.api_key}` } : {}) });
  return {
    async start(req: MediaRequest): Promise<MediaProgress> {
      switch (req.kind) {
        case 'image':
          return image(http, req);
        case 'tts':
          return speech(http, req);
        case 'stt':
          return transcription(http, req);
        case 'video':
          return startVideo(http, req);
        default:
          throw new ProviderError(`OpenAI media does not serve ${req.kind} models`, { status: 400, retryable: false });
      }
    },
    // Only videos run as provider jobs at OpenAI.
    poll: (req, id) => pollVideo(http, req, id),
    cancel: (req, id) => cancelVideo(http, req, id),
    close: () => http.close(),
  };
}

async function image(http: MediaHttp, req: MediaRequest): Promise<MediaProgress> {
  const o = req.options;
  // gpt-image models always answer base64 and refuse response_format and style; dall-e takes both.
  const gptImage = req.upstreamModel.startsWith('gpt-image');
  const size = str(o, 'size') ?? '1024x1024';
  const format = gptImage ? (str(o, 'format') ?? 'png') : 'png';
  const body = defined({
    model: req.upstreamModel,
    prompt: req.prompt ?? '',
    n: 1,
    size,
    quality: str(o, 'quality'),
    ...(gptImage ? { output_format: str(o, 'format') } : { style: str(o, 'style'), response_format: 'b64_json' }),
  });
  const res = await http.json<ImagesResponse>('/images/generations', { json: body, signal: req.signal, limit: inlineOutputLimit(req) });
  const b64 = res.data?.[0]?.b64_json;
  if (!b64) throw new ProviderError('OpenAI answered images/generations without b64_json data');
  return {
    state: 'done',
    result: { files: [{ data: new Uint8Array(Buffer.from(b64, 'base64')), mediaType: imageMediaTypes[format] ?? 'image/png', metadata: { ...sizeOf(size), format } }] },
  };
}

async function speech(http: MediaHttp, req: MediaRequest): Promise<MediaProgress> {
  const o = req.options;
  const text = req.prompt ?? '';
  const format = str(o, 'format') ?? 'mp3';
  const body = defined({
    model: req.upstreamModel,
    input: text,
    voice: str(o, 'voice_id') ?? 'alloy',
    response_format: format,
    speed: num(o, 'speed'),
    instructions: str(o, 'instructions'),
  });
  const res = await http.call('/audio/speech', { json: body, headers: { accept: '*/*' }, signal: req.signal, limit: outputLimit(req) });
  return {
    state: 'done',
    result: { files: [{ data: res.bytes, mediaType: speechMediaTypes[format] ?? 'audio/mpeg', metadata: { format } }], measured: { characters: [...text].length } },
  };
}

async function transcription(http: MediaHttp, req: MediaRequest): Promise<MediaProgress> {
  const input = requireInput(req.input, 'transcription');
  const form = new FormData();
  filePart(form, 'file', input, 'audio');
  form.append('model', req.upstreamModel);
  const language = str(req.options, 'language');
  if (language) form.append('language', language);
  // The wording hint of an stt job is its prompt (docs/api.md).
  if (req.prompt) form.append('prompt', req.prompt);
  const temperature = num(req.options, 'temperature');
  if (temperature !== undefined) form.append('temperature', String(temperature));
  form.append('response_format', 'json');
  const res = await http.json<TranscriptionResponse>('/audio/transcriptions', { form, signal: req.signal });
  if (typeof res.text !== 'string') throw new ProviderError('OpenAI answered audio/transcriptions without text');
  const seconds = res.usage?.type === 'duration' ? res.usage.seconds : undefined;
  return { state: 'done', result: { files: [], text: res.text, ...(seconds !== undefined ? { measured: { seconds } } : {}) } };
}
