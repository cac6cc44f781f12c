// What every HTTP provider module does with a failed upstream call: a refused request becomes a
// ProviderError with the upstream's status, Retry-After and message (read from the error body
// shapes providers send); a network failure becomes a retryable ProviderError; an abort passes
// through unchanged, because the caller reads the cause from the signal.
import { StringDecoder } from 'node:string_decoder';
import type { Dispatcher } from 'undici';
import { ProviderError } from './spec.js';

/** A response that is not 2xx: undici's request() result, or upstream-call.ts's. */
export interface RefusedResponse {
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: AsyncIterable<unknown> & { destroy(): unknown };
}

/** Longest error body kept from a refused request (bodies are small JSON; a proxy's HTML page is not). */
export const ERROR_BODY_LIMIT = 64 * 1024;

/** A refused request: the status, Retry-After, and the upstream's message where its body has one. */
export async function httpError(res: RefusedResponse, signal: AbortSignal): Promise<unknown> {
  let text = '';
  try {
    text = await errorBodyText(res.body);
  } catch (err) {
    if (signal.aborted) return failure(err, signal);
  }
  let message = `HTTP ${res.statusCode}`;
  try {
    message = errorMessage(JSON.parse(text)) ?? message;
  } catch {
    if (text.trim()) message = `HTTP ${res.statusCode}: ${text.trim().slice(0, 200)}`;
  }
  const retryAfter = retryAfterSeconds(res.headers['retry-after']);
  return new ProviderError(message, { status: res.statusCode, ...(retryAfter !== undefined ? { retryAfter } : {}) });
}

/** The start of a refused request's body: past ERROR_BODY_LIMIT characters the rest is not read (the body is destroyed). */
export async function errorBodyText(body: RefusedResponse['body']): Promise<string> {
  let text = '';
  // One decoder for the whole body: a character split between two pieces is decoded whole.
  const utf8 = new StringDecoder('utf8');
  for await (const piece of body) {
    text += typeof piece === 'string' ? piece : utf8.write(piece as Buffer);
    if (text.length > ERROR_BODY_LIMIT) {
      body.destroy();
      return text;
    }
  }
  return text + utf8.end();
}

/** Retry-After in seconds (delta-seconds or an HTTP date), capped at an hour. */
export function retryAfterSeconds(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  const n = /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : (Date.parse(v) - Date.now()) / 1000;
  return Number.isFinite(n) ? Math.min(3600, Math.max(0, Math.ceil(n))) : undefined;
}

/**
 * The message of the error bodies these APIs send: OpenAI and Google `{error:{message}}`, Luma
 * `{detail:"…"}`, ElevenLabs `{detail:{status,message}}` or FastAPI's `{detail:[{msg}]}`.
 */
function errorMessage(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { error?: unknown; message?: unknown; detail?: unknown };
  if (typeof b.error === 'string') return b.error;
  if (b.error && typeof b.error === 'object' && typeof (b.error as { message?: unknown }).message === 'string') return (b.error as { message: string }).message;
  if (typeof b.detail === 'string') return b.detail;
  if (Array.isArray(b.detail))
    return (
      b.detail
        .map((d) => (d && typeof d === 'object' && typeof (d as { msg?: unknown }).msg === 'string' ? (d as { msg: string }).msg : ''))
        .filter(Boolean)
        .join('; ') || undefined
    );
  if (b.detail && typeof b.detail === 'object' && typeof (b.detail as { message?: unknown }).message === 'string') return (b.detail as { message: string }).message;
  if (typeof b.message === 'string') return b.message;
  return undefined;
}

/** Aborts pass through unchanged; network failures and resets mid-body (no HTTP status) are retryable. */
export function failure(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? err;
  if (err instanceof ProviderError) return err;
  const parts: string[] = [];
  let cur: unknown = err;
  while (cur instanceof Error && parts.length < 4) {
    parts.push(cur.message);
    cur = cur.cause;
  }
  return new ProviderError(`upstream connection failed: ${parts.join(': ') || String(err)}`, { cause: err, retryable: true });
}
