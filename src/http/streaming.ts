// The one streaming skeleton every surface shares: client-disconnect wiring, opening the SSE
// response when the upstream accepts, failures before that as a plain JSON error (docs/api.md),
// failures after it in-band, and a bug after open still never a silent close. A surface supplies
// only an encoder from typed parts to its wire events (v2 SSE, chat.completion.chunk, Responses).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ContentStreamPart } from '../providers/spec.js';
import type { GenerationFailure, GenerationOutcome, GenerationSink } from '../generation/lifecycle.js';
import type { GenerationObject } from '../generation/object.js';
import { isDatabaseUnavailable, unavailableMessage } from '../db/unavailable.js';
import { StreamRecorder, type EventLog } from '../generation/event-log.js';
import { GatewayError } from '../core/errors.js';
import { Cancellation } from '../core/cancel.js';
import { GenerationAbort } from '../generation/routing.js';
import { SseWriter, sseFrame } from './sse.js';

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
  /** Whether a kind of part gives events of its own (`part` answers none for the others); all when absent. */
  sends?(p: ContentStreamPart): boolean;
  /** False for surfaces whose stream ends without `data: [DONE]`. Default true. */
  doneSentinel?: boolean;
}

export type Run = (sink: GenerationSink, cancel: Cancellation) => Promise<GenerationOutcome>;

/** The request's cancellation, cancelled when the client closes the connection before the answer was sent. */
export function clientGone(reply: FastifyReply): Cancellation {
  const gone = new Cancellation();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) gone.abort(new GenerationAbort('client_disconnected', 'client disconnected'));
  });
  return gone;
}

/** A non-streaming answer: the completed generation, or the failure thrown as an error answer. */
export async function runToCompletion(reply: FastifyReply, run: Run): Promise<GenerationObject> {
  const outcome = await run({ streaming: false, opened() {}, part() {} }, clientGone(reply));
  if (outcome.failure) throw outcome.failure.error;
  return outcome.generation;
}

export async function runStreaming(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: {
    heartbeatMs: number;
    headers?: (id: number) => Record<string, string | number>;
    encoder: StreamEncoder;
    run: Run;
    /** Where the frames are kept for re-attaching (docs/api.md); each frame then carries an `id:` line. */
    resumable?: EventLog;
    /** A background generation: the client leaving does not abort it. */
    detached?: boolean;
  },
): Promise<FastifyReply> {
  const { encoder } = opts;
  const sse = new SseWriter(reply.raw, opts.heartbeatMs);
  let recorder: StreamRecorder | undefined;
  const sendAll = (events: SseEvent[]): void | Promise<void> => {
    let last: void | Promise<void> = undefined;
    for (const e of events) {
      const frame = sseFrame(e.data, e.event, recorder?.nextId());
      recorder?.record(frame);
      last = sse.write(frame);
    }
    return last;
  };
  const finish = () => {
    recorder?.end();
    sse.end(encoder.doneSentinel !== false);
  };
  let opened = false;
  /** Whether a part gave the client an event (the encoder sends some kinds of part as nothing). */
  let sentPart = false;
  try {
    const outcome = await opts.run(
      {
        streaming: true,
        sentPart: () => sentPart,
        ...(encoder.sends ? { sends: encoder.sends } : {}),
        opened(info) {
          opened = true;
          if (opts.resumable) recorder = new StreamRecorder(opts.resumable, info.id);
          reply.hijack();
          sse.open({ 'x-generation-id': info.id, ...opts.headers?.(info.id) });
          void sendAll(encoder.start(info));
        },
        part: (p: ContentStreamPart) => {
          const events = encoder.part(p);
          if (events.length > 0) sentPart = true;
          return sendAll(events);
        },
      },
      opts.detached ? new Cancellation() : clientGone(reply),
    );
    // Failed before the upstream ever accepted: a plain JSON error (docs/api.md).
    if (!opened) throw outcome.failure?.error ?? new Error('generation ended without opening');
    void sendAll(outcome.failure ? encoder.failure(outcome.failure, outcome.generation) : encoder.end(outcome.generation));
    finish();
  } catch (err) {
    sse.stop();
    if (!opened) throw err;
    // A bug after the stream opened: still never a silent close.
    req.log.error({ err }, 'stream failed after open');
    void sendAll(isDatabaseUnavailable(err) ? encoder.internal('service_unavailable', unavailableMessage(err)) : encoder.internal('internal_error', 'internal server error'));
    finish();
  }
  return reply;
}

/**
 * Re-attaches a client to a recorded stream (docs/api.md): the frames after sequence `after`,
 * then the live ones as they are recorded, until the end. Without a log for the generation (expired,
 * dropped, or never recorded here) `ended` answers from the database: the end events of a
 * generation that is over, or undefined (404) for one still running.
 */
export async function followStream(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: { log: EventLog; id: number; after: number; heartbeatMs: number; headers: Record<string, string | number>; encoder: StreamEncoder; ended: () => Promise<SseEvent[] | undefined> },
): Promise<FastifyReply> {
  const { log, id, encoder } = opts;
  const sentinel = encoder.doneSentinel !== false;
  let dirty = false;
  let wake: (() => void) | undefined;
  // Watch before the first read: nothing recorded between the two is missed.
  const unwatch = await log.watch(id, () => {
    dirty = true;
    wake?.();
  });
  const sse = new SseWriter(reply.raw, opts.heartbeatMs);
  const gone = clientGone(reply);
  gone.onAbort(() => wake?.());
  let opened = false;
  try {
    let after = opts.after;
    let snap = await log.read(id, after);
    if (!snap) {
      const events = await opts.ended();
      if (!events) throw new GatewayError('not_found', `the stream of generation ${id} is not kept; poll GET /api/v2/generate/${id}`, { generation_id: id });
      reply.hijack();
      sse.open({ 'x-generation-id': id, ...opts.headers });
      for (const e of events) void sse.write(sseFrame(e.data, e.event));
      sse.end(sentinel);
      return reply;
    }
    reply.hijack();
    opened = true;
    // The head leaves now even with no frame to follow it: a client that has already seen every event
    // of a generation still running gets its 200 at once, not with the next event or ping.
    sse.open({ 'x-generation-id': id, ...opts.headers });
    for (;;) {
      let pending: void | Promise<void> = undefined;
      for (const f of snap.frames) pending = sse.write(f);
      after += snap.frames.length;
      if (snap.ended) break;
      await pending;
      if (!dirty && !gone.aborted) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      if (gone.aborted) return reply;
      dirty = false;
      const next = await log.read(id, after);
      if (!next) {
        for (const e of encoder.internal('service_unavailable', `the stream of generation ${id} is no longer kept; poll GET /api/v2/generate/${id}`)) void sse.write(sseFrame(e.data, e.event));
        break;
      }
      snap = next;
    }
    sse.end(sentinel);
  } catch (err) {
    sse.stop();
    if (!opened) throw err;
    req.log.error({ err }, 're-attached stream failed');
    for (const e of encoder.internal('service_unavailable', 'stream unavailable, retry shortly')) void sse.write(sseFrame(e.data, e.event));
    sse.end(sentinel);
  } finally {
    unwatch();
  }
  return reply;
}

/** `Last-Event-ID: <generation id>:<sequence>` (docs/api.md), or undefined when absent or not ours. */
export function parseLastEventId(header: unknown): { id: number; seq: number } | undefined {
  const m = typeof header === 'string' ? /^(\d{1,15}):(\d{1,9})$/.exec(header.trim()) : null;
  return m ? { id: Number(m[1]), seq: Number(m[2]) } : undefined;
}
