// Speech to text as a media job (docs/api.md, "Transcriptions"): what POST /api/v2/stt and POST
// /v1/audio/transcriptions share. The audio format is decided from the file name's extension,
// else its media type; the model must be an stt model; each option must be one every route of
// the model passes on (nothing dropped silently). The result is an ordinary job generation.
import type { Catalog, ModelEntry } from '../config/catalog.js';
import { GatewayError, clip, unsupportedField, validationError } from '../core/errors.js';
import type { GenerationInput } from '../generation/request.js';
import { findModel } from '../generation/model-lookup.js';
import { refuseOption } from './options.js';

/** Accepted audio formats: extension -> the media type the file is stored and sent with. */
export const AUDIO_FORMATS: Readonly<Record<string, string>> = {
  mp3: 'audio/mpeg',
  mp4: 'audio/mp4',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  ogg: 'audio/ogg',
  flac: 'audio/flac',
  webm: 'audio/webm',
};

const MEDIA_TYPE_FORMATS: Readonly<Record<string, string>> = {
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3',
  'audio/mp4': 'mp4',
  'video/mp4': 'mp4',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/vnd.wave': 'wav',
  'audio/m4a': 'm4a',
  'audio/x-m4a': 'm4a',
  'audio/ogg': 'ogg',
  'application/ogg': 'ogg',
  'audio/flac': 'flac',
  'audio/x-flac': 'flac',
  'audio/webm': 'webm',
  'video/webm': 'webm',
};

/** The format of an uploaded audio file, or 400 naming `field`. */
export function audioFormatOf(field: string, filename: string | undefined, mediaType: string | undefined): { ext: string; mediaType: string } {
  const ext = /\.([A-Za-z0-9]{1,8})$/.exec(filename ?? '')?.[1]?.toLowerCase();
  const byType = MEDIA_TYPE_FORMATS[(mediaType ?? '').split(';')[0]!.trim().toLowerCase()];
  const format = ext && AUDIO_FORMATS[ext] ? ext : byType;
  if (!format) {
    throw new GatewayError(
      'bad_request',
      `${field}: unsupported audio format (file ${clip(JSON.stringify(filename ?? ''))}, type ${clip(mediaType ?? 'none')}); send one of ${Object.keys(AUDIO_FORMATS).join(', ')}`,
      {
        fields: [{ path: field, message: `unsupported audio format; accepted: ${Object.keys(AUDIO_FORMATS).join(', ')}` }],
      },
    );
  }
  return { ext: format, mediaType: AUDIO_FORMATS[format]! };
}

export interface TranscriptionRequest {
  catalog: Catalog;
  model: ModelEntry;
  language?: string;
  /** A hint of the wording (OpenAI's `prompt`). */
  prompt?: string;
  temperature?: number;
  diarize?: boolean;
  wait?: number;
  callbackUrl?: string;
}

/** The stt model named `name` (404 as every model lookup; 400 naming `field` for another category). */
export function sttModel(catalog: Catalog, name: string, field = 'model'): ModelEntry {
  const model = findModel(catalog, name);
  if (model.category !== 'stt') throw unsupportedField(field, `model "${model.slug}" is a ${model.category} model, not a speech-to-text (stt) model`);
  return model;
}

/** Checks the options against the model's routes and builds the job's generation input. */
export function transcriptionInput(r: TranscriptionRequest): GenerationInput {
  const given: Record<string, unknown> = { language: r.language, prompt: r.prompt, temperature: r.temperature, diarize: r.diarize };
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) continue;
    // What each route's transcription call forwards (src/providers/media-options.ts); `prompt` is the wording hint.
    refuseOption(r.catalog, r.model, name);
  }
  if (r.language !== undefined && !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$/.test(r.language)) {
    throw validationError([{ path: 'language', message: 'an ISO-639 language code such as "en" or "eng"' }]);
  }
  if (r.temperature !== undefined && !(r.temperature >= 0 && r.temperature <= 1)) throw validationError([{ path: 'temperature', message: 'a number from 0 to 1' }]);
  const options: Record<string, unknown> = {};
  if (r.language !== undefined) options.language = r.language;
  if (r.temperature !== undefined) options.temperature = r.temperature;
  if (r.diarize !== undefined) options.diarize = r.diarize;
  if (r.wait !== undefined) options.wait = r.wait;
  return {
    model: r.model.slug,
    messages: [],
    settings: {},
    stream: false,
    options,
    ...(r.callbackUrl !== undefined ? { callbackUrl: r.callbackUrl } : {}),
    // The prompt of an stt job is the wording hint; it is the generation's prompt in history too.
    promptText: r.prompt ?? null,
  };
}

/** A form field as a number, or 422 naming it. */
export function numberField(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw validationError([{ path: name, message: 'a number' }]);
  return n;
}

/** A form field as a boolean (`true`/`false`, `1`/`0`), or 422 naming it. */
export function booleanField(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw validationError([{ path: name, message: 'true or false' }]);
}
