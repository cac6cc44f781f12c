// Input files of media jobs (docs/api.md, "Input files"): the speech to transcribe, the audio or
// image a tool works on. A job carries at most one. It arrives as a multipart upload (POST
// /api/v2/stt, /v1/audio/transcriptions) or as a `data:` URL in the `image_url` / `audio_url`
// option of POST /api/v2/generate; either way it is stored through the FileStore under the
// generation, "<generation id>/input.<ext>", recorded on the job (input_json.input) and, once the
// generation ends, on the generation (result_json.input), where the retention sweeper finds it.
import { GatewayError, clip, unsupportedField, validationError } from '../core/errors.js';
import type { Catalog, ModelEntry } from '../config/catalog.js';
import type { FileStore, ResultFile } from '../storage/files.js';
import { ProviderError, type MediaInputFile } from '../providers/spec.js';

/** Largest input file of a job, uploaded or decoded from a data: URL (25 MiB, OpenAI's own upload cap). */
export const INPUT_MAX_BYTES = 25 * 1024 * 1024;

/** The options that may carry an input file as a data: URL (or stay an https:// URL for the provider). */
export const INPUT_URL_OPTIONS = ['image_url', 'audio_url'] as const;

/** A route's provider type (an operator may name an `openai`-type provider otherwise). */
export const providerType = (catalog: Pick<Catalog, 'providers'>, id: string): string => catalog.providers[id]?.type ?? id;

/**
 * Which provider types' modules pass a job's input file on, by media kind (src/providers/*), and
 * what kind of file each reads: OpenAI's transcription (audio, or video with its sound) and
 * Sora's first frame (an image), ElevenLabs' transcription and its audio tools (the voice changer,
 * the isolator, dubbing: audio or video; its dialogue and sound effects take none), Veo's first
 * frame (an image), Replicate's image input (sent back as a data URL). A data: URL for a model with
 * any other route, or of a kind its route does not read (audio for an image model, which Veo would
 * leave out and Replicate would send as the image), is refused naming the field rather than
 * dropped; https:// URLs are unaffected.
 */
const AUDIO_OR_VIDEO = ['audio/', 'video/'] as const;
const IMAGE = ['image/'] as const;
const INPUT_FILE_KINDS: Readonly<Record<string, (kind: string, upstreamModel: string) => readonly string[]>> = {
  openai: (kind) => (kind === 'stt' ? AUDIO_OR_VIDEO : kind === 'video' ? IMAGE : []),
  elevenlabs: (kind, m) => (kind === 'stt' || (kind === 'tool' && (m === 'dubbing' || m.includes('_sts_') || m === 'audio-isolation')) ? AUDIO_OR_VIDEO : []),
  google: (kind) => (kind === 'video' ? IMAGE : []),
  replicate: (kind) => (kind === 'image' || kind === 'video' || kind === 'tool' ? IMAGE : []),
};

/** 400 naming `field` unless every route of the model passes an input file of `mediaType` on. */
export function checkTakesInput(catalog: Pick<Catalog, 'providers'>, model: ModelEntry, field: string, mediaType: string): void {
  const kinds = (r: ModelEntry['routes'][number]) => INPUT_FILE_KINDS[providerType(catalog, r.provider)]?.(model.category, r.model) ?? [];
  const refusing = model.routes.find((r) => kinds(r).length === 0);
  if (refusing) throw unsupportedField(field, `model "${model.slug}" takes no input file through its ${refusing.provider} route; give an https:// URL instead`);
  const other = model.routes.find((r) => !kinds(r).some((k) => mediaType.startsWith(k)));
  if (other)
    throw unsupportedField(
      field,
      `model "${model.slug}" takes ${kinds(other)
        .map((k) => k.replace('/', ''))
        .join(' or ')} input files through its ${other.provider} route, not ${clip(mediaType)}`,
    );
}

/** An input file on its way into the store: bytes in memory (data: URL) or a stream (an upload's temp file). */
export interface InputUpload {
  /** The option or form field it came from, named in errors. */
  field: string;
  /** File extension used for the stored name (`input.<ext>`). */
  ext: string;
  mediaType: string;
  /** The client's file name, forwarded to providers that take one. */
  filename?: string;
  body: () => Uint8Array | AsyncIterable<Uint8Array>;
}

/** What the job row records of its input file; the key is "<generation id>/<name>". */
export interface JobInputFile {
  name: string;
  media_type: string;
  bytes: number;
  filename?: string;
}

export const inputKey = (generationId: number, f: Pick<JobInputFile, 'name'>): string => `${generationId}/${f.name}`;

export const inputName = (ext: string): string => `input.${/^[a-z0-9]{1,8}$/.test(ext) ? ext : 'bin'}`;

