// Fake Ollama (or vLLM) OpenAI-compatible server: GET /v1/models lists `models` (mutable, so a test
// can make one disappear); POST /v1/chat/completions streams "hi from <model>" as Ollama does.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeOllama {
  /** http://127.0.0.1:PORT/v1, the value of OLLAMA_BASE_URL. */
  baseUrl: string;
  models: string[];
  /** The `model` of each chat request, in order. */
  chats: string[];
  /** Starts each stream with a UTF-8 byte order mark (as some servers and proxies do). */
  bom: boolean;
  close(): Promise<void>;
}

export async function startFakeOllama(models: string[], port = 0): Promise<FakeOllama> {
  const fake = { models, chats: [] as string[], bom: false };
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a test fake; a failure fails the test
  const server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      const data = fake.models.map((id) => ({ id, object: 'model', created: 1735689600, owned_by: 'library' }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data }));
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      const body = JSON.parse(await readBody(req)) as { model: string };
      fake.chats.push(body.model);
      const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1735689600, model: body.model, system_fingerprint: 'fp_ollama' };
      const chunk = (choices: unknown[], extra = {}) => `data: ${JSON.stringify({ ...head, choices, ...extra })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (fake.bom) res.write(Buffer.from([0xef, 0xbb, 0xbf]));
      res.write(chunk([{ index: 0, delta: { role: 'assistant', content: `hi from ${body.model}` }, finish_reason: null }]));
      res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: 'stop' }]));
      res.write(chunk([], { usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } }));
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return Object.assign(fake, {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}
