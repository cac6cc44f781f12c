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
    return keepPaths(this, new GatewayError(this.code, this.message, { ...this.details, ...details }, this.extra, { ...this.headers, ...headers }));
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

const fieldsMessage = (fields: FieldProblem[]) => fields.map((f) => `${clip(f.path)}: ${f.message}`).join('; ') || 'invalid request';

export const validationError = (fields: FieldProblem[]): GatewayError =>
  withPaths(new GatewayError('validation_error', fieldsMessage(fields), { fields: fields.map((f) => ({ ...f, path: clip(f.path) })) }), fields);

export const badRequest = (message: string, details: Record<string, unknown> = {}): GatewayError => new GatewayError('bad_request', message, details);

/** A request field the gateway does not take (docs/api.md): 400 naming it. */
export const unsupportedField = (path: string, why: string): GatewayError =>
  withPaths(new GatewayError('bad_request', `${clip(path)}: ${why}`, { fields: [{ path: clip(path), message: why }] }), [{ path, message: why }]);

/** The paths of an error's details.fields before clip, so that relocated maps whole paths. */
const fullPaths = new WeakMap<GatewayError, string[]>();
const withPaths = (err: GatewayError, fields: FieldProblem[]): GatewayError => {
  const paths = fields.map((f) => f.path);
  fullPaths.set(err, paths);
  return err;
};
const keepPaths = (from: GatewayError, to: GatewayError): GatewayError => {
  const paths = fullPaths.get(from);
  if (paths) fullPaths.set(to, paths);
  return to;
};

/**
 * The same error with each of its field paths mapped by `where`, and its message naming the new
 * paths: for a surface whose body holds a field elsewhere than the shared check that refused it
 * names it (/v1/responses, src/openai/responses-paths.ts). Paths are mapped whole, then clipped.
 */
export function relocated(err: GatewayError, where: (path: string) => string): GatewayError {
  const fields = err.details.fields as FieldProblem[] | undefined;
  if (!Array.isArray(fields) || fields.length === 0) return err;
  const before = fullPaths.get(err) ?? fields.map((f) => f.path);
  const after = before.map(where);
  if (after.every((p, i) => p === before[i])) return err;
  const moved = fields.map((f, i) => ({ ...f, path: after[i] ?? f.path }));
  // validationError's message lists its fields; unsupportedField's and the others' start with the first one.
  const first = clip(before[0]!);
  const message = err.message === fieldsMessage(fields) ? fieldsMessage(moved) : err.message.startsWith(first) ? `${clip(after[0]!)}${err.message.slice(first.length)}` : err.message;
  const details = { ...err.details, fields: moved.map((f) => ({ ...f, path: clip(f.path) })) };
  return withPaths(new GatewayError(err.code, message, details, err.extra, err.headers), moved);
}

/** 404 for a model name the catalog does not have (every surface says it the same way). */
export const modelNotFound = (slug: string): GatewayError => new GatewayError('not_found', `model "${clip(slug)}" not found`, { model: clip(slug) });
