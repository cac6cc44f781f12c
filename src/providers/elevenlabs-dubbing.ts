// ElevenLabs dubbing, an asynchronous provider job: POST /dubbing (multipart: source_url or file,
// target_lang, source_lang, end_time, …) answers {dubbing_id, expected_duration_sec}; GET
// /dubbing/{id} reads it (status dubbing | dubbed | failed); GET /dubbing/{id}/audio/{lang} is the
// dubbed file; DELETE /dubbing/{id} is our cancel. The dubbing id is stored by the gateway at once
// (docs/api.md), so a restart resumes polling instead of paying for a second dub.
import { FormData } from 'undici';
import { MediaHttp, bool, contentType, filePart, num, str } from './media-http.js';
import { outputLimit } from './body-limit.js';
import { ProviderError, type MediaProgress, type MediaRequest } from './spec.js';

interface DubbingCreated {
  dubbing_id?: string;
  expected_duration_sec?: number;
}
interface DubbingMetadata {
  dubbing_id?: string;
  status?: string;
  target_languages?: string[];
  media_metadata?: { content_type?: string; duration?: number } | null;
  error?: string | null;
}

/** The Style C options startDubbing forwards (src/providers/media-options.ts). */
export const DUBBING_OPTIONS: ReadonlySet<string> = new Set(['video_url', 'audio_url', 'target_lang', 'source_lang', 'num_speakers', 'watermark', 'duration']);

/** Seconds dubbed when the request names no `duration` (the catalog's default and minimum). */
const DEFAULT_SECONDS = 60;

export async function startDubbing(http: MediaHttp, req: MediaRequest): Promise<MediaProgress> {
  const o = req.options;
  const target = targetLang(req);
  const form = new FormData();
  const url = str(o, 'video_url') ?? str(o, 'audio_url');
  if (url) form.append('source_url', url);
  else if (req.input) filePart(form, 'file', req.input, 'source');
  else throw new ProviderError('el-dubbing needs the media to dub: audio_url or video_url (https), or an input file', { status: 400, retryable: false });
  form.append('target_lang', target);
  form.append('source_lang', str(o, 'source_lang') ?? 'auto');
  const speakers = num(o, 'num_speakers');
  if (speakers !== undefined) form.append('num_speakers', String(speakers));
  const watermark = bool(o, 'watermark');
  if (watermark !== undefined) form.append('watermark', String(watermark));
  // Only the seconds that were priced and held are dubbed (docs/api.md).
  form.append('end_time', String(num(o, 'duration') ?? DEFAULT_SECONDS));
  const created = await http.json<DubbingCreated>('/dubbing', { form, signal: req.signal });
  if (!created.dubbing_id) throw new ProviderError('ElevenLabs answered POST /dubbing without a dubbing_id');
  // The expected duration is how long dubbing takes; a tenth of it (2-30 s) between looks.
  const pollAfterMs = Math.min(30_000, Math.max(2_000, ((created.expected_duration_sec ?? 20) * 1000) / 10));
  return { state: 'running', providerJobId: created.dubbing_id, pollAfterMs };
}

export async function pollDubbing(http: MediaHttp, req: MediaRequest, id: string): Promise<MediaProgress> {
  const path = `/dubbing/${encodeURIComponent(id)}`;
  const meta = await http.json<DubbingMetadata>(path, { signal: req.signal });
  if (meta.status === 'failed') throw new ProviderError(`ElevenLabs dubbing failed: ${meta.error ?? 'no reason given'}`, { retryable: false, code: 'generation_failed' });
  if (meta.status !== 'dubbed') return { state: 'running', providerJobId: id, pollAfterMs: 5_000 };
  const lang = targetLang(req);
  const file = await http.call(`${path}/audio/${encodeURIComponent(lang)}`, { headers: { accept: '*/*' }, signal: req.signal, limit: outputLimit(req) });
  const mediaType = contentType(file, meta.media_metadata?.content_type ?? 'audio/mpeg');
  const held = num(req.options, 'duration') ?? DEFAULT_SECONDS;
  const source = meta.media_metadata?.duration;
  const seconds = typeof source === 'number' && source > 0 ? Math.min(source, held) : held;
  return {
    state: 'done',
    result: { files: [{ data: file.bytes, mediaType, metadata: { duration: seconds, format: mediaType === 'audio/mpeg' ? 'mp3' : (mediaType.split('/')[1] ?? 'mp3') } }], measured: { seconds } },
  };
}

export async function cancelDubbing(http: MediaHttp, req: MediaRequest, id: string): Promise<void> {
  await http.call(`/dubbing/${encodeURIComponent(id)}`, { method: 'DELETE', signal: req.signal });
}

function targetLang(req: MediaRequest): string {
  const lang = str(req.options, 'target_lang');
  if (!lang) throw new ProviderError('el-dubbing needs target_lang (an ISO 639-1 code such as "es")', { status: 400, retryable: false });
  return lang;
}
