// An OpenAI-format streaming upstream that the test holds mid-stream: every request gets its role
// chunk and one content chunk at once, then waits until `release()` to send the finish, usage and
// [DONE]. Lets crash and outage tests act while generations are certainly in flight.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GatedUpstream {
  origin: string;
  /** Requests that have received their first content chunk and are waiting. */
  readonly waiting: number;
  /** Resolves once `n` requests are waiting. */
  waitFor(n: number): Promise<void>;
  release(): void;
  close(): Promise<void>;
}

export async function startGatedOpenAI(text = 'partial'): Promise<GatedUpstream> {
  let open: () => void;
  let gate = new Promise<void>((r) => (open = r));
  const held = new Set<ServerResponse>();
  let waiting = 0;
  let watchers: Array<() => void> = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (b) => (raw += b));
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a test fake; a failure fails the test
    req.on('end', async () => {
      const body = JSON.parse(raw || '{}');
      const head = { id: 'chatcmpl-gated', object: 'chat.completion.chunk', created: 1735689600, model: String(body.model), system_fingerprint: 'fp_gated' };
      const chunk = (choices: unknown[], extra: object = {}) => `data: ${JSON.stringify({ ...head, choices, ...extra })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
      res.write(chunk([{ index: 0, delta: { content: text }, finish_reason: null }]));
      held.add(res);
      waiting++;
      watchers.forEach((w) => w());
      await gate;
      if (res.destroyed) return;
      res.write(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
      res.write(chunk([], { usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }));
      res.end('data: [DONE]\n\n');
      held.delete(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get waiting() {
      return waiting;
    },
    waitFor: (n) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (waiting >= n) {
            watchers = watchers.filter((w) => w !== check);
            resolve();
          }
        };
        watchers.push(check);
        check();
      }),
    release() {
      open();
      gate = new Promise<void>((r) => (open = r));
      waiting = 0;
    },
    async close() {
      open();
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
