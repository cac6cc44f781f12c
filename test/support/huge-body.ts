// An answer body far larger than a test would ever allocate, for fakes of providers that misbehave:
// written from one reused chunk as fast as the client reads it (backpressure), and stopped when the
// client closes the connection. What the fake wrote, and whether it got to the end, tells whether
// the gateway stopped reading or took the whole body.
import type { ServerResponse } from 'node:http';

const CHUNK = Buffer.alloc(64 * 1024, 'a');

export class HugeBody {
  /** The first bytes (the start of a JSON object); the rest is filler. */
  readonly prefix: Buffer;
  /** Bytes handed to the connection so far. */
  sent = 0;
  /** Every byte was written: the client read the whole body. */
  finished = false;
  /** Resolves once the answer is over: finished, or its connection closed. */
  readonly over: Promise<void>;
  #end!: () => void;

  /** `declared`: sent with its Content-Length, else chunked without one. */
  constructor(
    readonly size: number,
    readonly declared: boolean,
    prefix = '',
  ) {
    this.prefix = Buffer.from(prefix);
    this.over = new Promise((r) => (this.#end = r));
  }

  /** Answers `res` with the body; resolves when it is over. */
  async write(res: ServerResponse, status: number, headers: Record<string, string>): Promise<void> {
    const closed = new Promise<void>((r) => res.once('close', r));
    res.writeHead(status, { ...headers, ...(this.declared ? { 'content-length': String(this.size) } : {}) });
    while (this.sent < this.size && !res.destroyed) {
      const piece = this.sent === 0 && this.prefix.length ? this.prefix : CHUNK.subarray(0, Math.min(CHUNK.length, this.size - this.sent));
      const more = res.write(piece);
      this.sent += piece.length;
      if (!more) await Promise.race([drained(res), closed]);
    }
    if (!res.destroyed) {
      res.end();
      await Promise.race([new Promise((r) => res.once('finish', r)), closed]);
      this.finished = res.writableFinished;
    }
    this.#end();
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
