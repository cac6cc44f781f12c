// LumengateClient: one method per Elumenta v2 route, typed in and out.
import { LumengateError, errorFromResponse } from './errors.js';
import { sleep } from './sleep.js';
import { parseGenerationStream } from './sse.js';
import type {
  ApiKey,
  Balance,
  CreatedApiKey,
  GenerateRequest,
  Generation,
  HistoryPage,
  HistoryQuery,
  ListModelsQuery,
  Model,
  Price,
  PriceRequest,
  StreamEvent,
  UserBalance,
  UserProfile,
} from './types.js';

export interface LumengateClientOptions {
  /** An `nb_...` API key, sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** Where lumengate listens, e.g. `https://ai.example.com` (no `/api/v2`). */
  baseUrl: string;
  /** Replacement for the global `fetch` (proxies, instrumentation, tests). */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface WaitOptions extends RequestOptions {
  /** First pause between polls. Default 1000 ms. */
  intervalMs?: number;
  /** The pause doubles after each poll up to this. Default 10 000 ms. */
  maxIntervalMs?: number;
  /** Give up (code `timeout`) after this long. Default 300 000 ms, as the docs suggest. */
  timeoutMs?: number;
}

type Query = Record<string, string | number | boolean | undefined | null>;

interface CallOptions extends RequestOptions {
  body?: unknown;
  query?: Query;
}

/** `stream` is chosen by the method called, never by the body. */
function withoutStreamFlag(req: GenerateRequest): Record<string, unknown> {
  const { stream: _ignored, ...body } = req;
  return body;
}

/** Lists are accepted bare or wrapped (`{data}`, `{models}`, `{keys}`, `{items}`): the list route's envelope is undocumented. */
function unwrapList<T>(value: unknown, key: string): T[] {
  if (Array.isArray(value)) return value as T[];
  if (value !== null && typeof value === 'object') {
    for (const field of [key, 'data', 'items']) {
      const list = (value as Record<string, unknown>)[field];
      if (Array.isArray(list)) return list as T[];
    }
  }
  throw new LumengateError({ status: 200, code: 'invalid_response', message: `Expected a list of ${key}` });
}

export class LumengateClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;

