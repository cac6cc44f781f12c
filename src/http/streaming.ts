// The one streaming skeleton every surface shares: client-disconnect wiring, opening the SSE
// response when the upstream accepts, failures before that as a plain JSON error (DECISIONS 11),
// failures after it in-band, and a bug after open still never a silent close. A surface supplies
// only an encoder from typed parts to its wire events (v2 SSE, chat.completion.chunk, Responses).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ContentStreamPart } from '../providers/spec.js';
import type { GenerationFailure, GenerationOutcome, GenerationSink } from '../generation/lifecycle.js';
import type { GenerationObject } from '../generation/object.js';
import { isDatabaseUnavailable, unavailableMessage } from '../db/unavailable.js';
import { SseWriter } from './sse.js';

/** One SSE event: `data` is JSON-encoded; `event` names it (Responses API events are named). */
export interface SseEvent {
  event?: string;
  data: unknown;
}

export interface StreamEncoder {
  /** The upstream accepted: the first events (generation_start, the role chunk, response.created). */
  start(info: { id: number; model: string }): SseEvent[];
  part(p: ContentStreamPart): SseEvent[];
  /** The generation completed and was settled. */
  end(g: GenerationObject): SseEvent[];
  /** The generation failed after the stream opened. */
  failure(f: GenerationFailure, g: GenerationObject): SseEvent[];
  /** A bug or an outage after open: code is internal_error or service_unavailable. */
  internal(code: 'internal_error' | 'service_unavailable', message: string): SseEvent[];
  /** False for surfaces whose stream ends without `data: [DONE]`. Default true. */
  doneSentinel?: boolean;
}

export type Run = (sink: GenerationSink, clientSignal: AbortSignal) => Promise<GenerationOutcome>;

/** An AbortSignal that fires when the client closes the connection before the answer was sent. */
export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  return gone.signal;
}

/** A non-streaming answer: the completed generation, or the failure thrown as an error answer. */
export async function runToCompletion(reply: FastifyReply, run: Run): Promise<GenerationObject> {
  const outcome = await run({ streaming: false, opened() {}, part() {} }, clientGoneSignal(reply));
  if (outcome.failure) throw outcome.failure.error;
  return outcome.generation;
}

export async function runStreaming(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: { heartbeatMs: number; headers?: (id: number) => Record<string, string | number>; encoder: StreamEncoder; run: Run },
): Promise<FastifyReply> {
  const { encoder } = opts;
  const sse = new SseWriter(reply.raw, opts.heartbeatMs);
  const sendAll = (events: SseEvent[]): void | Promise<void> => {
    let last: void | Promise<void> = undefined;
    for (const e of events) last = sse.send(e.data, e.event);
    return last;
  };
  let opened = false;
  try {
    const outcome = await opts.run({
      streaming: true,
      opened(info) {
        opened = true;
        reply.hijack();
        sse.open({ 'x-generation-id': info.id, ...opts.headers?.(info.id) });
        void sendAll(encoder.start(info));
      },
      part: (p: ContentStreamPart) => sendAll(encoder.part(p)),
    }, clientGoneSignal(reply));
    // Failed before the upstream ever accepted: a plain JSON error (DECISIONS 11).
    if (!opened) throw outcome.failure?.error ?? new Error('generation ended without opening');
    void sendAll(outcome.failure ? encoder.failure(outcome.failure, outcome.generation) : encoder.end(outcome.generation));
    sse.end(encoder.doneSentinel !== false);
  } catch (err) {
    sse.stop();
    if (!opened) throw err;
    // A bug after the stream opened: still never a silent close.
    req.log.error({ err }, 'stream failed after open');
    void sendAll(isDatabaseUnavailable(err)
      ? encoder.internal('service_unavailable', unavailableMessage(err))
      : encoder.internal('internal_error', 'internal server error'));
    sse.end(encoder.doneSentinel !== false);
  }
  return reply;
}
