// A fake OpenAI Chat Completions upstream on 127.0.0.1 that writes the real streaming wire format
// byte for byte (as api.openai.com sends it with stream_options.include_usage), scriptable per test.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface OpenAIScript {
  /** Text pieces sent as content deltas. */
  chunks?: string[];
  /** Delay before the first chunk and between chunks, ms. */
  firstChunkDelayMs?: number;
  gapMs?: number;
  /** Answer with this HTTP status and OpenAI's error body instead of a stream. */
  status?: number;
  /** Destroy the socket after this many content chunks. */
  resetAfterChunks?: number;
  /** Stop sending (keep the connection open) after this many content chunks. */
  stallAfterChunks?: number;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export interface ReceivedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
  receivedAt: number;
  /** performance.now() when the client's connection closed, if it did. */
  closedAt?: number;
  /** true when the stream was written to the end. */
  finished: boolean;
}

export class FakeOpenAI {
  readonly requests: ReceivedRequest[] = [];
  /** Scripts consumed one per request; the last one repeats. */
  scripts: OpenAIScript[] = [{ chunks: ['Hello', ' world'] }];
  private server: Server;
  private sockets = new Set<Socket>();
  url = '';

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  script(...scripts: OpenAIScript[]): this {
    this.scripts = scripts;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private nextScript(): OpenAIScript {
    return (this.scripts.length > 1 ? this.scripts.shift() : this.scripts[0]) ?? {};
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const c of req) raw += c;
    const rec: ReceivedRequest = { path: req.url ?? '', headers: req.headers, body: raw ? JSON.parse(raw) : null, receivedAt: performance.now(), finished: false };
    this.requests.push(rec);
    res.on('close', () => { rec.closedAt ??= performance.now(); });
    const script = this.nextScript();
    if (script.status && script.status >= 400) {
      const body = JSON.stringify({ error: { message: `fake upstream error ${script.status}`, type: script.status === 429 ? 'rate_limit_exceeded' : 'server_error', param: null, code: null } });
      res.writeHead(script.status, { 'content-type': 'application/json' }).end(body);
      return;
    }
    const model = rec.body?.model ?? 'gpt-4o-mini';
    const id = 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG';
    const created = 1741569952;
    const frame = (choices: unknown[], usage: unknown = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: 'fp_eb9dce56a8', choices, usage })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    if (script.firstChunkDelayMs) await sleep(script.firstChunkDelayMs);
    if (res.destroyed) return;
    res.write(frame([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]));
    const chunks = script.chunks ?? ['Hello', ' world'];
    for (let i = 0; i < chunks.length; i++) {
      if (i > 0 && script.gapMs) await sleep(script.gapMs);
      if (script.resetAfterChunks === i) { req.socket.destroy(); return; }
      if (script.stallAfterChunks === i) return; // keep the socket open, send nothing more
      if (res.destroyed) return;
      res.write(frame([{ index: 0, delta: { content: chunks[i] }, logprobs: null, finish_reason: null }]));
    }
    if (script.resetAfterChunks === chunks.length) { req.socket.destroy(); return; }
    if (script.stallAfterChunks === chunks.length) return;
    res.write(frame([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
    if (rec.body?.stream_options?.include_usage) {
      const u = script.usage ?? { prompt_tokens: 12, completion_tokens: chunks.length };
      res.write(frame([], { ...u, total_tokens: u.prompt_tokens + u.completion_tokens, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } }));
    }
    res.write('data: [DONE]\n\n');
    rec.finished = true;
    res.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
