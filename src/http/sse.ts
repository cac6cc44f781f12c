// Server-Sent Events writer: one `[id: …\n][event: …\n]data: <json>\n\n` frame per event, sent as soon as it exists
// (docs/api.md); `: ping` comments keep idle proxies from cutting the stream.
//
// Frames go to the connection's socket directly, each already framed as one HTTP/1.1 chunk
// (`<size>\r\n<frame>\r\n`): node:http's `res.write` would make four socket writes of every frame
// (the size, a CRLF, the frame, a CRLF) and gather them into a writev, which costs more
// instructions than everything else an event does on its way out (bench/NOTES.md, twentieth
// session). The head, the last chunk and the connection's reuse stay node:http's: the head is
// flushed at `open`, and `end` ends the response through it. A response that does not own its
// socket at `open` (a pipelined request's, queued behind the one before it) writes through
// node:http throughout.
//
// Events produced in the same tick (several upstream chunks that arrived in one network read)
// leave in one socket write: the socket is corked at a tick's first write and uncorked on the next
// tick, as node:http does for `res.write`. A socket write is the largest cost per event on a busy
// server, and a server falling behind writes less often, not more.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One SSE frame; `id` (docs/api.md) goes in the same frame, so in the same socket write. */
export function sseFrame(data: unknown, name?: string, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}${name ? `event: ${name}\n` : ''}data: ${JSON.stringify(data)}\n\n`;
}

export const DONE_FRAME = 'data: [DONE]\n\n';

const uncork = (socket: Socket) => socket.uncork();

export class SseWriter {
  private heartbeat: NodeJS.Timeout | undefined;
  /** Whether frames go to the socket directly (see the top of this file), and as chunks. */
  private direct = false;
  private chunked = false;
  /**
   * The wait for the socket's 'drain' under way: every write meanwhile shares it. A generation
   * cancelled while it waited (docs/api.md: a client that stops reading) goes on writing what it
   * had read already, and each write would otherwise add its own listeners until the close.
   */
  private draining: Promise<void> | undefined;
  constructor(
    private res: ServerResponse,
    private heartbeatMs: number,
  ) {}

  /** Sends the head: it leaves with the first frames written in the same tick, or alone on the next. */
  open(headers: Record<string, string | number>): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
      ...headers,
    });
    const socket = this.res.socket;
    if (socket) {
      this.direct = true;
      // False for an HTTP/1.0 client: its body ends when the connection closes, without chunks.
      this.chunked = this.res.chunkedEncoding;
      this.corkForTick(socket);
    }
    this.res.flushHeaders();
    if (this.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => {
        // A client that has not read what was sent is not idle: no ping, and no wait for its drain.
        if (!this.res.socket?.writableNeedDrain) void this.write(': ping\n\n');
      }, this.heartbeatMs);
      this.heartbeat.unref();
      // A background generation outlives its client: no pings into a closed socket.
      this.res.once('close', () => this.stop());
    }
  }

  /** Writes one event (named with `event:` when given); resolves after 'drain' when the socket buffer is full. */
  send(event: unknown, name?: string): void | Promise<void> {
    return this.write(sseFrame(event, name));
  }

  /** Writes one ready frame (see `send`). */
  write(frame: string): void | Promise<void> {
    const res = this.res;
    if (res.destroyed || res.writableEnded) return;
    if (!this.direct) {
      if (res.write(frame)) return;
      // Only a full socket ever leads to 'drain': wait only then.
      if (res.socket && !res.socket.writableNeedDrain) return;
      return this.drained(res);
    }
    // Never past the response's end: the socket may already carry the next one.
    const socket = res.socket;
    if (!socket) return;
    this.corkForTick(socket);
    if (socket.write(this.chunked ? `${Buffer.byteLength(frame).toString(16)}\r\n${frame}\r\n` : frame)) return;
    if (!socket.writableNeedDrain) return;
    return this.drained(socket);
  }

  private drained(writer: NodeJS.EventEmitter): Promise<void> {
    return (this.draining ??= waitForDrain(writer, this.res).then(() => {
      this.draining = undefined;
    }));
  }

  /** Ends the stream, with the `[DONE]` sentinel unless the surface has none (/v1/responses). */
  end(sentinel = true): void {
    clearInterval(this.heartbeat);
    if (!this.res.destroyed) this.res.end(sentinel ? DONE_FRAME : undefined);
  }

  stop(): void {
    clearInterval(this.heartbeat);
  }

  private corkForTick(socket: Socket): void {
    if (socket.writableCorked) return;
    socket.cork();
    process.nextTick(uncork, socket);
  }
}

/** Resolves on the writer's 'drain', or when the response closes (a client gone never drains). */
function waitForDrain(writer: NodeJS.EventEmitter, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      writer.off('drain', done);
      res.off('close', done);
      resolve();
    };
    writer.on('drain', done);
    res.on('close', done);
  });
}
