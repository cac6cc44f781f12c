// Replicate predictions (https://replicate.com/docs/reference/http): image, video and music models.
// POST /models/{owner}/{name}/predictions (or /predictions with a version for "owner/name:version")
// with `Prefer: wait=N` answers the prediction: { id, status: starting|processing|succeeded|failed|
// canceled, output, error, urls: { get, cancel } }; GET /predictions/{id} polls it and
// POST /predictions/{id}/cancel cancels it.
// On undici directly rather than @ai-sdk/replicate: the AI SDK waits for the prediction itself and
// never hands out its id, and the job runner must store that id the moment the prediction exists
// so that a retry after a crash resumes polling it instead of paying for a second one (docs/api.md).
import { Agent, request, type Dispatcher } from 'undici';
import type { ProviderConfig } from './config.js';
import { replicateInput, replicateOutputsText } from './replicate-inputs.js';
import { errorBodyText, retryAfterSeconds } from './upstream-errors.js';
import { JSON_LIMIT, readBounded } from './body-limit.js';
import { ProviderError, type MediaOutputFile, type MediaProgress, type MediaRequest, type MediaResult, type Provider } from './spec.js';

interface Prediction {
  id: string;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled' | 'aborted';
  output?: unknown;
  error?: unknown;
  metrics?: { predict_time?: number };
}

/** Seconds the create call may wait for a quick model before answering `starting` (Prefer: wait). */
const DEFAULT_WAIT_SECONDS = 5;
const POLL_AFTER_MS = 2_000;

export function replicateProvider(id: string, cfg: ProviderConfig): Provider {
  const base = cfg.base_url.replace(/\/+$/, '');
  const pool = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const waitSeconds = Number(cfg.options?.prefer_wait_seconds ?? DEFAULT_WAIT_SECONDS);
  const headers = { authorization: `Bearer ${cfg.api_key ?? ''}`, 'content-type': 'application/json', ...cfg.headers };

  async function call(method: Dispatcher.HttpMethod, path: string, signal: AbortSignal, body?: unknown, extra: Record<string, string> = {}): Promise<Prediction> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(base + path, { method, dispatcher: pool, signal, headers: { ...headers, ...extra }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      throw new ProviderError(`replicate unreachable: ${(err as Error).message}`, { cause: err });
    }
    // Bounded (body-limit.ts): a refusal's first 64 KiB say why; a prediction is JSON_LIMIT at most.
    if (res.statusCode >= 400) {
      const text = await errorBodyText(res.body);
      const retryAfter = retryAfterSeconds(res.headers['retry-after']);
      throw new ProviderError(`replicate ${method} ${path}: ${problemOf(text)}`, {
        status: res.statusCode,
        ...(retryAfter !== undefined ? { retryAfter } : {}),
        unavailable: res.statusCode === 404,
      });
    }
    const text = Buffer.from(await readBounded(res, JSON_LIMIT)).toString('utf8');
    try {
      return JSON.parse(text) as Prediction;
    } catch {
      throw new ProviderError(`replicate answered ${res.statusCode} without JSON`, { status: res.statusCode });
    }
  }

  const progress = (p: Prediction, req: MediaRequest): MediaProgress => {
    switch (p.status) {
      case 'succeeded':
        return { state: 'done', result: resultOf(p.output, req), providerJobId: p.id };
      case 'failed':
      case 'aborted':
        // The model itself failed (bad input, content policy): trying again would fail (and charge) again.
        throw new ProviderError(`prediction ${p.status}: ${typeof p.error === 'string' ? p.error : JSON.stringify(p.error ?? 'no reason given')}`, { retryable: false, code: 'prediction_failed' });
      case 'canceled':
        throw new ProviderError('prediction canceled at the provider', { retryable: false, code: 'cancelled' });
      default:
        return { state: 'running', providerJobId: p.id, pollAfterMs: POLL_AFTER_MS };
    }
  };

  return {
    id,
    async open() {
      throw new ProviderError('replicate serves media models only (image, video, audio)', { status: 400, retryable: false });
    },
    media: {
      origin: URL.canParse(base) ? new URL(base).origin : undefined,
      async start(req) {
        const [owner, rest] = splitModel(req.upstreamModel);
        const input = replicateInput(req);
        const prefer = { prefer: `wait=${Math.max(1, Math.min(60, waitSeconds))}` };
        const p = rest.includes(':')
          ? await call('POST', '/predictions', req.signal, { version: rest.split(':')[1], input }, prefer)
          : await call('POST', `/models/${owner}/${rest}/predictions`, req.signal, { input }, prefer);
        return progress(p, req);
      },
      async poll(req, predictionId) {
        return progress(await call('GET', `/predictions/${encodeURIComponent(predictionId)}`, req.signal), req);
      },
      async cancel(req, predictionId) {
        await call('POST', `/predictions/${encodeURIComponent(predictionId)}/cancel`, req.signal);
      },
    },
    async close() {
      await pool.close();
    },
  };
}

/** "owner/name" or "owner/name:version". */
function splitModel(model: string): [string, string] {
  const slash = model.indexOf('/');
  if (slash < 1) throw new ProviderError(`replicate model "${model}" must be owner/name[:version]`, { status: 400, retryable: false });
  return [model.slice(0, slash), model.slice(slash + 1)];
}

const MEDIA_TYPES: Record<string, string> = {
  webp: 'image/webp',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  flac: 'audio/flac',
};
const FALLBACK: Record<string, string> = { image: 'image/webp', video: 'video/mp4', audio: 'audio/mpeg', tts: 'audio/mpeg', stt: 'text/plain', tool: 'application/octet-stream' };

/** A text model's output (OCR: a string, or a list of strings) is the result's text, whatever it reads; any other model's is files. */
function resultOf(output: unknown, req: MediaRequest): MediaResult {
  if (!replicateOutputsText(req.upstreamModel)) return { files: outputFiles(output, req.kind) };
  const pieces = Array.isArray(output) ? output : [output];
  if (!pieces.every((x) => typeof x === 'string')) throw new ProviderError('prediction succeeded without a text output', { retryable: false });
  return { files: [], text: pieces.join('') };
}

/** `output` is a URL or a list of URLs (files served by replicate.delivery for an hour). */
function outputFiles(output: unknown, kind: MediaRequest['kind']): MediaOutputFile[] {
  const urls = (Array.isArray(output) ? output : [output]).filter((u): u is string => typeof u === 'string' && /^https?:\/\//.test(u));
  if (urls.length === 0) throw new ProviderError('prediction succeeded without an output file', { retryable: false });
  return urls.map((url) => {
    const ext = /\.([a-z0-9]+)(?:\?|$)/i.exec(new URL(url).pathname)?.[1]?.toLowerCase() ?? '';
    return { url, mediaType: MEDIA_TYPES[ext] ?? FALLBACK[kind]!, ...(ext ? { metadata: { format: ext === 'jpg' ? 'jpeg' : ext } } : {}) };
  });
}

function problemOf(text: string): string {
  try {
    const j = JSON.parse(text) as { detail?: string; title?: string };
    return j.detail ?? j.title ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}
