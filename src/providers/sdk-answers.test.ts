// The bounds on the answers the AI SDK's providers read (sdk-answers.ts), on undici Responses whose
// bodies count what was pulled from them and whether they were cancelled.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Response } from 'undici';
import { MAX_EVENT_CHARS } from './body-limit.js';
import { boundedAnswer } from './sdk-answers.js';
import { ProviderError } from './spec.js';
import { ERROR_BODY_LIMIT } from './upstream-errors.js';

/** A response whose body is `chunks` (pulled one at a time), recording how many were pulled; `cancelled` resolves when it is cancelled. */
function answer(chunks: Array<string | Uint8Array>, status: number, contentType: string) {
  let onCancel!: () => void;
  const seen = { pulled: 0, cancelled: new Promise<void>((r) => (onCancel = r)) };
  const body = new ReadableStream<Uint8Array>({
    pull(ctl) {
      const next = chunks[seen.pulled++];
      if (next === undefined) return ctl.close();
      ctl.enqueue(typeof next === 'string' ? Buffer.from(next) : next);
    },
    cancel() {
      onCancel();
    },
  });
  return { res: new Response(body, { status, headers: { 'content-type': contentType } }), seen };
}

describe('the bounds on AI SDK answers', { timeout: 20_000 }, () => {
  it('a refusal body is cut after its first 64 KiB, the rest not read (cancelled); its status kept', async () => {
    const piece = 'x'.repeat(16 * 1024);
    const { res, seen } = answer(
      Array.from({ length: 640 }, () => piece),
      503,
      'text/html',
    );
    const bounded = boundedAnswer(res);
    assert.equal(bounded.status, 503);
    assert.equal(bounded.ok, false);
    const text = await bounded.text();
    assert.equal(text.length, ERROR_BODY_LIMIT);
    // The pipe cancels its source once the cut ends it (a test that waits here for ever fails on its timeout).
    await seen.cancelled;
    assert.ok(seen.pulled < 20, `${seen.pulled} of 640 pieces read`);
  });

  it('a small refusal body arrives whole', async () => {
    const json = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';
    const { res } = answer([json.slice(0, 10), json.slice(10)], 529, 'application/json');
    assert.deepEqual(await boundedAnswer(res).json(), JSON.parse(json));
  });

  it('an event stream fails at an event over the cap (an endless line), as a ProviderError that is not retried, the rest not read', async () => {
    const piece = 'x'.repeat(64 * 1024);
    const { res, seen } = answer(['event: message_start\ndata: {}\n\n', 'data: "', ...Array.from({ length: 64 }, () => piece)], 200, 'text/event-stream');
    const reader = boundedAnswer(res).body!.getReader();
    let bytes = 0;
    const failure = await (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return undefined;
          bytes += value.byteLength;
        }
      } catch (err) {
        return err;
      }
    })();
    assert.ok(failure instanceof ProviderError, String(failure));
    assert.match(failure.message, /event longer than 1048576/);
    assert.equal(failure.retryable, false);
    assert.ok(bytes <= MAX_EVENT_CHARS + 64, `${bytes} bytes passed`);
    await seen.cancelled;
    assert.ok(seen.pulled < 30, `${seen.pulled} pulled`);
  });

  it('an event stream of many events passes whole, whatever its line ends and however the reads split them', async () => {
    const event = (i: number, end: string) => `data: {"i":${i},"pad":"${'p'.repeat(900)}"}${end}${end}`;
    // 3 MiB in all, over the cap: LF, CRLF and CR events, each read cut at a different place.
    const text = Array.from({ length: 3300 }, (_, i) => event(i, ['\n', '\r\n', '\r'][i % 3]!)).join('');
    const chunks: string[] = [];
    for (let at = 0, n = 1; at < text.length; at += n, n = (n * 7) % 4093 || 1) chunks.push(text.slice(at, at + n));
    const { res } = answer(chunks, 200, 'text/event-stream; charset=utf-8');
    assert.equal(await boundedAnswer(res).text(), text);
  });

  it('any other answer fails past 16 MiB', async () => {
    const piece = new Uint8Array(1024 * 1024);
    const { res, seen } = answer(
      Array.from({ length: 40 }, () => piece),
      200,
      'application/json',
    );
    await assert.rejects(boundedAnswer(res).arrayBuffer(), (err: unknown) => err instanceof ProviderError && /over the gateway's limit of 16777216 bytes/.test(err.message));
    await seen.cancelled;
    assert.ok(seen.pulled < 25, `${seen.pulled} pulled`);
  });
});
