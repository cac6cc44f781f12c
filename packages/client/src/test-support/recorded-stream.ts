// One SSE body in lumengate's wire format (docs/api.md): Cyrillic and emoji deltas
// (2-, 3- and 4-byte UTF-8, a ZWJ sequence), `: ping` heartbeats before and between events,
// an escaped newline inside a delta, and the closing `[DONE]`. Kept byte for byte as a literal.
import type { StreamEvent } from '../types.js';

export const RECORDED_SSE =
  ': ping\n\n' +
  'data: {"type":"generation_start","id":18473,"model":"gpt-5"}\n\n' +
  ': ping\n\n' +
  'data: {"type":"content_delta","delta":"Привет"}\n\n' +
  'data: {"type":"content_delta","delta":", мир! 👋"}\n\n' +
  ': ping\n\n' +
  'data: {"type":"content_delta","delta":"🧑‍💻 Ёжик €\\n"}\n\n' +
  'data: {"type":"content_delta","delta":"data: [DONE] ✓"}\n\n' +
  'data: {"type":"generation_end","id":18473,"tokens_spent":3,"tokens_used":3,"balance_remaining":297}\n\n' +
  'data: [DONE]\n\n';

export const RECORDED_BYTES: Uint8Array = new TextEncoder().encode(RECORDED_SSE);

/** What a client must see from RECORDED_SSE, however the bytes are cut. */
export const RECORDED_EVENTS: StreamEvent[] = [
  { type: 'generation_start', id: 18473, model: 'gpt-5' },
  { type: 'content_delta', delta: 'Привет' },
  { type: 'content_delta', delta: ', мир! 👋' },
  { type: 'content_delta', delta: '🧑‍💻 Ёжик €\n' },
  { type: 'content_delta', delta: 'data: [DONE] ✓' },
  { type: 'generation_end', id: 18473, tokens_spent: 3, tokens_used: 3, balance_remaining: 297 },
];

/** Cuts `bytes` at the given offsets (sorted, within 0..length). */
export function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const offset of offsets) {
    pieces.push(bytes.subarray(start, offset));
    start = offset;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

export function streamOf(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const piece = pieces[index++];
      if (piece === undefined) controller.close();
      else controller.enqueue(piece.slice()); // a fresh buffer, as a socket read would give
    },
  });
}
