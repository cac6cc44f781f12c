// Any OpenAI-compatible Chat Completions upstream: OpenAI, DeepSeek, xAI, OpenRouter, Ollama, vLLM,
// llama.cpp's server. Always Chat Completions (the common denominator) and always
// stream_options.include_usage, so usage arrives in streams even where it is opt-in.
// On undici's request() with one keep-alive pool per provider, and eventsource-parser for SSE:
// both the AI SDK model and the official `openai` SDK go through fetch and WHATWG streams, which
// cost ~0.9 ms of CPU per upstream request on this machine against ~0.2 ms here (docs/BENCHMARKS.md).
// Behaviour matches ai-sdk.ts: ProviderError on HTTP errors, in-stream errors, resets and
// truncation; an abort of req.signal closes the upstream connection.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Agent, request, type Dispatcher } from 'undici';
import type { ProviderConfig } from './config.js';
import { ProviderError, type Provider, type ProviderEvent, type ProviderRequest, type ProviderStream, type ProviderUsage } from './types.js';

/** The parts of an OpenAI chat.completion.chunk this module reads. */
interface ChatCompletionChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

/** Longest error body kept from a refused request (bodies are small JSON; a proxy's HTML page is not). */
const ERROR_BODY_LIMIT = 64 * 1024;

export function openAICompatibleProvider(id: string, cfg: ProviderConfig): Provider {
  const url = `${cfg.base_url.replace(/\/+$/, '')}/chat/completions`;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    ...cfg.headers,
    // Local servers (Ollama, vLLM) take no key: send no Authorization header at all.
    ...(cfg.api_key ? { authorization: `Bearer ${cfg.api_key}` } : {}),
  };
  // Keep-alive sockets per origin, no limit on how many (each open stream holds one). Timeouts are
  // the gateway's (generation/routing.ts: first token, gap, total), so undici's own are off.
  const pool = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  return {
    id,
    async open(req: ProviderRequest): Promise<ProviderStream> {
      const body = JSON.stringify({
        model: req.upstreamModel,
        messages: req.messages,
        ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
        ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
        stream: true,
        stream_options: { include_usage: true },
      });
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { method: 'POST', headers, body, signal: req.signal, dispatcher: pool });
      } catch (err) {
        throw failure(err, req.signal);
      }
      // Anything but 2xx is a refusal (undici follows no redirects; a 3xx body is no event stream).
      if (res.statusCode < 200 || res.statusCode >= 300) throw await httpError(res, req.signal);
      return { events: events(res.body, req.signal) };
    },
    close: () => pool.close(),
  };
}

async function* events(body: Dispatcher.ResponseData['body'], signal: AbortSignal): AsyncGenerator<ProviderEvent> {
  let finishReason: string | null = null;
  let usage: ProviderUsage | null = null;
  let done = false;
  const pending: ChatCompletionChunk[] = [];
  let streamError: ProviderError | null = null;
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      if (done || streamError) return;
      if (message.data === '[DONE]') { done = true; return; }
      let chunk: ChatCompletionChunk;
      try {
        chunk = JSON.parse(message.data) as ChatCompletionChunk;
      } catch {
        streamError = new ProviderError(`upstream sent an event that is not JSON: ${message.data.slice(0, 200)}`, { retryable: true });
        return;
      }
      // OpenAI reports failures after the headers as an `error` object in the stream.
      if (chunk.error || message.event === 'error') {
        streamError = new ProviderError(`upstream stream failed: ${chunk.error?.message ?? message.data.slice(0, 200)}`, { retryable: true });
        return;
      }
      pending.push(chunk);
    },
  });
  // UTF-8 characters may be cut between network reads; the decoder carries the partial bytes over.
  const decoder = new TextDecoder();
  try {
    for await (const bytes of body as AsyncIterable<Buffer>) {
      parser.feed(decoder.decode(bytes, { stream: true }));
      for (const chunk of pending) {
        const choice = chunk.choices?.[0];
        const content = choice?.delta?.content;
        if (typeof content === 'string' && content.length > 0) yield { type: 'delta', text: content };
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        if (chunk.usage) usage = usageOf(chunk.usage);
      }
      pending.length = 0;
      if (streamError) throw streamError;
      // After [DONE] the loop reads on to the end of the body (it follows at once), which keeps
      // the keep-alive socket reusable; leaving now would close it.
    }
  } catch (err) {
    throw failure(err, signal);
  } finally {
    // Leaving early (the client left, a timeout) must close the upstream connection, not drain it.
    if (!body.readableEnded) body.destroy();
  }
  if (signal.aborted) throw failure(signal.reason, signal);
  // Servers that omit [DONE] still end a complete answer with a finish_reason chunk.
  if (finishReason === null) throw new ProviderError('upstream stream ended without a finish event');
  yield { type: 'finish', finishReason: unifiedFinishReason(finishReason), usage };
}

/** The same names the AI SDK gives (finish_reason in generation objects must not change). */
function unifiedFinishReason(raw: string): string {
  switch (raw) {
    case 'stop': return 'stop';
    case 'length': return 'length';
    case 'content_filter': return 'content-filter';
    case 'function_call':
    case 'tool_calls': return 'tool-calls';
    default: return 'other';
  }
}

function usageOf(u: NonNullable<ChatCompletionChunk['usage']>): ProviderUsage | null {
  const input = u.prompt_tokens ?? null;
  const output = u.completion_tokens ?? null;
  if (input === null && output === null) return null;
  return { input_tokens: input, output_tokens: output, total_tokens: input !== null && output !== null ? input + output : null };
}

/** A refused request: the status, and the message of OpenAI's `{"error":{"message"}}` body when there is one. */
async function httpError(res: Dispatcher.ResponseData, signal: AbortSignal): Promise<unknown> {
  let text = '';
  try {
    for await (const piece of res.body) {
      text += String(piece);
      if (text.length > ERROR_BODY_LIMIT) { res.body.destroy(); break; }
    }
  } catch (err) {
    if (signal.aborted) return failure(err, signal);
  }
  let message = `HTTP ${res.statusCode}`;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    const m = typeof parsed.error === 'string' ? parsed.error : parsed.error?.message ?? parsed.message;
    if (typeof m === 'string' && m) message = m;
  } catch {
    if (text.trim()) message = `HTTP ${res.statusCode}: ${text.trim().slice(0, 200)}`;
  }
  return new ProviderError(message, { status: res.statusCode });
}

/** Aborts pass through unchanged (the lifecycle reads the cause from the signal). */
function failure(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? err;
  if (err instanceof ProviderError) return err;
  // Network failures and resets mid-body (no HTTP status).
  const parts: string[] = [];
  let cur: unknown = err;
  while (cur instanceof Error && parts.length < 4) {
    parts.push(cur.message);
    cur = cur.cause;
  }
  return new ProviderError(`upstream stream failed: ${parts.join(': ') || String(err)}`, { cause: err, retryable: true });
}
