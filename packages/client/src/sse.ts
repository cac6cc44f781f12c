// SSE body -> typed generation events (docs/api.md).
// Byte framing, UTF-8 decoding across chunk cuts and `: ping` comments are handled by
// TextDecoderStream + the maintained eventsource-parser; this file only adds the protocol rules.
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { LumengateError, LumengateStreamError, toErrorCode } from './errors.js';
import type { StreamEvent, WireStreamEvent } from './types.js';

const DONE = '[DONE]';

function invalid(message: string, status: number): LumengateError {
  return new LumengateError({ status, code: 'invalid_response', message });
}

function parseEventData(data: string, status: number): WireStreamEvent {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (cause) {
    throw new LumengateError({
      status,
      code: 'invalid_response',
      message: `SSE event is not JSON: ${data.slice(0, 200)}`,
      cause,
    });
  }
  if (value === null || typeof value !== 'object' || typeof (value as { type?: unknown }).type !== 'string') {
    throw invalid(`SSE event without a "type": ${data.slice(0, 200)}`, status);
  }
  return value as WireStreamEvent;
}

/**
 * Reads an Elumenta SSE body and yields `generation_start`, `content_delta`… and finally
 * `generation_end`, after which iteration ends. An `error` event throws a `LumengateStreamError`
 * with the server's code; a body that ends (or sends `[DONE]`) without `generation_end` or `error`
 * throws code `stream_interrupted`. Leaving the loop early cancels the body, closing the connection.
 *
 * A connection reset mid-body is also `stream_interrupted` (with the transport error as `cause`);
 * an abort through `signal` rethrows the abort reason.
 */
export interface ParseStreamOptions {
  /** HTTP status of the response carrying the stream, recorded on errors. Default 200. */
  status?: number;
  /** The request's signal: a read failure after it aborted is rethrown as is, not as an interruption. */
  signal?: AbortSignal;
}

export async function* parseGenerationStream(
  body: ReadableStream<Uint8Array>,
  options: ParseStreamOptions = {},
): AsyncGenerator<StreamEvent, void, undefined> {
  const { status = 200, signal } = options;
  const reader = body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  let generationId: number | null = null;
  let partialText = '';
  const interrupted = (why: string, cause?: unknown) =>
    new LumengateStreamError({
      status,
      code: 'stream_interrupted',
      message: `Stream ended ${why} without generation_end or error`,
      generationId,
      partialText,
      cause,
    });
  const read = async () => {
    try {
      return await reader.read();
    } catch (error) {
      if (signal?.aborted || (error instanceof Error && error.name === 'AbortError')) throw error;
      throw interrupted('(connection failed)', error);
    }
  };
  try {
    for (;;) {
      const { done, value: message } = await read();
      if (done) throw interrupted('(connection closed)');
      if (message.data === DONE) throw interrupted('with [DONE]');
      const event = parseEventData(message.data, status);
      switch (event.type) {
        case 'generation_start':
          generationId = event.id;
          yield event;
          break;
        case 'content_delta':
          partialText += event.delta;
          yield event;
          break;
        case 'generation_end':
          yield event;
          return;
        case 'error':
          throw new LumengateStreamError({
            status,
            code: toErrorCode(event.code),
            serverCode: typeof event.code === 'string' ? event.code : null,
            message: typeof event.message === 'string' ? event.message : 'Generation failed',
            generationId,
            partialText,
          });
        default:
          // An event type added by a newer server: skip it rather than break old clients.
          break;
      }
    }
  } finally {
    // Releases the connection when the consumer stops early or after a terminal event;
    // a no-op once the body has ended.
    await reader.cancel().catch(() => {});
  }
}
