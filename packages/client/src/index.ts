export { LumengateClient } from './client.js';
export type { LumengateClientOptions, RequestOptions, WaitOptions } from './client.js';
export { LumengateError, LumengateStreamError, SERVER_ERROR_CODES } from './errors.js';
export type { ClientErrorCode, LumengateErrorCode, RateLimitInfo, ServerErrorCode, ValidationIssue } from './errors.js';
export { parseGenerationStream } from './sse.js';
export type { ParseStreamOptions } from './sse.js';
export type * from './types.js';
