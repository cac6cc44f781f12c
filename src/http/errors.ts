// The one error envelope: { error: code, message, details }, with the status each code implies.

export const ERROR_STATUS = {
  bad_request: 400,
  not_authenticated: 401,
  insufficient_tokens: 402,
  insufficient_plan: 403,
  not_found: 404,
  payload_too_large: 413,
  validation_error: 422,
  rate_limit_exceeded: 429,
  provider_error: 500,
  internal_error: 500,
  model_unavailable: 503,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** Extra top-level fields (the 429 body carries retry_after, plan, limits). */
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
  }

  body(): Record<string, unknown> {
    return { error: this.code, message: this.message, details: this.details, ...this.extra };
  }
}

export interface FieldProblem {
  path: string;
  message: string;
}

export const validationError = (fields: FieldProblem[]): ApiError =>
  new ApiError('validation_error', fields.map((f) => `${f.path}: ${f.message}`).join('; ') || 'invalid request', { fields });

export const badRequest = (message: string, details: Record<string, unknown> = {}): ApiError => new ApiError('bad_request', message, details);
