// Loaded with `--import` into a server under `npm run bench:ttft` (bench/ttft.ts), never into a
// production process. It timestamps a request's milestones from diagnostics channels (Node's
// http server, Fastify, undici, lumengate's own in src/core/trace.ts) and every write to a client
// socket, and on SIGUSR2 writes them to $BENCH_TRACE_OUT.<pid> as [[ms, kind], …].
import { subscribe } from 'node:diagnostics_channel';
import { Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const events: Array<[number, string]> = [];
const mark = (kind: string) => () => void events.push([performance.now(), kind]);

subscribe('http.server.request.start', mark('request'));
subscribe('lumengate:request:authenticating', mark('authenticating'));
subscribe('lumengate:request:authenticated', mark('authenticated'));
subscribe('tracing:fastify.request.handler:start', mark('handler'));
subscribe('lumengate:generation:holding', mark('holding'));
subscribe('lumengate:generation:held', mark('held'));
subscribe('undici:request:create', mark('upstream-create'));
subscribe('undici:client:sendHeaders', mark('upstream-sent'));
subscribe('undici:request:headers', mark('upstream-headers'));
subscribe('undici:request:bodyChunkReceived', (msg) => {
  // A chunk carrying answer text (OpenAI's `"content":"…"` with something in it), not the role chunk.
  const chunk = (msg as { chunk: Buffer }).chunk;
  events.push([performance.now(), /"content":"[^"]/.test(chunk.toString('latin1')) ? 'chunk-content' : 'chunk']);
});

// Writes to a client: sockets the server accepted (`server` is set), not undici's upstream sockets.
type Writer = (this: Socket & { server?: unknown }, ...args: unknown[]) => unknown;
const proto = Socket.prototype as unknown as { _writeGeneric: Writer };
const writeGeneric = proto._writeGeneric;
proto._writeGeneric = function (this: Socket & { server?: unknown }, ...args: unknown[]) {
  if (this.server) events.push([performance.now(), 'client-write']);
  return writeGeneric.apply(this, args);
};

process.on('SIGUSR2', () => {
  writeFileSync(`${process.env.BENCH_TRACE_OUT}.${process.pid}`, JSON.stringify(events));
  events.length = 0;
});
