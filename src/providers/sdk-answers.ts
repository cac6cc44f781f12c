// The answers the AI SDK's providers (Anthropic, Gemini) read, bounded as the gateway's own readers
// bound theirs (upstream-errors.ts, openai-compatible.ts, body-limit.ts). Left to themselves the
// SDKs read an error body whole (up to 2 GiB) and keep an SSE event until its blank line however
// long it grows, so an upstream that misbehaves could fill the memory every account shares:
// - a refusal's body is cut after ERROR_BODY_LIMIT bytes (its start is the message; the SDK then
//   reports the status as usual) and the rest is not read;
// - an event stream fails at an event longer than MAX_EVENT_CHARS (not retried: the same request
//   would be answered the same way), as openai-compatible.ts fails it;
// - any other answer fails past MAX_JSON_BYTES.
// Past a bound the upstream body is cancelled, so undici closes the connection.
import { Response } from 'undici';
import { lastBlankLine, MAX_EVENT_CHARS, MAX_JSON_BYTES } from './body-limit.js';
import { ProviderError } from './spec.js';
import { ERROR_BODY_LIMIT } from './upstream-errors.js';

/** `res` with its body bounded as above (the same status and headers). */
export function boundedAnswer(res: Response): Response {
  if (!res.body) return res;
  const guard = !res.ok ? cutAfter(ERROR_BODY_LIMIT) : /^text\/event-stream\b/i.test(res.headers.get('content-type') ?? '') ? eventsWithin(MAX_EVENT_CHARS) : failPast(MAX_JSON_BYTES);
  // undici's own ReadableStream type admits `undefined` chunks, which its bodies never carry.
  const body = res.body as unknown as ReadableStream<Uint8Array>;
  return new Response(body.pipeThrough(guard), { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** The first `limit` bytes, then the end (and the rest cancelled). */
function cutAfter(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let left = limit;
  return new TransformStream({
    transform(chunk, ctl) {
      if (chunk.byteLength < left) {
        left -= chunk.byteLength;
        return ctl.enqueue(chunk);
      }
      ctl.enqueue(chunk.subarray(0, left));
      ctl.terminate();
    },
  });
}

/** Every byte, failing once more than `limit` have come. */
function failPast(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      seen += chunk.byteLength;
      if (seen > limit) return ctl.error(new ProviderError(`the provider's answer is over the gateway's limit of ${limit} bytes`, { retryable: false, code: 'answer_too_large' }));
      ctl.enqueue(chunk);
    },
  });
}

/** Every byte, failing once one event (the bytes since the last blank line) is over `limit`. */
function eventsWithin(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let event = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      const boundary = lastBlankLine(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      event = boundary >= 0 ? chunk.byteLength - boundary : event + chunk.byteLength;
      if (event > limit) return ctl.error(new ProviderError(`upstream sent an event longer than ${limit} characters`, { retryable: false }));
      ctl.enqueue(chunk);
    },
  });
}