  constructor(options: LumengateClientOptions) {
    if (!options.apiKey) throw new TypeError('LumengateClient: apiKey is required');
    if (!options.baseUrl) throw new TypeError('LumengateClient: baseUrl is required');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  // --- generation ---

  /** `POST /api/v2/generate`. Resolves with the generation (`completed`, `pending` or `failed`). */
  generate(req: GenerateRequest, options: RequestOptions = {}): Promise<Generation> {
    return this.#json<Generation>('POST', '/api/v2/generate', { ...options, body: withoutStreamFlag(req) });
  }

  /**
   * `POST /api/v2/generate/stream`. Yields `generation_start`, `content_delta`…, `generation_end`
   * and ends. Errors before the stream opens throw a `LumengateError` with the HTTP status; an
   * `error` event or a premature close throws a `LumengateStreamError`. Aborting `signal` (or
   * leaving the loop) closes the HTTP request.
   */
  async *stream(req: GenerateRequest, options: RequestOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    const response = await this.#send('POST', '/api/v2/generate/stream', {
      ...options,
      body: withoutStreamFlag(req),
      accept: 'text/event-stream',
    });
    const contentType = response.headers.get('content-type') ?? '';
    if (!contentType.toLowerCase().startsWith('text/event-stream') || response.body === null) {
      const text = await response.text().catch(() => '');
      throw new LumengateError({
        status: response.status,
        code: 'invalid_response',
        message: `Expected text/event-stream, got "${contentType}": ${text.slice(0, 200)}`,
      });
    }
    yield* parseGenerationStream(response.body, { status: response.status, signal: options.signal });
  }

  /** `GET /api/v2/generate/{id}`. */
  getGeneration(id: number, options: RequestOptions = {}): Promise<Generation> {
    return this.#json<Generation>('GET', `/api/v2/generate/${encodeURIComponent(id)}`, options);
  }

  /**
   * Polls `getGeneration` until the status is `completed` or `failed` and returns that generation
   * (a failed generation is returned, not thrown: it is a result, with `error` set). The pause
   * starts at `intervalMs` and doubles up to `maxIntervalMs`. Throws code `timeout` after `timeoutMs`.
   */
  async waitForGeneration(id: number, options: WaitOptions = {}): Promise<Generation> {
    const { intervalMs = 1000, maxIntervalMs = 10_000, timeoutMs = 300_000, signal } = options;
    const deadline = Date.now() + timeoutMs;
    let pause = intervalMs;
    for (;;) {
      const generation = await this.getGeneration(id, { signal });
      if (generation.status !== 'pending') return generation;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new LumengateError({
          status: null,
          code: 'timeout',
          message: `Generation ${id} still pending after ${timeoutMs} ms`,
          details: { generation_id: id },
        });
      }
      await sleep(Math.min(pause, remaining), signal);
      pause = Math.min(pause * 2, maxIntervalMs);
    }
  }

  // --- models ---

  readonly models = {
    /** `GET /api/v2/models`. */
    list: async (query: ListModelsQuery = {}, options: RequestOptions = {}): Promise<Model[]> =>
      unwrapList<Model>(await this.#json('GET', '/api/v2/models', { ...options, query: { ...query } }), 'models'),
    /** `GET /api/v2/models/{slug}`. */
    get: (slug: string, options: RequestOptions = {}): Promise<Model> =>
      this.#json<Model>('GET', `/api/v2/models/${encodeURIComponent(slug)}`, options),
    /** `POST /api/v2/models/{slug}/calculate-price`. */
    calculatePrice: (slug: string, req: PriceRequest = {}, options: RequestOptions = {}): Promise<Price> =>
      this.#json<Price>('POST', `/api/v2/models/${encodeURIComponent(slug)}/calculate-price`, {
        ...options,
        body: { params: req.params ?? {}, count: req.count ?? 1 },
      }),
  };

  // --- account ---

  /** `GET /api/v2/balance`. */
  balance(options: RequestOptions = {}): Promise<Balance> {
    return this.#json<Balance>('GET', '/api/v2/balance', options);
  }

  readonly user = {
    /** `GET /api/v2/user/me`. */
    me: (options: RequestOptions = {}): Promise<UserProfile> => this.#json('GET', '/api/v2/user/me', options),
    /** `GET /api/v2/user/balance` (with the plan/bonus split). */
    balance: (options: RequestOptions = {}): Promise<UserBalance> => this.#json('GET', '/api/v2/user/balance', options),
    /** `GET /api/v2/user/history`. */
    history: (query: HistoryQuery = {}, options: RequestOptions = {}): Promise<HistoryPage> =>
      this.#json('GET', '/api/v2/user/history', { ...options, query: { ...query } }),
  };

  // --- API keys ---

  readonly keys = {
    /** `POST /api/v2/keys`. The returned `key` is shown this once. */
    create: (name: string, options: RequestOptions = {}): Promise<CreatedApiKey> =>
      this.#json('POST', '/api/v2/keys', { ...options, body: { name } }),
    /** `GET /api/v2/keys`. */
    list: async (options: RequestOptions = {}): Promise<ApiKey[]> =>
      unwrapList<ApiKey>(await this.#json('GET', '/api/v2/keys', options), 'keys'),
    /** `PATCH /api/v2/keys/{id}`. */
    rename: (id: number, name: string, options: RequestOptions = {}): Promise<ApiKey> =>
      this.#json('PATCH', `/api/v2/keys/${encodeURIComponent(id)}`, { ...options, body: { name } }),
    /** `DELETE /api/v2/keys/{id}` (204). The key stops working at once. */
    revoke: async (id: number, options: RequestOptions = {}): Promise<void> => {
      const response = await this.#send('DELETE', `/api/v2/keys/${encodeURIComponent(id)}`, options);
      await response.body?.cancel();
    },
  };

  // --- transport ---

  async #send(method: string, path: string, options: CallOptions & { accept?: string } = {}): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#apiKey}`,
      accept: options.accept ?? 'application/json',
    };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.#fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  async #json<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const response = await this.#send(method, path, options);
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new LumengateError({
        status: response.status,
        code: 'invalid_response',
        message: `Expected JSON from ${method} ${path}: ${text.slice(0, 200)}`,
        cause,
      });
    }
  }
}
