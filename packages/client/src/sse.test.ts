// The parser entry point fed with the recorded body cut at every byte offset (UTF-8 characters
// included), at pairs of nearby offsets (a 4-byte emoji cut in three) and one byte per chunk.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LumengateStreamError } from './errors.js';
import { parseGenerationStream } from './sse.js';
import { RECORDED_BYTES, RECORDED_EVENTS, cut, streamOf } from './test-support/recorded-stream.js';
import type { StreamEvent } from './types.js';

async function collect(body: ReadableStream<Uint8Array>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of parseGenerationStream(body)) events.push(event);
  return events;
}

const encode = (text: string) => new TextEncoder().encode(text);

describe('parseGenerationStream on a recorded body', () => {
  it('the recorded body really contains multi-byte characters to cut', () => {
    assert.ok(RECORDED_BYTES.length > new TextDecoder().decode(RECORDED_BYTES).length);
  });

  it('gives the same events for every single split position', async () => {
    for (let offset = 0; offset <= RECORDED_BYTES.length; offset++) {
      const events = await collect(streamOf(cut(RECORDED_BYTES, [offset])));
      assert.deepEqual(events, RECORDED_EVENTS, `split at byte ${offset}`);
    }
  });

  it('gives the same events for every pair of split positions up to 4 bytes apart', async () => {
    for (let first = 0; first < RECORDED_BYTES.length; first++) {
      for (let gap = 1; gap <= 4 && first + gap <= RECORDED_BYTES.length; gap++) {
        const events = await collect(streamOf(cut(RECORDED_BYTES, [first, first + gap])));
        assert.deepEqual(events, RECORDED_EVENTS, `split at bytes ${first} and ${first + gap}`);
      }
    }
  });

  it('gives the same events with one byte per chunk', async () => {
    const offsets = Array.from({ length: RECORDED_BYTES.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(await collect(streamOf(cut(RECORDED_BYTES, offsets))), RECORDED_EVENTS);
  });
});

describe('parseGenerationStream protocol rules', () => {
  it('throws the error event as a typed error carrying what arrived before it', async () => {
    const body =
      'data: {"type":"generation_start","id":7,"model":"gpt-5"}\n\n' +
      'data: {"type":"content_delta","delta":"Нача"}\n\n' +
      'data: {"type":"error","message":"Upstream timed out","code":"provider_error"}\n\n' +
      'data: [DONE]\n\n';
    const seen: StreamEvent[] = [];
    await assert.rejects(
      async () => {
        for await (const event of parseGenerationStream(streamOf([encode(body)]))) seen.push(event);
      },
      (error: unknown) => {
        assert.ok(error instanceof LumengateStreamError);
        assert.equal(error.code, 'provider_error');
        assert.equal(error.message, 'Upstream timed out');
        assert.equal(error.streamGenerationId, 7);
        assert.equal(error.partialText, 'Нача');
        return true;
      },
    );
    assert.equal(seen.length, 2);
  });

  it('treats [DONE] without a terminal event as an interruption', async () => {
    const body = 'data: {"type":"generation_start","id":7,"model":"gpt-5"}\n\ndata: [DONE]\n\n';
    await assert.rejects(collect(streamOf([encode(body)])), { code: 'stream_interrupted' });
  });

  it('treats an event cut off by the end of the body as an interruption, not as data', async () => {
    const body =
      'data: {"type":"generation_start","id":7,"model":"gpt-5"}\n\n' +
      'data: {"type":"generation_end","id":7,"tokens_spent":1,"tokens_used":1,"balance_remaining":9}';
    await assert.rejects(collect(streamOf([encode(body)])), { code: 'stream_interrupted' });
  });

  it('rejects a data line that is not JSON as invalid_response', async () => {
    await assert.rejects(collect(streamOf([encode('data: {oops\n\n')])), { code: 'invalid_response' });
  });

  it('skips event types it does not know', async () => {
    const body =
      'data: {"type":"usage_report","tokens":5}\n\n' +
      'data: {"type":"generation_end","id":7,"tokens_spent":1,"tokens_used":1,"balance_remaining":9}\n\n' +
      'data: [DONE]\n\n';
    assert.deepEqual(await collect(streamOf([encode(body)])), [
      { type: 'generation_end', id: 7, tokens_spent: 1, tokens_used: 1, balance_remaining: 9 },
    ]);
  });
});
