// Shared plumbing for the media provider fakes: a real HTTP server on 127.0.0.1:0 that records
// every request (raw bytes, parsed JSON or multipart form) and answers through the provider fake's
// router. Unlike fake-upstream.ts (streams of chat chunks) media APIs are request/answer and job
// protocols, so each fake supplies routes and keeps its own job state.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HugeBody } from './huge-body.js';

export interface MediaRecordedRequest {
  method: string;
  /** Path with query string. */
  path: string;
  /** Path without the query string, and the query parsed. */
  pathname: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  /** The JSON body, when the request sent one. */
  json: any;
  /** The multipart form, when the request sent one. */
  form: FormData | undefined;
}

export interface FakeAnswer {
  status?: number;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string | Uint8Array;
  /** A body its own code writes (huge-body.ts: one too large to allocate, streamed); `headers` go with it. */
  huge?: Pick<HugeBody, 'write'>;
}

export type Route = (req: MediaRecordedRequest) => FakeAnswer | undefined | Promise<FakeAnswer | undefined>;

export interface FakeMediaServer {
  readonly origin: string;
  readonly requests: MediaRecordedRequest[];
  /** The next answer(s) override the router once each (errors, odd bodies). */
  failNext(...answers: FakeAnswer[]): void;
  /** Resolves with the next request to arrive. */
  nextRequest(): Promise<MediaRecordedRequest>;
  /** Resolves once `cond()` holds, re-checked as each request arrives (recorded, not yet answered); rejects after 60 s without. */
  until(cond: () => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeMedia(route: Route): Promise<FakeMediaServer> {
  const requests: MediaRecordedRequest[] = [];
  const overrides: FakeAnswer[] = [];
  let arrivals: Array<(r: MediaRecordedRequest) => void> = [];
  const server = createServer(
    (req, res) =>
      void handle(req, res).catch((err) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
      }),
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://fake');
    const type = req.headers['content-type'] ?? '';
    const record: MediaRecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      pathname: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      raw,
      json: type.startsWith('application/json') && raw.length ? JSON.parse(raw.toString('utf8')) : undefined,
      // The platform's own multipart parser: what a real server would see.
      form: type.startsWith('multipart/form-data') ? await new Response(raw, { headers: { 'content-type': type } }).formData() : undefined,
    };
    requests.push(record);
    const waiting = arrivals;
    arrivals = [];
    for (const w of waiting) w(record);
    const a = overrides.shift() ?? (await route(record)) ?? { status: 404, json: { error: { message: `no route for ${record.method} ${record.pathname}` } } };
    const headers = { ...a.headers };
    if (a.huge) return a.huge.write(res, a.status ?? 200, headers);
    let body: string | Uint8Array = a.body ?? '';
    if (a.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(a.json);
    }
    res.writeHead(a.status ?? 200, headers).end(body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    failNext: (...answers) => void overrides.push(...answers),
    nextRequest: () => new Promise((resolve) => arrivals.push(resolve)),
    async until(cond) {
      // Bounded, generously: a condition that never comes fails the test instead of hanging it.
      const cap = AbortSignal.timeout(60_000);
      const timedOut = new Promise<never>((_, reject) => cap.addEventListener('abort', () => reject(new Error('fake media server: condition not met within 60 s')), { once: true }));
      timedOut.catch(() => {});
      while (!cond()) await Promise.race([new Promise((resolve) => arrivals.push(resolve)), timedOut]);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Deterministic fake media bytes: a recognisable header and a body derived from the seed text. */
export function fakeBytes(header: string, seed: string): Uint8Array {
  return new Uint8Array(Buffer.from(`${header}:${seed}`, 'utf8'));
}

/** A signal that never aborts, for provider calls in tests. */
export const never = new AbortController().signal;

/** A stream's bytes, read to its end (an output file a provider opens for the store). */
export async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}
