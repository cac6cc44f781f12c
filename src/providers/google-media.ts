// Google's Gemini API media models: Imagen images (`:predict`, synchronous) and Veo videos
// (`:predictLongRunning`, an operation polled until done). Veo's video URI needs the API key, so
// poll() answers an opener of it (the key never leaves the provider) that the store reads as it writes.
import type { ProviderConfig } from './config.js';
import { MediaHttp, defined, num, str, type ClosableMediaProvider } from './media-http.js';
import { inlineOutputLimit, outputLimit } from './body-limit.js';
import { ProviderError, type MediaKind, type MediaProgress, type MediaRequest } from './spec.js';

interface PredictResponse {
  predictions?: { bytesBase64Encoded?: string; mimeType?: string }[];
}
interface Operation {
  name?: string;
  done?: boolean;
  error?: { code?: number; message?: string };
  response?: { generateVideoResponse?: { generatedSamples?: { video?: { uri?: string } }[]; raiMediaFilteredReasons?: string[] } };
}

/** Veo takes a minute or more: a gentle poll. */
const VEO_POLL_MS = 10_000;
/** Veo's default clip length, for pricing when the request named none. */
const VEO_DEFAULT_SECONDS = 8;

/**
 * The Style C options imagen and veoBody forward (src/providers/media-options.ts). Veo's first
 * frame is the job's input file (an image_url data: URL, src/jobs/inputs.ts), never a URL option.
 */
const IMAGEN_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'aspect_ratio', 'person_generation']);
const VEO_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'aspect_ratio', 'duration', 'negative_prompt', 'resolution']);

export function googleMediaOptions(kind: MediaKind): ReadonlySet<string> {
  return kind === 'image' ? IMAGEN_OPTIONS : kind === 'video' ? VEO_OPTIONS : new Set();
}

export function googleMedia(cfg: ProviderConfig): ClosableMediaProvider {
  const http = new MediaHttp(cfg.base_url, { ...cfg.headers, ...(cfg.api_key ? { 'x-goog-api-key': cfg.api_key } : {}) });
  return {
    async start(req) {
      if (req.kind === 'image') return imagen(http, req);
      if (req.kind !== 'video') throw new ProviderError(`Google media does not serve ${req.kind} models`, { status: 400, retryable: false });
      const op = await http.json<Operation>(`/models/${encodeURIComponent(req.upstreamModel)}:predictLongRunning`, { json: veoBody(req), signal: req.signal });
      if (!op.name) throw new ProviderError('Google answered predictLongRunning without an operation name');
      return veoProgress(http, req, op);
    },
    async poll(req, name) {
      // The stored id is an operation name ("models/veo-…/operations/…"), used as a path.
      if (!/^[\w.-]+(\/[\w.-]+)*$/.test(name) || name.split('/').includes('..')) throw new ProviderError(`not a Google operation name: ${name}`, { status: 400, retryable: false });
      return veoProgress(http, req, await http.json<Operation>(`/${name}`, { signal: req.signal }));
    },
    close: () => http.close(),
  };
}

async function imagen(http: MediaHttp, req: MediaRequest): Promise<MediaProgress> {
  const o = req.options;
  const body = { instances: [{ prompt: req.prompt ?? '' }], parameters: defined({ sampleCount: 1, aspectRatio: str(o, 'aspect_ratio'), personGeneration: str(o, 'person_generation') }) };
  const res = await http.json<PredictResponse>(`/models/${encodeURIComponent(req.upstreamModel)}:predict`, { json: body, signal: req.signal, limit: inlineOutputLimit(req) });
  const p = res.predictions?.find((x) => x.bytesBase64Encoded);
  // Imagen answers no prediction at all when its safety filters removed the image.
  if (!p?.bytesBase64Encoded) throw new ProviderError('Imagen returned no image (filtered by its safety settings)', { status: 400, retryable: false, code: 'content_filter' });
  return { state: 'done', result: { files: [{ data: new Uint8Array(Buffer.from(p.bytesBase64Encoded, 'base64')), mediaType: p.mimeType ?? 'image/png' }] } };
}

function veoBody(req: MediaRequest): Record<string, unknown> {
  const o = req.options;
  const image = req.input && req.input.mediaType.startsWith('image/') ? { bytesBase64Encoded: Buffer.from(req.input.data).toString('base64'), mimeType: req.input.mediaType } : undefined;
  return {
    instances: [defined({ prompt: req.prompt ?? '', image })],
    parameters: defined({ aspectRatio: str(o, 'aspect_ratio'), durationSeconds: num(o, 'duration'), negativePrompt: str(o, 'negative_prompt'), resolution: str(o, 'resolution') }),
  };
}

async function veoProgress(http: MediaHttp, req: MediaRequest, op: Operation): Promise<MediaProgress> {
  if (!op.done) return { state: 'running', providerJobId: op.name!, pollAfterMs: VEO_POLL_MS };
  if (op.error) throw new ProviderError(`Veo operation failed: ${op.error.message ?? `code ${op.error.code}`}`, { retryable: false, code: 'generation_failed' });
  const out = op.response?.generateVideoResponse;
  const uri = out?.generatedSamples?.find((s) => s.video?.uri)?.video?.uri;
  if (!uri) {
    const reasons = out?.raiMediaFilteredReasons?.join('; ');
    throw new ProviderError(`Veo returned no video${reasons ? `: ${reasons}` : ''}`, { status: 400, retryable: false, code: 'content_filter' });
  }
  const seconds = num(req.options, 'duration') ?? VEO_DEFAULT_SECONDS;
  // Read by the store as it writes it, when it stores it (the answer's media type wins).
  const open = (signal: AbortSignal) => http.stream(uri, signal, outputLimit(req));
  return { state: 'done', result: { files: [{ open, mediaType: 'video/mp4', metadata: { duration: seconds } }], measured: { seconds } } };
}
