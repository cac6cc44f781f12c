// Waits on events that are not the server's own (those are in server-events.ts): lines a log or a
// child process writes, and a server blocked on a slow client long enough that a timer must have
// fired had it been armed. Each re-checks its condition when something happens, never after a sleep;
// a cap only turns a hang into a failure that says what did not happen.
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { Writable, type Readable } from 'node:stream';

const CAP_MS = 120_000;

/**
 * Lines as they are written (a logger's output, a child's stdout or stderr), and `until(cond)`,
 * which re-checks `cond` now and after each line added.
 */
export class LineLog {
  readonly lines: string[] = [];
  private ended = false;
  private readonly waiters = new Set<() => void>();

  /** The lines of a stream (a child's stdout or stderr); when it ends, pending waits fail at once. */
  static of(stream: Readable): LineLog {
    const log = new LineLog();
    createInterface({ input: stream }).on('line', (line) => log.add(line));
    stream.once('close', () => log.end());
    return log;
  }

  /** A Writable for a logger (e.g. `pino(opts, log.writable())`): each chunk written is added as it is. */
  writable(): Writable {
    return new Writable({
      write: (chunk, _enc, cb) => {
        this.add(String(chunk));
        cb();
      },
    });
  }

  add(line: string): void {
    this.lines.push(line);
    for (const w of [...this.waiters]) w();
  }

  end(): void {
    this.ended = true;
    for (const w of [...this.waiters]) w();
  }

  /** How many lines so far contain `text`. */
  count(text: string): number {
    return this.lines.filter((l) => l.includes(text)).length;
  }

  /** Resolves once `cond(lines)` holds; rejects if the stream ends first, or after the cap. */
  until(cond: (lines: readonly string[]) => boolean, what: string, capMs = CAP_MS): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(cap);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (cond(this.lines)) done();
        else if (this.ended) done(new Error(`${what}: the output ended first:\n${this.lines.join('\n').slice(-2000)}`));
      };
      const cap = setTimeout(() => done(new Error(`${what}: did not happen within ${capMs / 1000} s`)), capMs);
      this.waiters.add(check);
      check();
    });
  }
}

/**
 * Resolves once the server side of a connection has waited `ms` for the socket's 'drain' without it
 * coming: the "a timer of `ms` must not fire while the client is slow" wait. The server starts such
 * a wait when a write finds the buffer full (it adds a 'drain' listener: the event watched here),
 * and a timer of `ms` is set right then, again at each new wait, cancelled by each 'drain'. When it
 * fires the server has been blocked for `ms` since its last write. A product timer of `ms` armed at
 * or before that write (a gap timeout refreshed by the part being written) is due no later than it,
 * and Node runs timers in the order they are due (those due together in the order they were set):
 * had it not been paused it has fired by then. Only the order of the timer queue matters, not how
 * long anything takes; the cap only turns a hang into a failure.
 */
export function blockedFor(socket: Socket, ms: number, capMs = CAP_MS): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (err?: Error) => {
      clearTimeout(timer);
      clearTimeout(cap);
      socket.off('newListener', onListener);
      socket.off('drain', onDrain);
      if (err) reject(err);
      else resolve();
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (socket.writableNeedDrain) done();
      }, ms);
    };
    const onDrain = () => clearTimeout(timer);
    const onListener = (event: string | symbol) => {
      if (event === 'drain' && socket.writableNeedDrain) arm();
    };
    const cap = setTimeout(() => done(new Error(`the server was not blocked on the socket for ${ms} ms within ${capMs / 1000} s`)), capMs);
    // Before the hook, so that adding it is not taken for the server's wait.
    socket.on('drain', onDrain);
    socket.on('newListener', onListener);
    if (socket.writableNeedDrain) arm();
  });
}
