// What every HTTP media provider shares: one undici keep-alive pool, JSON / multipart / bytes calls
// that turn refusals into ProviderError (status, Retry-After, the upstream's message), and the
// "open a URL output for the store" step. On undici's request() for the same reason as
// openai-compatible.ts (no fetch/WHATWG stream overhead), and because the AI SDK media models
// poll internally and never expose the provider's job id, which the gateway must store (docs/api.md).
// Every answer is read within a bound (body-limit.ts): a JSON answer's unless the call names an output file's.
import { isIP } from 'node:net';
import { Agent, FormData, request, type Dispatcher } from 'undici';
import { failure, httpError } from './upstream-errors.js';
import { bounded, JSON_LIMIT, readBounded, refuseDeclared, type BodyLimit } from './body-limit.js';
import { ProviderError, type MediaInputFile, type MediaProvider, type OpenedOutput, type Provider } from './spec.js';
import { hostOf, isPublicAddress } from '../webhooks/address.js';
import { causeOf, publicOnlyLookup, RefusedAddress, systemResolver } from '../webhooks/send.js';

export interface HttpCall {
  method?: 'GET' | 'POST' | 'DELETE';
  /** A JSON body (sent as application/json), a multipart form, or nothing. */
  json?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  signal: AbortSignal;
  /** The most the answer may have: JSON_LIMIT unless it is (or carries) an output file. */
  limit?: BodyLimit;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: Uint8Array;
}

/** A media provider that also frees its connection pool at shutdown. */
export type ClosableMediaProvider = MediaProvider & { close(): Promise<void> };

export class MediaHttp {
  // Media calls are few and slow (seconds to minutes): undici's own timeouts are off, the job
  // runner owns deadlines through req.signal (LUMENGATE_JOB_TIMEOUT_MS aborts it, src/jobs/execute.ts).
  private readonly pool = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  // Result URLs off the provider's origin: public addresses only (outputUrl).
  private readonly publicPool = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0, connect: publicOnlyConnect });

  constructor(
    private readonly baseUrl: string,
    private readonly auth: Record<string, string>,
  ) {}

  url(path: string): string {
    return `${this.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  /** Any 2xx answer with its body read whole; anything else rejects with ProviderError. */
  async call(path: string, c: HttpCall): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...this.auth, ...c.headers };
    let body: string | FormData | undefined;
    if (c.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(c.json);
    } else if (c.form) body = c.form;
    return send(
      /^https?:/.test(path) ? path : this.url(path),
      { method: c.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, signal: c.signal, dispatcher: this.pool },
      c.limit ?? JSON_LIMIT,
    );
  }

  async json<T>(path: string, c: HttpCall): Promise<T> {
    return parseJson<T>((await this.call(path, { ...c, headers: { accept: 'application/json', ...c.headers } })).bytes);
  }

  /** Opens a result URL (see follow) as a stream bounded by `limit`, for the store to read as it writes. */
  async stream(raw: string, signal: AbortSignal, limit: BodyLimit, headers: Record<string, string> = {}): Promise<OpenedOutput> {
    const res = await this.follow(raw, signal, headers);
    if (res.statusCode < 200 || res.statusCode >= 300) throw await httpError(res, signal);
    refuseDeclared(res, limit);
    const mediaType = contentType(res, '');
    return { body: bounded(res.body, limit), ...(mediaType ? { mediaType } : {}), close: () => void res.body.destroy() };
  }

  /**
   * The answer of a result URL, for URLs that need the provider's key (which must not leave the
   * provider): redirects are followed by hand so the key (and `headers`) go to the provider's own
   * origin only. The URL must pass outputUrl; where the provider's own origin redirects (Google's
   * files API to its signed storage) is its answer, followed as the origin itself is; other
   * redirects are checked.
   */
  private async follow(raw: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<Dispatcher.ResponseData> {
    const origin = new URL(this.baseUrl).origin;
    let next = outputUrl(raw, origin);
    let vouched = next.own;
    for (let hop = 0; hop <= 5; hop++) {
      const { url, own } = next;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { method: 'GET', headers: own ? { ...this.auth, ...headers } : {}, signal, dispatcher: vouched ? this.pool : this.publicPool });
      } catch (err) {
        throw (!signal.aborted && refusedAddress(err)) || failure(err, signal);
      }
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
        await res.body.dump().catch(() => undefined);
        const to = new URL(location, url);
        next = own ? { url: to, own: to.origin === origin } : outputUrl(to.href, origin);
        vouched = own || next.own;
        continue;
      }
      return res;
    }
    throw new ProviderError('upstream result download redirected too often');
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.publicPool.close()]);
  }
}

/** Connect options that let a connection through only when every address of the name is public (as webhooks'). */
export const publicOnlyConnect = { lookup: publicOnlyLookup(systemResolver, () => false) };

/**
 * A URL in a provider's answer, checked before it is fetched: http(s) only, and on the provider's
 * own origin (where the operator pointed it, <ID>_BASE_URL: any address) or a public address, so
 * that an output cannot turn the gateway into a proxy into its own network (docs/api.md). An IP
 * literal is judged here; a name off the origin is judged on connecting (publicOnlyConnect).
 */
export function outputUrl(raw: string, providerOrigin: string | undefined): { url: URL; own: boolean } {
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (url?.protocol !== 'https:' && url?.protocol !== 'http:') throw new ProviderError("the provider's output URL is not an http(s) URL: not downloaded", { retryable: false });
  const own = url.origin === providerOrigin;
  if (!own && isIP(hostOf(url)) && !isPublicAddress(hostOf(url))) throw new ProviderError(`the provider's output URL ${url.host} is not on a public address: not downloaded`, { retryable: false });
  return { url, own };
}

