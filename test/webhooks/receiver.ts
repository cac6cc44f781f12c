// A webhook receiver on 127.0.0.1 for the tests: records every request (raw body, headers) and
// answers the statuses it is given in order (200 once the list is used up); with `hold` set it
// answers nothing until release(), like a receiver that hangs.
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Statuses for the next requests, in order. */
  statuses: number[];
  /** Requests arriving while set get no answer until release(). */
  hold: boolean;
  /** Answers every held request and stops holding. */
  release(): void;
  /** Resolves once `n` requests have arrived (as each arrives; a hang fails after 10 s). */
  until(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const statuses: number[] = [];
  const held: ServerResponse[] = [];
  const arrivals = new EventEmitter();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (rx.hold) held.push(res);
      else res.writeHead(statuses.shift() ?? 200).end('ok');
      arrivals.emit('request');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const rx: Receiver = {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    statuses,
    hold: false,
    release() {
      rx.hold = false;
      for (const res of held.splice(0)) res.writeHead(statuses.shift() ?? 200).end('ok');
    },
    async until(n) {
      const cap = AbortSignal.timeout(10_000);
      while (received.length < n) {
        await once(arrivals, 'request', { signal: cap }).catch(() => {
          throw new Error(`receiver got ${received.length} requests, expected ${n}`);
        });
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return rx;
}
