// Shared plumbing for the fake upstreams: a real HTTP server on 127.0.0.1:0 that records every
// request and replays a per-test script. Each provider fake only supplies its wire format.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { HugeBody } from './huge-body.js';

/** `input` counts every prompt token, `cachedInput` of them came from the cache; `output` includes `reasoning`. */
export interface FakeUsage {
  input: number;
  output: number;
  cachedInput?: number;
  reasoning?: number;
}

/** How the fake answers the next requests. Defaults: two chunks, no delay, clean finish. */
export interface FakeScript {
  /** Text deltas, in order. */
  chunks?: string[];
  /** Milliseconds to wait before each chunk (and before the ending). */
  delayMs?: number;
  /** Milliseconds before the first delayed write instead of delayMs (time to first chunk). */
  firstChunkDelayMs?: number;
  /**
   * Holds the stream after this many delayed writes (for a plain text script: after that many
   * chunks) until `until` resolves: lets a test act while the upstream is certainly mid-stream.
   */
  holdAfter?: { writes: number; until: Promise<unknown> };
  /** Answer with this HTTP status and the provider's real error body instead of a stream. */
  status?: number;
  /** Token counts the provider reports (reasoning and cached input where the wire format has them). */
  usage?: FakeUsage;
  /**
   * What happens after the chunks: `finish` (the provider's normal terminal events), `error-event`
   * (the provider's in-stream error), `reset` (TCP connection destroyed), `stall` (nothing more,
   * connection kept open), `truncate` (response ends cleanly without any terminal event).
   */
  ending?: 'finish' | 'error-event' | 'reset' | 'stall' | 'truncate' | 'done-no-close';
  /** Tool calls after the text, each with its arguments in the pieces the provider streams them in. */
  toolCalls?: { id: string; name: string; arguments: string[] }[];
  /** Reasoning deltas before the text, where the wire format has them. */
  reasoning?: string[];
  /** Anthropic: a redacted_thinking block with this data before the thinking. */
  redactedThinking?: string;
  /** The signature of the thinking (Anthropic) or of the first function call (Gemini); default: one made for the answer. */
  signature?: string;
  /** Extra response headers (e.g. Retry-After with an error status). */
  headers?: Record<string, string>;
  /** Answer with this JSON body (status 200) instead of a stream, e.g. for embeddings. */
  json?: unknown;
  /** Answer with this body (status 200, application/json; huge-body.ts) instead of a stream. */
  huge?: HugeBody;
  /** With `status`: this raw body instead of the provider's own error body. */
  errorBody?: string;
  /** Raw bytes written after the chunks, before the ending (e.g. an error event naming internal hosts). */
  raw?: string;
  /**
   * After the chunks: an SSE `data:` line of this many characters that never ends (no newline),
   * written in 64 KiB pieces; the connection then stays open (the ending is not written).
   */
  endlessLine?: number;
  /**
   * How the stream's bytes are framed on the wire, for the SSE forms a server may use: `eol` replaces
   * every line end (LF or CRLF) with a lone CR or CRLF; `bom` puts a UTF-8 byte order mark before
   * the first byte of the stream.
   */
  framing?: { eol?: '\r' | '\r\n'; bom?: boolean };
}

export interface RecordedRequest {
  method: string;
  /** Path with query string, e.g. "/v1/messages". */
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  /** performance.now() when the request arrived. */
  receivedAt: number;
  /** The client's port: the same port for two requests means one reused connection. */
  clientPort: number | undefined;
  /** performance.now() when the client's TCP connection closed; undefined while open. */
  closedAt: number | undefined;
  /** Resolves with closedAt once the connection closes. */
  closed: Promise<number>;
  /** The fake's own response: unsent bytes pile up here when the gateway stops reading (backpressure). */
  response: ServerResponse;
}

/** Writes one response in a provider's wire format. `sse` writes raw bytes with an optional delay first. */
export interface WireFormat {
  /** `message`: the provider's words for this refusal instead of its usual ones for the status. */
  errorResponse(res: ServerResponse, status: number, message?: string): void;
  streamHeaders: Record<string, string>;
  stream(ctx: StreamContext): Promise<void>;
  /** What the real API refuses whatever the script says (a tool loop without its signatures): answered with the error, the script left for the next request. */
  refuse?(req: RecordedRequest): { status: number; message: string } | undefined;
}

export interface StreamContext {
  req: RecordedRequest;
  script: Required<Pick<FakeScript, 'chunks' | 'delayMs' | 'ending' | 'toolCalls' | 'reasoning'>> & Pick<FakeScript, 'raw' | 'endlessLine' | 'redactedThinking' | 'signature'> & { usage: FakeUsage };
  /** Waits delayMs, then writes the bytes; resolves false when the client is gone. */
  write(bytes: string, delay?: boolean): Promise<boolean>;
  end(): void;
  reset(): void;
}

export interface FakeUpstream {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** Sets the script for every following request; a list is used one per request, its last repeating. */
  respondWith(script: FakeScript | FakeScript[]): void;
  /** Resolves with the next request to arrive (recorded before the script runs). */
  nextRequest(): Promise<RecordedRequest>;
  close(): Promise<void>;
}

const defaultChunks = ['Hello', ', world'];