/** The input file as the generation records it for retention (result_json.input). */
export function inputResultFile(generationId: number, f: JobInputFile): ResultFile {
  return { key: inputKey(generationId, f), name: f.name, media_type: f.media_type, bytes: f.bytes };
}

/** Reads a stored input back for the provider (at most INPUT_MAX_BYTES). */
export async function readInput(files: FileStore, generationId: number, f: JobInputFile): Promise<MediaInputFile> {
  const stored = await files.get(inputKey(generationId, f));
  if (!stored) throw new ProviderError(`the job's input file ${f.name} is missing from the store`, { retryable: false });
  const chunks: Buffer[] = [];
  for await (const chunk of stored.body) chunks.push(chunk as Buffer);
  const data = Buffer.concat(chunks);
  // An instance that died while storing it leaves a short file: never send a truncated input.
  if (data.byteLength !== f.bytes) throw new ProviderError(`the job's input file ${f.name} is incomplete (${data.byteLength} of ${f.bytes} bytes)`, { retryable: false });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), mediaType: f.media_type, ...(f.filename ? { filename: f.filename } : {}) };
}

// Media types a data: URL may carry, and the extension the stored file gets.
const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/ogg': 'ogg',
  'audio/flac': 'flac',
  'audio/x-flac': 'flac',
  'audio/webm': 'webm',
  'audio/mp4': 'm4a',
  'audio/x-m4a': 'm4a',
  'audio/aac': 'aac',
  'video/mp4': 'mp4',
  'video/webm': 'webm',
};

/**
 * The `image_url` / `audio_url` options of a media request: an https:// URL stays an option (the
 * provider passes it on; the gateway never fetches it); a `data:<type>;base64,…` URL is decoded
 * and becomes the job's input file (removed from the options). Anything else is refused naming
 * the field where it was sent (`pathOf`: `params.image_url` where /api/v2's params gave it):
 * http:, file: and other schemes (400), a malformed data URL (422), too big (413).
 */
export function takeInputUrls(
  options: Record<string, unknown>,
  maxBytes = INPUT_MAX_BYTES,
  pathOf: (name: string) => string = (name) => name,
): { options: Record<string, unknown>; upload?: InputUpload } {
  let upload: InputUpload | undefined;
  const rest = { ...options };
  for (const name of INPUT_URL_OPTIONS) {
    const value = options[name];
    const field = pathOf(name);
    if (value === undefined) continue;
    if (typeof value !== 'string') throw validationError([{ path: field, message: 'a URL string (https:// or data:<media type>;base64,…)' }]);
    if (/^https:\/\//i.test(value)) continue;
    if (!/^data:/i.test(value)) throw unsupportedField(field, 'only https:// URLs and data:<media type>;base64,… URLs are accepted (the gateway fetches no other URLs)');
    if (upload) throw unsupportedField(field, `a job takes one input file: ${upload.field} already carries one`);
    upload = decodeDataUrl(field, value, maxBytes);
    delete rest[name];
  }
  return upload ? { options: rest, upload } : { options: rest };
}

function decodeDataUrl(field: string, url: string, maxBytes: number): InputUpload {
  const comma = url.indexOf(',');
  const header = comma > 0 ? url.slice(5, comma).toLowerCase() : '';
  const m = /^([a-z]+\/[a-z0-9.+-]+)((?:;[a-z0-9-]+=[^;,]*)*);base64$/.exec(header);
  if (!m) throw validationError([{ path: field, message: 'malformed data URL: expected data:<media type>;base64,<data>' }]);
  const mediaType = m[1]!;
  const ext = EXTENSIONS[mediaType];
  if (!ext) throw validationError([{ path: field, message: `unsupported media type ${clip(mediaType)} (accepted: ${[...new Set(Object.keys(EXTENSIONS))].join(', ')})` }]);
  const b64 = url.slice(comma + 1);
  // Checked on the encoded length first: nothing over the cap is decoded.
  const decodedLength = Math.floor((b64.length * 3) / 4) - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
  if (decodedLength > maxBytes) {
    throw new GatewayError('payload_too_large', `${field}: the data URL holds more than ${maxBytes} bytes`, { fields: [{ path: field, message: `over ${maxBytes} bytes` }], max_bytes: maxBytes });
  }
  if (b64.length === 0 || b64.length % 4 === 1 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw validationError([{ path: field, message: 'malformed data URL: the data is not base64' }]);
  const data = new Uint8Array(Buffer.from(b64, 'base64'));
  return { field, ext, mediaType: mediaType === 'image/jpg' ? 'image/jpeg' : mediaType, body: () => data };
}
