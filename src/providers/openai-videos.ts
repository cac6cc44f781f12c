// OpenAI's Videos API (Sora): POST /videos creates a job ({id, object: "video", status: "queued"}),
// GET /videos/{id} reads it (queued | in_progress | completed | failed, progress, error),
// GET /videos/{id}/content downloads the MP4, DELETE /videos/{id} removes it (our cancel). The
// create body is multipart, as the official SDK sends it (an input_reference image may be a file).
// start() answers running with the video id, which the gateway stores at once (docs/api.md).
import { FormData } from 'undici';
import { MediaHttp, num, str } from './media-http.js';
import { outputLimit } from './body-limit.js';
import { ProviderError, type MediaProgress, type MediaRequest } from './spec.js';

interface Video {
  id?: string;
  object?: 'video';
  status?: 'queued' | 'in_progress' | 'completed' | 'failed';
  progress?: number;
  seconds?: string;
  size?: string;
  error?: { code?: string; message?: string } | null;
}

/** Sora renders in about a minute or more: a look every 5 s is plenty. */
const POLL_MS = 5_000;

/** The Style C options startVideo forwards (src/providers/media-options.ts). */
export const VIDEO_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'duration', 'size', 'aspect_ratio', 'image_url']);

/** Style C aspect ratios -> Sora's sizes (720p). */
const SIZES: Record<string, string> = { '16:9': '1280x720', '9:16': '720x1280' };

export async function startVideo(http: MediaHttp, req: MediaRequest): Promise<MediaProgress> {
  const o = req.options;
  const form = new FormData();
  form.append('model', req.upstreamModel);
  form.append('prompt', req.prompt ?? '');
  const seconds = num(o, 'duration');
  if (seconds !== undefined) form.append('seconds', String(seconds));
  const size = str(o, 'size') ?? SIZES[str(o, 'aspect_ratio') ?? ''];
  if (size) form.append('size', size);
  // The first frame: an https URL (the SDK's form encoding), or the job's stored input file (an
  // image_url data: URL given to the gateway becomes one, src/jobs/inputs.ts).
  const ref = str(o, 'image_url');
  if (ref) form.append('input_reference[image_url]', ref);
  else if (req.input)
    form.append('input_reference', new Blob([Buffer.from(req.input.data)], { type: req.input.mediaType }), req.input.filename ?? `reference.${req.input.mediaType.split('/')[1] ?? 'png'}`);
  const v = await http.json<Video>('/videos', { form, signal: req.signal });
  if (!v.id) throw new ProviderError('OpenAI answered POST /videos without an id');
  return progress(http, req, v.id, v);
}

export async function pollVideo(http: MediaHttp, req: MediaRequest, id: string): Promise<MediaProgress> {
  return progress(http, req, id, await http.json<Video>(`/videos/${encodeURIComponent(id)}`, { signal: req.signal }));
}

export async function cancelVideo(http: MediaHttp, req: MediaRequest, id: string): Promise<void> {
  await http.call(`/videos/${encodeURIComponent(id)}`, { method: 'DELETE', signal: req.signal });
}

async function progress(http: MediaHttp, req: MediaRequest, id: string, v: Video): Promise<MediaProgress> {
  if (v.status === 'failed') {
    // The model refused or failed (content policy, bad reference): a retry would fail again.
    throw new ProviderError(`Sora video failed: ${v.error?.message ?? v.error?.code ?? 'no reason given'}`, { retryable: false, code: 'generation_failed' });
  }
  if (v.status !== 'completed') return { state: 'running', providerJobId: id, pollAfterMs: POLL_MS };
  // Read by the store as it writes it, when it stores it.
  const content = http.url(`/videos/${encodeURIComponent(id)}/content`);
  const open = (signal: AbortSignal) => http.stream(content, signal, outputLimit(req), { accept: 'application/binary' });
  const seconds = Number(v.seconds ?? num(req.options, 'duration') ?? 4);
  const [width, height] = (v.size ?? '').split('x').map(Number);
  return {
    state: 'done',
    result: {
      files: [{ open, mediaType: 'video/mp4', metadata: { format: 'mp4', duration: seconds, ...(width && height ? { width, height } : {}) } }],
      measured: { seconds },
    },
  };
}
