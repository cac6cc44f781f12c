// One streamed upstream HTTP call on undici's dispatch() with a handler of our own: the status and
// headers, then the body as an async iterable of Buffers, or handed chunk by chunk to a sink as
// undici delivers it (pipe(): a parser that keeps its own queue, openai-compatible.ts). undici's
// request() wraps the same call in an AsyncResource and a Readable stream read through its async
// iterator; measured on this VM that costs ~25 µs more CPU per call (bench/NOTES.md, tenth
// session), on every generation. What the
// Readable gave is here: backpressure (pause past HIGH_WATER bytes), abort by a signal, errors
// in the middle of the body, and a background drain after the caller has read what it needs, so the
// keep-alive socket is reused.
import type { Dispatcher } from 'undici';

/** Response headers as undici gives them (lower-case names). */
type Headers = Dispatcher.ResponseData['headers'];

/** Queued body bytes past which the upstream is paused (TCP pushes back) until the caller reads. */
const HIGH_WATER = 64 * 1024;

export interface UpstreamResponse {
  statusCode: number;
  headers: Headers;
  body: UpstreamBody;
}

/**
 * Sends the request and resolves with the response's head; rejects with undici's error (or the
 * signal's reason) when no head arrives.
 */
export function callUpstream(dispatcher: Dispatcher, url: URL, opts: { method: 'POST' | 'GET'; headers: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<UpstreamResponse> {
  if (opts.signal?.aborted) return Promise.reject(opts.signal.reason as Error);
  return new Promise((resolve, reject) => {
    const body = new UpstreamBody(opts.signal, resolve, reject);
    dispatcher.dispatch({ origin: url.origin, path: url.pathname + url.search, method: opts.method, headers: opts.headers, body: opts.body ?? null }, new CallHandler(body));
  });
}

/**
 * What undici holds for the call: it passes each event to the body and lets go of the body when the
 * call ends. undici's own request objects may stay reachable a while longer, and whatever they
 * reach then survives young-generation collections (bench/NOTES.md, tenth session).
 */
class CallHandler implements Dispatcher.DispatchHandler {
  #body: UpstreamBody | undefined;

  constructor(body: UpstreamBody) {
    this.#body = body;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#body?.started(controller);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Headers): void {
    // undici's controller keeps the raw header Buffers (slices of the socket's read) for the whole
    // body, and the body keeps the controller: ~2 KB per open stream (bench/NOTES.md, twenty-first
    // session). `headers` holds what we use.
    controller.rawHeaders = null;
    this.#body?.head(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#body?.data(chunk);
  }

  onResponseEnd(): void {
    this.#body?.end();
    this.#body = undefined;
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    this.#body?.fail(err);
    this.#body = undefined;
  }
}

/** A consumer of the body that takes each chunk as it arrives (UpstreamBody.pipe). */
export interface BodySink {
  data(chunk: Buffer): void;
  /** The whole body has arrived. */
  end(): void;
  /** The call failed or was stopped (undici's error, the signal's reason, or destroy()'s). */
  fail(err: Error): void;
}

/** The response body: an async iterable of the chunks as they arrive, or piped to a sink. */
export class UpstreamBody implements AsyncIterable<Buffer> {
  /** True once the whole body has arrived (or the call failed or was stopped): nothing more comes. */
  ended = false;
  #chunks: Buffer[] = [];
  #queued = 0;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #sink: BodySink | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** Until the head arrives: the call's promise (callUpstream). */
  #resolve: ((res: UpstreamResponse) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  /** Draining: bytes still allowed before the connection is cut instead, and the timer that cuts it. */
  #drainLeft = -1;
  #drainTimer: NodeJS.Timeout | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.destroy(this.#signal!.reason as Error);

  constructor(signal: AbortSignal | undefined, resolve: (res: UpstreamResponse) => void, reject: (err: unknown) => void) {
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** True while the upstream is paused because the caller has not read what came (backpressure). */
  get paused(): boolean {
    return this.#controller?.paused ?? false;
  }

  // --- undici's events (CallHandler)

  started(controller: Dispatcher.DispatchController): void {
    // Stopped before undici started it (the signal fired): abort it at once.
    if (this.ended) return controller.abort(this.#error!);
    this.#controller = controller;
  }

  head(statusCode: number, headers: Headers): void {
    if (statusCode < 200) return; // 1xx: the real head follows
    const resolve = this.#resolve;
    this.#resolve = this.#reject = undefined;
    resolve?.({ statusCode, headers, body: this });
  }

  data(chunk: Buffer): void {
    if (this.ended) return;
    if (this.#drainLeft >= 0) {
      this.#drainLeft -= chunk.length;
      if (this.#drainLeft < 0) this.destroy();
      return;
    }
    if (this.#sink) return this.#sink.data(chunk);
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued > HIGH_WATER && !this.#controller!.paused) this.#controller!.pause();
    this.#wake?.();
  }

  end(): void {
    const sink = this.#liveSink();
    this.#finish();
    sink?.end();
    this.#wake?.();
  }

  fail(err: Error): void {
    const reject = this.#reject;
    const sink = this.#liveSink();
    this.#finish();
    if (reject) return reject(err);
    this.#error ??= err;
    sink?.fail(err);
    this.#wake?.();
  }

  // --- the caller's side

  /**
   * Hands every chunk to `sink` as undici delivers it, in undici's callback, instead of queueing it
   * for the async iterator: what was queued already goes first, then the end or failure if it came.
   * The sink applies its own backpressure with pause() and resume(). After drain() or destroy()
   * the sink hears nothing more.
   */
  pipe(sink: BodySink): void {
    const queued = this.#chunks;
    this.#chunks = [];
    this.#queued = 0;
    this.#sink = sink;
    // The sink may drain or destroy the body while it reads these: it then hears nothing more.
    for (const chunk of queued) this.#liveSink()?.data(chunk);
    const live = this.#liveSink();
    if (!live) return;
    if (this.ended) {
      this.#sink = undefined;
      if (this.#error !== undefined) live.fail(this.#error);
      else live.end();
    } else if (this.#controller?.paused) this.#controller.resume();
  }

  /** Stops reading the upstream (TCP pushes back) until resume(). */
  pause(): void {
    if (this.#controller && !this.#controller.paused) this.#controller.pause();
  }

  resume(): void {
    if (this.#controller?.paused) this.#controller.resume();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk) {
        this.#queued -= chunk.length;
        if (this.#queued === 0 && this.#controller?.paused) this.#controller.resume();
        yield chunk;
        continue;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  /** Stops the call now, closing its connection if the body had not all arrived. */
  destroy(err?: Error): void {
    if (this.ended) return;
    const error = err ?? new Error('upstream body destroyed');
    this.#error ??= error;
    const controller = this.#controller;
    const reject = this.#reject;
    const sink = this.#liveSink();
    this.#finish();
    controller?.abort(error);
    reject?.(error);
    sink?.fail(error);
    this.#wake?.();
  }

  /**
   * The caller has what it needs: read and discard the rest in the background so the keep-alive
   * connection is reused, but at most `limit` more bytes and for at most `ms`; past either the
   * connection is closed instead.
   */
  drain(limit: number, ms: number): void {
    this.#chunks.length = 0;
    this.#queued = 0;
    if (this.ended) return;
    this.#drainLeft = limit;
    this.#drainTimer = setTimeout(() => this.destroy(), ms);
    this.#drainTimer.unref();
    if (this.#controller?.paused) this.#controller.resume();
  }

  /** The sink, unless the body is being drained (the sink has what it needed). */
  #liveSink(): BodySink | undefined {
    return this.#drainLeft >= 0 ? undefined : this.#sink;
  }

  #finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.#sink = undefined;
    clearTimeout(this.#drainTimer);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    // Nothing of undici's (its controller holds the raw header buffers) stays reachable from here.
    this.#controller = undefined;
    this.#resolve = this.#reject = undefined;
  }
}
