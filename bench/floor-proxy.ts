// The floor: the least a Node HTTP gateway adds on this machine. A pass-through proxy with no
// auth, no database and no parsing (node:http in, undici with a keep-alive pool out, bytes piped
// as they arrive). The bench sends the same streams through it, so every goal can be read against
// what a bare proxy reaches here. Forked like upstream.ts: argv[2] is the upstream origin, the
// parent gets { origin } once listening.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';

const upstreamOrigin = process.argv[2]!;
const pool = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });

const server = createServer((req, res) => {
  void (async () => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const up = await request(`${upstreamOrigin}${req.url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
      body: Buffer.concat(chunks),
      dispatcher: pool,
    });
    res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'text/event-stream') });
    for await (const c of up.body) res.write(c);
    res.end();
  })().catch(() => res.destroy());
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.send?.({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
process.on('disconnect', () => {
  server.close();
  void pool.close().then(() => process.exit(0));
});
