// Typed errors. `err.code` is what callers switch on; `status` is the HTTP status.

/** Codes the server sends (docs/api.md; `token_expired` from the auth docs). */
export const SERVER_ERROR_CODES = [
  'bad_request',
  'not_authenticated',
  'token_expired',
  'insufficient_tokens',
  'insufficient_plan',
  'not_found',
  'payload_too_large',
  'validation_error',
  'rate_limit_exceeded',
  'provider_error',
  'internal_error',
  'model_unavailable',
] as const;

export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/**
 * Codes raised by the client itself:
 * - `stream_interrupted`: the SSE stream closed without `generation_end` or `error`;
 * - `invalid_response`: the server answered something that is not the documented wire format;
 * - `timeout`: `waitForGeneration` ran out of time;
 * - `unknown_error`: the server sent an error code this client version does not know
 *   (the raw code is kept in `serverCode`).
 */
export type ClientErrorCode = 'stream_interrupted' | 'invalid_response' | 'timeout' | 'unknown_error';

export type LumengateErrorCode = ServerErrorCode | ClientErrorCode;

export interface ValidationIssue {
  path: string;
  message: string;
}

export interface RateLimitInfo {
  plan: string | null;
  limitHour: number | null;
  limitDay: number | null;
}

export interface LumengateErrorInit {
  status: number | null;
  code: LumengateErrorCode;
  message: string;
  details?: Record<string, unknown>;
  serverCode?: string | null;
  retryAfter?: number | null;
  rateLimit?: RateLimitInfo | null;
  cause?: unknown;
}

export class LumengateError extends Error {
  override readonly name: string = 'LumengateError';
  /** HTTP status of the response; 200 for an error inside a stream; null when no response came. */
  readonly status: number | null;
  readonly code: LumengateErrorCode;
  readonly details: Record<string, unknown>;
  /** The `error` string exactly as the server sent it (null for client-side errors). */
  readonly serverCode: string | null;
  /** Seconds to wait before retrying (429 only: body `retry_after`, else the `Retry-After` header). */
  readonly retryAfter: number | null;
  /** Plan limits reported with a 429. */
  readonly rateLimit: RateLimitInfo | null;

  constructor(init: LumengateErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.serverCode = init.serverCode ?? null;
    this.retryAfter = init.retryAfter ?? null;
    this.rateLimit = init.rateLimit ?? null;
  }

  /** Field-level problems of a 422 `validation_error` (`details.fields`). */
  get fields(): ValidationIssue[] {
    const fields = this.details['fields'];
    return Array.isArray(fields) ? (fields as ValidationIssue[]) : [];
  }

  /** The failed generation's id of a 500 `provider_error` (`details.generation_id`). */
  get generationId(): number | null {
    const id = this.details['generation_id'];
    return typeof id === 'number' ? id : null;
  }
}

/** An error that ended an SSE stream after it opened; carries what had arrived until then. */
export class LumengateStreamError extends LumengateError {
  override readonly name: string = 'LumengateStreamError';
  /** Id from `generation_start`, if it arrived. */
  readonly streamGenerationId: number | null;
  /** Concatenated `content_delta` text received before the failure. */
  readonly partialText: string;

  constructor(init: LumengateErrorInit & { generationId: number | null; partialText: string }) {
    super(init);
    this.streamGenerationId = init.generationId;
    this.partialText = init.partialText;
  }
}

export function toErrorCode(raw: unknown): LumengateErrorCode {
  return typeof raw === 'string' && (SERVER_ERROR_CODES as readonly string[]).includes(raw) ? (raw as ServerErrorCode) : 'unknown_error';
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
function parseRetryAfterHeader(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/** Builds the typed error for a non-2xx response; reads (consumes) the body. */
export async function errorFromResponse(response: Response): Promise<LumengateError> {
  const text = await response.text().catch(() => '');
  let body: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      body = parsed as Record<string, unknown>;
    }
  } catch {
    // not JSON: handled below
  }
  if (body === null || typeof body['error'] !== 'string') {
    return new LumengateError({
      status: response.status,
      code: 'invalid_response',
      message: `HTTP ${response.status} without an error body: ${text.slice(0, 200)}`,
    });
  }
  const serverCode = body['error'];
  const code = toErrorCode(serverCode);
  const details = body['details'];
  const isRateLimit = response.status === 429 || code === 'rate_limit_exceeded';
  return new LumengateError({
    status: response.status,
    code,
    serverCode,
    message: typeof body['message'] === 'string' ? body['message'] : serverCode,
    details: details !== null && typeof details === 'object' ? (details as Record<string, unknown>) : {},
    retryAfter: isRateLimit ? (numberOrNull(body['retry_after']) ?? parseRetryAfterHeader(response.headers.get('retry-after'))) : null,
    rateLimit: isRateLimit
      ? {
          plan: typeof body['plan'] === 'string' ? body['plan'] : null,
          limitHour: numberOrNull(body['limit_hour']),
          limitDay: numberOrNull(body['limit_day']),
        }
      : null,
  });
}
