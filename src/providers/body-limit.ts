// Every answer body the gateway reads whole from a provider is bounded (docs/api.md, "Output size"):
// an upstream that misbehaves (or an output URL that points at a huge file) must not fill the
// server's memory or disk, which every account shares. An output file may have the operator's
// LUMENGATE_MAX_OUTPUT_BYTES; a JSON answer (a job's state, a transcript) a fixed MAX_JSON_BYTES,
// and an embeddings answer that plus a bound per vector asked for.
// Past the bound reading stops at once: a Content-Length above it is refused before a byte is read,
// and a body that grows past it is destroyed (undici then closes the connection) before the chunk
// that crossed it is kept. The error is not retryable: the same job would answer as much again.
import { DEFAULT_MAX_OUTPUT_BYTES } from '../config/env.js';
import { ProviderError, type MediaRequest } from './spec.js';

/**
 * The most bytes of a JSON answer: job states are a few KB; the largest legitimate ones are
 * transcripts with a timestamp per word, ~2 MB an hour of speech, and a 25 MiB input file (the
 * gateway's limit) holds a few hours at low bitrates. 16 MiB leaves room for those and no more.
 */
export const MAX_JSON_BYTES = 16 * 1024 * 1024;

/** Longest SSE event accepted from an upstream: a line that never ends must not grow memory without bound. */
export const MAX_EVENT_CHARS = 1024 * 1024;

/**
 * Where the last blank line of a read of an SSE stream (text or bytes) starts, or -1: any two line
 * ends in a row (LF, CRLF or a lone CR) contain "\n\n", "\n\r" or "\r\r". A read's event length is
 * what follows it (MAX_EVENT_CHARS); one split between two reads only counts from further back.
 */
export function lastBlankLine(read: string | Buffer): number {
  const n = read.length;
  // Upstreams write whole events, so a read nearly always ends on a blank line: no search then.
  const endsBlank = typeof read === 'string' ? read.endsWith('\n\n') : n >= 2 && read[n - 1] === 0x0a && read[n - 2] === 0x0a;
  return endsBlank ? n - 2 : Math.max(read.lastIndexOf('\n\n'), read.lastIndexOf('\n\r'), read.lastIndexOf('\r\r'));
}

/** How many bytes an answer may have, and the error for one that has more. */
export interface BodyLimit {
  readonly bytes: number;
  /** `size`: the answer's size where it is known (its Content-Length, a decoded file's length). */
  tooLarge(size?: number): ProviderError;
}

/** An answer that is only JSON. */
export const JSON_LIMIT: BodyLimit = jsonLimit(MAX_JSON_BYTES, 'a JSON answer');

/** A vector written out in full: 10,000 dimensions of up to 24 characters (`-1.2345678901234567e-05,`). */
const VECTOR_BYTES = 256 * 1024;

/** An embeddings answer (OpenAI's JSON, floats): a JSON answer's bound plus VECTOR_BYTES a vector asked for. */
export function embeddingsLimit(vectors: number): BodyLimit {
  return jsonLimit(Math.min(MAX_JSON_BYTES + vectors * VECTOR_BYTES, MAX_STRING_BYTES), `an answer of ${vectors} embedding${vectors === 1 ? '' : 's'}`);
}

function jsonLimit(bytes: number, what: string): BodyLimit {
  return limitOf(bytes, 'answer_too_large', 'answer', `for ${what}: not read`);
}

/** The limit and its error: "the provider's <subject> [is N bytes, ]over the gateway's limit of M bytes <tail>". */
function limitOf(bytes: number, code: string, subject: string, tail: string): BodyLimit {
  return {
    bytes,
    tooLarge: (size) =>
      new ProviderError(`the provider's ${subject} ${size !== undefined ? `is ${size} bytes, ` : 'is '}over the gateway's limit of ${bytes} bytes ${tail}`, { retryable: false, code }),
  };
}

/** An output file: the request's cap (the job runner sets LUMENGATE_MAX_OUTPUT_BYTES on every request). */
export function outputLimit(req: Pick<MediaRequest, 'maxOutputBytes'>): BodyLimit {
  return fileLimit(req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
}

export function fileLimit(bytes: number): BodyLimit {
  return limitOf(bytes, 'output_too_large', 'output file', 'per file (LUMENGATE_MAX_OUTPUT_BYTES): not stored');
}

/**
 * A JSON answer that carries the output file in base64 (OpenAI images, Imagen): the file's cap as
 * base64 plus a JSON answer's own, and the file's error. Never more than one string can hold (the
 * answer is parsed as one); the decoded file is held to the cap itself when it is stored.
 */
export function inlineOutputLimit(req: Pick<MediaRequest, 'maxOutputBytes'>): BodyLimit {
  const file = outputLimit(req);
  return { bytes: Math.min(MAX_JSON_BYTES + Math.ceil(file.bytes / 3) * 4, MAX_STRING_BYTES), tooLarge: () => file.tooLarge() };
}

/** The longest string V8 makes, ~512 MiB (buffer.constants.MAX_STRING_LENGTH on 64-bit Node 20 to 24). */
const MAX_STRING_BYTES = 536_870_888;

interface BoundedResponse {
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Uint8Array> & { destroy(): unknown };
}

/** Refuses an answer whose Content-Length is over the limit, closing it unread. */
export function refuseDeclared(res: BoundedResponse, limit: BodyLimit): void {
  const header = res.headers['content-length'];
  const declared = Number(Array.isArray(header) ? header[0] : header);
  if (header === undefined || !Number.isFinite(declared) || declared <= limit.bytes) return;
  res.body.destroy();
  throw limit.tooLarge(declared);
}

/** The answer's body whole, within the limit. */
export async function readBounded(res: BoundedResponse, limit: BodyLimit): Promise<Uint8Array> {
  refuseDeclared(res, limit);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of bounded(res.body, limit)) {
    chunks.push(chunk);
    total += chunk.byteLength;
  }
  // Its own memory (Buffer.concat may answer a slice of Node's shared pool).
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

/**
 * The chunks of a body, throwing before the one that would take it over the limit. Leaving the
 * loop ends the body's iterator, which destroys a Readable (undici's body) and so the connection.
 */
export async function* bounded(body: AsyncIterable<Uint8Array>, limit: BodyLimit): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > limit.bytes) throw limit.tooLarge();
    yield chunk;
  }
}
