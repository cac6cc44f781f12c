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

export interface FieldProblem {
  path: string;
  message: string;
}

export const validationError = (fields: FieldProblem[]): GatewayError =>
  new GatewayError('validation_error', fields.map((f) => `${f.path}: ${f.message}`).join('; ') || 'invalid request', { fields });

export const badRequest = (message: string, details: Record<string, unknown> = {}): GatewayError => new GatewayError('bad_request', message, details);

/** A request field the gateway does not take (DECISIONS 25): 400 naming it. */
export const unsupportedField = (path: string, why: string): GatewayError =>
  new GatewayError('bad_request', `${path}: ${why}`, { fields: [{ path, message: why }] });
