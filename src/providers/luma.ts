// Luma Dream Machine: Photon images and Ray videos, both asynchronous generations. start() posts
// the generation and answers running with its id (stored by the gateway at once, docs/api.md);
// poll() reads it until completed and answers the asset URL (the gateway downloads it: Luma's
// asset URLs are public CDN links). Not @ai-sdk/luma: its image model polls to the end inside one
// call and never exposes the generation id, so a restart would start (and pay for) a second one.
import type { ProviderConfig } from './config.js';
import { MediaHttp, bool, defined, num, str, type ClosableMediaProvider } from './media-http.js';
import { ProviderError, type MediaKind, type MediaProgress, type MediaRequest } from './spec.js';

interface Generation {
  id?: string;
  state?: 'queued' | 'dreaming' | 'completed' | 'failed';
  failure_reason?: string | null;
  assets?: { image?: string | null; video?: string | null } | null;
}

/** Suggested poll intervals: Photon takes seconds, Ray a minute or more. */
const POLL_MS = { image: 2_000, video: 5_000 };

/** The Style C options imageBody and videoBody forward (src/providers/media-options.ts). */
const IMAGE_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'aspect_ratio', 'image_url']);
const VIDEO_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'resolution', 'duration', 'aspect_ratio', 'loop', 'image_url']);

export function lumaMediaOptions(kind: MediaKind): ReadonlySet<string> {
  return kind === 'image' ? IMAGE_OPTIONS : kind === 'video' ? VIDEO_OPTIONS : new Set();
}

export function lumaMedia(cfg: ProviderConfig): ClosableMediaProvider {
  const http = new MediaHttp(cfg.base_url, { ...cfg.headers, ...(cfg.api_key ? { authorization: `Bearer ${cfg.api_key}` } : {}) });
  return {
    origin: URL.canParse(cfg.base_url) ? new URL(cfg.base_url).origin : undefined,
    async start(req) {
      const kind = assetKind(req);
      const g = await http.json<Generation>(`/generations/${kind}`, { json: kind === 'image' ? imageBody(req) : videoBody(req), signal: req.signal });
      if (!g.id) throw new ProviderError('Luma answered a generation without an id');
      return progress(req, g.id, g);
    },
    async poll(req, id) {
      return progress(req, id, await http.json<Generation>(`/generations/${encodeURIComponent(id)}`, { signal: req.signal }));
    },
    async cancel(req, id) {
      await http.call(`/generations/${encodeURIComponent(id)}`, { method: 'DELETE', signal: req.signal });
    },
    close: () => http.close(),
  };
}

function assetKind(req: MediaRequest): 'image' | 'video' {
  if (req.kind === 'image' || req.kind === 'video') return req.kind;
  throw new ProviderError(`Luma does not serve ${req.kind} models`, { status: 400, retryable: false });
}

function imageBody(req: MediaRequest): Record<string, unknown> {
  const o = req.options;
  const ref = str(o, 'image_url');
  return defined({ prompt: req.prompt ?? '', model: req.upstreamModel, aspect_ratio: str(o, 'aspect_ratio'), image_ref: ref ? [{ url: ref }] : undefined });
}

function videoBody(req: MediaRequest): Record<string, unknown> {
  const o = req.options;
  const first = str(o, 'image_url');
  const seconds = num(o, 'duration');
  return defined({
    prompt: req.prompt ?? '',
    model: req.upstreamModel,
    resolution: str(o, 'resolution'),
    // Luma takes durations as "5s" / "9s".
    duration: seconds !== undefined ? `${seconds}s` : undefined,
    aspect_ratio: str(o, 'aspect_ratio'),
    loop: bool(o, 'loop'),
    keyframes: first ? { frame0: { type: 'image', url: first } } : undefined,
  });
}

function progress(req: MediaRequest, id: string, g: Generation): MediaProgress {
  const kind = assetKind(req);
  if (g.state === 'failed') throw new ProviderError(`Luma generation failed: ${g.failure_reason ?? 'no reason given'}`, { retryable: false, code: 'generation_failed' });
  if (g.state !== 'completed') return { state: 'running', providerJobId: id, pollAfterMs: POLL_MS[kind] };
  const url = g.assets?.[kind];
  if (!url) throw new ProviderError(`Luma completed generation ${id} without a ${kind} asset`);
  const seconds = kind === 'video' ? (num(req.options, 'duration') ?? 5) : undefined;
  return {
    state: 'done',
    providerJobId: id,
    result: {
      files: [{ url, mediaType: kind === 'image' ? 'image/jpeg' : 'video/mp4', ...(seconds !== undefined ? { metadata: { duration: seconds } } : {}) }],
      ...(seconds !== undefined ? { measured: { seconds } } : {}),
    },
  };
}