/** A download that publicOnlyConnect refused: said, and not retried (the same URL would be refused again). */
export function refusedAddress(err: unknown): ProviderError | undefined {
  const refused = causeOf(err, RefusedAddress);
  return refused && new ProviderError(`downloading the result failed: ${refused.message}`, { cause: err, retryable: false });
}

type SendOptions = { method: 'GET' | 'POST' | 'DELETE'; headers: Record<string, string>; body?: string | FormData; signal: AbortSignal; dispatcher: Dispatcher };

async function send(url: string, opts: SendOptions, limit: BodyLimit): Promise<HttpAnswer> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, opts);
  } catch (err) {
    throw failure(err, opts.signal);
  }
  return answer(res, opts.signal, limit);
}

async function answer(res: Dispatcher.ResponseData, signal: AbortSignal, limit: BodyLimit): Promise<HttpAnswer> {
  if (res.statusCode < 200 || res.statusCode >= 300) throw await httpError(res, signal);
  try {
    return { status: res.statusCode, headers: res.headers, bytes: await readBounded(res, limit) };
  } catch (err) {
    throw failure(err, signal);
  }
}

export function parseJson<T>(bytes: Uint8Array): T {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch {
    throw new ProviderError(`upstream answered with a body that is not JSON: ${Buffer.from(bytes).toString('utf8').slice(0, 200)}`);
  }
}

/** A multipart file part from a gateway input file. */
export function filePart(form: FormData, name: string, file: MediaInputFile, fallbackName: string): void {
  // Blob copies the bytes; the cast only narrows the buffer type (gateway inputs are never shared memory).
  form.append(name, new Blob([file.data as Uint8Array<ArrayBuffer>], { type: file.mediaType }), file.filename ?? fallbackName);
}

/** The content type of an answer, without parameters. */
export function contentType(a: Pick<HttpAnswer, 'headers'>, fallback: string): string {
  const v = a.headers['content-type'];
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(';')[0]?.trim() || fallback;
}

/** The request's input file, or a ProviderError the gateway shows (it validates inputs first, so this is a bug guard). */
export function requireInput(file: MediaInputFile | undefined, what: string): MediaInputFile {
  if (!file) throw new ProviderError(`${what} needs an input file`, { status: 400, retryable: false });
  return file;
}

/**
 * How the modules read each option (str, num, bool below, or whole): the options read as numbers
 * and as booleans, and those read as they are (el-dialogue's `inputs` list and `voices` map); any
 * other option is read with str. A value its reader would take as absent is refused when the job
 * is submitted (unreadableOption, src/jobs/options.ts), never dropped.
 */
const NUMBER_OPTIONS: ReadonlySet<string> = new Set(['duration', 'num_speakers', 'prompt_influence', 'scale', 'seed', 'similarity_boost', 'speed', 'stability', 'style_exaggeration', 'temperature']);
const BOOLEAN_OPTIONS: ReadonlySet<string> = new Set(['diarize', 'face_enhance', 'loop', 'watermark']);
const WHOLE_OPTIONS: Readonly<Record<string, (v: unknown) => boolean>> = {
  inputs: Array.isArray,
  voices: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
};

/** What option `name` must be when `value` is one its module's reader would take as absent; undefined when it reads it. */
export function unreadableOption(name: string, value: unknown): string | undefined {
  if (NUMBER_OPTIONS.has(name)) return num({ v: value }, 'v') === undefined ? 'a number' : undefined;
  if (BOOLEAN_OPTIONS.has(name)) return bool({ v: value }, 'v') === undefined ? 'true or false' : undefined;
  const whole = WHOLE_OPTIONS[name];
  if (whole) return whole(value) ? undefined : name === 'inputs' ? 'a list' : 'an object';
  return str({ v: value }, 'v') === undefined ? 'a non-empty string' : undefined;
}

/** Option helpers: unreadableOption refused what they cannot read; these keep the wire bodies free of undefined. */
export function str(options: Record<string, unknown>, key: string): string | undefined {
  const v = options[key];
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}
export function num(options: Record<string, unknown>, key: string): number | undefined {
  const v = options[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;
}
export function bool(options: Record<string, unknown>, key: string): boolean | undefined {
  const v = options[key];
  return typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : undefined;
}
/** The object without its undefined values (JSON bodies compared byte for byte in tests). */
export function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** "1024x1792" -> width and height. */
export function sizeOf(size: string | undefined): { width?: number; height?: number } {
  const m = size ? /^(\d+)x(\d+)$/.exec(size) : null;
  return m ? { width: Number(m[1]), height: Number(m[2]) } : {};
}

/** A provider that only does media (Luma, ElevenLabs, local speech): text requests are refused. */
export function mediaOnlyProvider(id: string, media: ClosableMediaProvider): Provider {
  return {
    id,
    open: () => Promise.reject(new ProviderError(`provider "${id}" serves media models only`, { status: 400, retryable: false })),
    media,
    close: () => media.close(),
  };
}

/** A text provider with media beside it (OpenAI, Google); close frees both. */
export function withMedia(provider: Provider, media: ClosableMediaProvider): Provider {
  return {
    id: provider.id,
    open: (req) => provider.open(req),
    ...(provider.refuse ? { refuse: provider.refuse.bind(provider) } : {}),
    ...(provider.keepsToolCallState ? { keepsToolCallState: true } : {}),
    ...(provider.embed ? { embed: provider.embed.bind(provider) } : {}),
    ...(provider.isReady ? { isReady: provider.isReady.bind(provider) } : {}),
    media,
    close: async () => {
      await Promise.all([provider.close?.(), media.close()]);
    },
  };
}