// One 'close' listener per keep-alive socket, however many requests it carried.
const waiters = new WeakMap<Socket, Set<() => void>>();
function closeWaiters(socket: Socket): Set<() => void> {
  let set = waiters.get(socket);
  if (!set) {
    const created = new Set<() => void>();
    set = created;
    waiters.set(socket, created);
    socket.once('close', () => {
      for (const f of created) f();
    });
  }
  return set;
}

export async function startFakeUpstream(wire: WireFormat, opts: { port?: number; backlog?: number } = {}): Promise<FakeUpstream> {
  let scripts: FakeScript[] = [{}];
  const requests: RecordedRequest[] = [];
  let arrivals: Array<(r: RecordedRequest) => void> = [];
  const server: Server = createServer((req, res) => void handle(req, res));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let resolveClosed!: (t: number) => void;
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: raw.length ? JSON.parse(raw) : undefined,
      receivedAt: performance.now(),
      clientPort: req.socket.remotePort,
      closedAt: undefined,
      closed: new Promise((r) => (resolveClosed = r)),
      response: res,
    };
    requests.push(record);
    const waiting = arrivals;
    arrivals = [];
    for (const w of waiting) w(record);
    const socket = req.socket;
    const onClose = () => {
      record.closedAt ??= performance.now();
      resolveClosed(record.closedAt);
    };
    if (socket.destroyed) onClose();
    else closeWaiters(socket).add(onClose);

    const refused = wire.refuse?.(record);
    if (refused) {
      wire.errorResponse(res, refused.status, refused.message);
      return;
    }
    const current = (scripts.length > 1 ? scripts.shift() : scripts[0]) ?? {};
    for (const [name, value] of Object.entries(current.headers ?? {})) res.setHeader(name, value);
    if (current.status !== undefined) {
      if (current.errorBody !== undefined) res.writeHead(current.status, { 'content-type': 'text/plain' }).end(current.errorBody);
      else wire.errorResponse(res, current.status);
      return;
    }
    if (current.huge) return current.huge.write(res, 200, { 'content-type': 'application/json' });
    if (current.json !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(current.json));
      return;
    }
    const delayMs = current.delayMs ?? 0;
    let nextDelayMs = current.firstChunkDelayMs ?? delayMs;
    let delayedWrites = 0;
    const { eol, bom } = current.framing ?? {};
    let first = true;
    const frame = (bytes: string): string => {
      const framed = eol ? bytes.replace(/\r?\n/g, eol) : bytes;
      if (!first || !bom) return framed;
      first = false;
      return `\uFEFF${framed}`;
    };
    res.writeHead(200, wire.streamHeaders);
    res.flushHeaders();
    await wire.stream({
      req: record,
      script: {
        chunks: current.chunks ?? defaultChunks,
        delayMs,
        ending: current.ending ?? 'finish',
        toolCalls: current.toolCalls ?? [],
        reasoning: current.reasoning ?? [],
        redactedThinking: current.redactedThinking,
        signature: current.signature,
        usage: current.usage ?? { input: 12, output: 7 },
        raw: current.raw,
        endlessLine: current.endlessLine,
      },
      async write(bytes, delay = true) {
        if (delay) {
          if (current.holdAfter && delayedWrites++ === current.holdAfter.writes) await current.holdAfter.until;
          const ms = nextDelayMs;
          nextDelayMs = delayMs;
          if (ms > 0) await sleep(ms);
        }
        if (res.destroyed || socket.destroyed) return false;
        res.write(frame(bytes));
        return true;
      },
      end: () => res.end(),
      reset: () => socket.destroy(),
    });
  }

  await new Promise<void>((resolve) => server.listen({ port: opts.port ?? 0, host: '127.0.0.1', backlog: opts.backlog }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    respondWith(next) {
      scripts = Array.isArray(next) ? [...next] : [next];
    },
    nextRequest: () => new Promise((resolve) => arrivals.push(resolve)),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** Unref'd: a scripted delay must not keep the test process alive after the test is done. */
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** Runs the chunk loop shared by all fakes; returns false when the client left early. */
export async function writeChunks(ctx: StreamContext, frame: (text: string, index: number) => string): Promise<boolean> {
  for (const [i, text] of ctx.script.chunks.entries()) {
    if (!(await ctx.write(frame(text, i)))) return false;
  }
  return true;
}

/** Applies the non-provider-specific endings; returns true when the fake must write its own. */
export async function applyGenericEnding(ctx: StreamContext): Promise<'finish' | 'error-event' | 'done-no-close' | 'done'> {
  const { ending, delayMs, raw, endlessLine } = ctx.script;
  if (raw !== undefined && !(await ctx.write(raw, false))) return 'done';
  if (endlessLine !== undefined) {
    // A line that never ends: the client must give up, not buffer it all.
    const piece = 'x'.repeat(64 * 1024);
    if (!(await ctx.write('data: {"choices":[{"delta":{"content":"', false))) return 'done';
    for (let n = 0; n < endlessLine; n += piece.length) if (!(await ctx.write(piece, false))) break;
    return 'done';
  }
  if (ending === 'finish' || ending === 'error-event' || ending === 'done-no-close') return ending;
  if (delayMs > 0) await sleep(delayMs);
  if (ending === 'reset') ctx.reset();
  else if (ending === 'truncate') ctx.end();
  // 'stall': leave the connection open; the client (or close()) ends it.
  return 'done';
}
