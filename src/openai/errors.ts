// Errors on the /v1 surface in OpenAI's shape, so the openai SDK raises its typed errors
// (BadRequestError, AuthenticationError, RateLimitError, …). The HTTP status is the one of our
// envelope; `code` is our envelope code; `details` is kept as an extension.
import type { GatewayError, ErrorCode } from '../core/errors.js';

const OPENAI_TYPE: Record<ErrorCode, string> = {
  bad_request: 'invalid_request_error',
  not_authenticated: 'authentication_error',
  insufficient_tokens: 'insufficient_quota',
  insufficient_plan: 'permission_error',
  forbidden: 'permission_error',
  not_found: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  validation_error: 'invalid_request_error',
  rate_limit_exceeded: 'rate_limit_error',
  provider_error: 'api_error',
  internal_error: 'api_error',
  model_unavailable: 'service_unavailable',
  service_unavailable: 'service_unavailable',
  generation_pending: 'timeout_error',
};

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null; details: Record<string, unknown> };
}

export function openAIErrorType(code: ErrorCode): string {
  return OPENAI_TYPE[code] ?? 'api_error';
}

export function openAIError(err: GatewayError): OpenAIErrorBody {
  const fields = err.details.fields;
  const firstField = Array.isArray(fields) ? (fields[0] as { path?: unknown } | undefined)?.path : undefined;
  const param = typeof firstField === 'string' ? firstField : err.code === 'not_found' && typeof err.details.model === 'string' ? 'model' : null;
  return { error: { message: err.message, type: openAIErrorType(err.code), code: err.code, param, details: { ...err.details, ...err.extra } } };
}
