// Server-Sent Events writer: one `[id: …\n][event: …\n]data: <json>\n\n` frame per event, sent as soon as it exists
// (docs/api.md); `: ping` comments keep idle proxies from cutting the stream. Events produced in
// the same tick (several upstream chunks that arrived in one network read) leave in one socket
// write: node:http corks the socket at a response's first write in a tick and uncorks it on the
// next (Node 20 to 24), so nothing here corks again. A socket write is the largest cost per event
// on a busy server, and a server falling behind writes less often, not more.
import type { ServerResponse } from 'node:http';

/** One SSE frame; `id` (docs/api.md) goes in the same frame, so in the same socket write. */
export function sseFrame(data: unknown, name?: string, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}${name ? `event: ${name}\n` : ''}data: ${JSON.stringify(data)}\n\n`;
}

export const DONE_FRAME = 'data: [DONE]\n\n';

export class SseWriter {
  private heartbeat: NodeJS.Timeout | undefined;
  constructor(
    private res: ServerResponse,
    private heartbeatMs: number,
  ) {}

  open(headers: Record<string, string | number>): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
      ...headers,
    });
    // No flushHeaders() here: the head goes out in the same socket write as the first event, unless
    // the caller has none to send yet (flushHead).
    if (this.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.res.write(': ping\n\n'), this.heartbeatMs);
      this.heartbeat.unref();
      // A background generation outlives its client: no pings into a closed socket.
      this.res.once('close', () => this.stop());
    }
  }

  /** Sends the head now, for a stream whose next event may be a long way off (a re-attach that is caught up). */
  flushHead(): void {
    this.res.flushHeaders();
  }

  /** Writes one event (named with `event:` when given); resolves after 'drain' when the socket buffer is full. */
  send(event: unknown, name?: string): void | Promise<void> {
    return this.write(sseFrame(event, name));
  }

  /** Writes one ready frame (see `send`). */
  write(frame: string): void | Promise<void> {
    if (this.res.destroyed) return;
    if (this.res.write(frame)) return;
    // Only a full socket ever leads to 'drain': wait only then.
    if (this.res.socket && !this.res.socket.writableNeedDrain) return;
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /** Ends the stream, with the `[DONE]` sentinel unless the surface has none (/v1/responses). */
  end(sentinel = true): void {
    clearInterval(this.heartbeat);
    if (!this.res.destroyed) this.res.end(sentinel ? DONE_FRAME : undefined);
  }

  stop(): void {
    clearInterval(this.heartbeat);
  }
}
