// Error codes -> HTTP statuses, in one place. Everything below the HTTP layer throws GatewayError
// (src/core/errors.ts) with a code; the error handlers of each surface call statusOf().
import type { ErrorCode, GatewayError } from '../core/errors.js';

export const ERROR_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  not_authenticated: 401,
  insufficient_tokens: 402,
  insufficient_plan: 403,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  validation_error: 422,
  rate_limit_exceeded: 429,
  provider_error: 500,
  internal_error: 500,
  model_unavailable: 503,
  service_unavailable: 503,
  generation_pending: 504,
};

export const statusOf = (err: GatewayError): number => ERROR_STATUS[err.code];
