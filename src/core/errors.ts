// The one error type of the domain: a code from a closed list, a message for the client, and
// details. It knows nothing of HTTP: src/http/errors.ts maps each code to a status in one place,
// and each API surface encodes the same error in its own shape (envelope, OpenAI error, SSE event).

export const ERROR_CODES = [
  'bad_request',
  'not_authenticated',
  'insufficient_tokens',
  'insufficient_plan',
  'forbidden',
  'not_found',
  'payload_too_large',
  'validation_error',
  'rate_limit_exceeded',
  'provider_error',
  'internal_error',
  'model_unavailable',
  'service_unavailable',
  /** A media job still running when a synchronous surface stopped waiting (/v1 media, docs/api.md). */
  'generation_pending',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** Extra top-level fields of the error body (the 429 body carries retry_after, plan, limits). */
    readonly extra: Record<string, unknown> = {},
    /** Response metadata a surface sends along (Retry-After, X-Generation-Id). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The JSON error envelope of /api/v2: { error, message, details, …extra }. */
  body(): Record<string, unknown> {
    return { error: this.code, message: this.message, details: this.details, ...this.extra };
  }

  /** The same error with more details and headers (e.g. the generation id once it exists). */
  with(details: Record<string, unknown>, headers: Record<string, string> = {}): GatewayError {
    return new GatewayError(this.code, this.message, { ...this.details, ...details }, this.extra, { ...this.headers, ...headers });
  }
}

/**
 * A client-supplied identifier (model name, id, field name, path) as echoed in an error: at most a
 * short prefix, so an oversized value never makes the error body (and the logs) grow with it.
 */
export const clip = (s: string, max = 64): string => (s.length > max ? `${s.slice(0, max)}…` : s);

export interface FieldProblem {
  path: string;
  message: string;
}

export const validationError = (fields: FieldProblem[]): GatewayError =>
  new GatewayError('validation_error', fields.map((f) => `${clip(f.path)}: ${f.message}`).join('; ') || 'invalid request', {
    fields: fields.map((f) => ({ ...f, path: clip(f.path) })),
  });

export const badRequest = (message: string, details: Record<string, unknown> = {}): GatewayError => new GatewayError('bad_request', message, details);

/** A request field the gateway does not take (docs/api.md): 400 naming it. */
export const unsupportedField = (path: string, why: string): GatewayError => new GatewayError('bad_request', `${clip(path)}: ${why}`, { fields: [{ path: clip(path), message: why }] });

/** 404 for a model name the catalog does not have (every surface says it the same way). */
export const modelNotFound = (slug: string): GatewayError => new GatewayError('not_found', `model "${clip(slug)}" not found`, { model: clip(slug) });
