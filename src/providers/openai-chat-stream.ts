// A lean OpenAI-compatible Chat Completions streaming client: fetch + eventsource-parser + one
// JSON.parse per chunk. It replaces the AI SDK model on the hot path of every OpenAI-compatible
// upstream because the SDK validates every chunk with zod and pipes it through several
// TransformStreams (see docs/BENCHMARKS.md for the profile that justified it). Behaviour matches
// ai-sdk.ts: ProviderError on HTTP errors (message from the error body), in-stream errors, resets
// and truncation; an abort of req.signal closes the upstream connection at once.
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { ProviderConfig } from './config.js';
import { ProviderError, type Provider, type ProviderEvent, type ProviderRequest, type ProviderStream, type ProviderUsage } from './types.js';

interface ChatChunk {
  choices?: Array<{ delta?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: { prompt_tokens?: number | null; completion_tokens?: number | null } | null;
  error?: { message?: string };
}

export function openAIChatStreamProvider(id: string, cfg: ProviderConfig): Provider {
  const url = `${cfg.base_url.replace(/\/+$/, '')}/chat/completions`;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(cfg.api_key ? { authorization: `Bearer ${cfg.api_key}` } : {}), ...cfg.headers };
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
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, body, signal: req.signal });
      } catch (err) {
        throw failure(err, req.signal);
      }
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => '');
        throw new ProviderError(errorMessage(text, res), { status: res.status });
      }
      return { events: events(res.body, req.signal) };
    },
  };
}

async function* events(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
  // (TextDecoderStream is typed for BufferSource writes; the body is Uint8Array.)
  const reader = body.pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>).pipeThrough(new EventSourceParserStream()).getReader();
  let finishReason: string | null = null;
  let usage: ProviderUsage | null = null;
  let done = false;
  try {
    for (;;) {
      let next;
      try {
        next = await reader.read();
      } catch (err) {
        throw failure(err, signal);
      }
      if (next.done) break;
      const data = next.value.data;
      if (data === '[DONE]') { done = true; continue; }
      let chunk: ChatChunk;
      try {
        chunk = JSON.parse(data) as ChatChunk;
      } catch {
        throw new ProviderError(`upstream sent an unparsable chunk: ${data.slice(0, 200)}`);
      }
      if (chunk.error) throw new ProviderError(chunk.error.message ?? 'upstream stream failed');
      const choice = chunk.choices?.[0];
      const text = choice?.delta?.content;
      if (typeof text === 'string' && text.length > 0) yield { type: 'delta', text };
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) usage = usageOf(chunk.usage);
    }
    if (signal.aborted) throw failure(signal.reason, signal);
    // Servers that omit [DONE] still end a complete answer with a finish_reason chunk.
    if (finishReason === null) throw new ProviderError(done ? 'upstream stream ended without a finish reason' : 'upstream stream ended without a finish event');
    yield { type: 'finish', finishReason: unifiedFinishReason(finishReason), usage };
  } finally {
    reader.cancel().catch(() => {});
  }
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

function usageOf(u: NonNullable<ChatChunk['usage']>): ProviderUsage | null {
  const input = u.prompt_tokens ?? null;
  const output = u.completion_tokens ?? null;
  if (input === null && output === null) return null;
  return { input_tokens: input, output_tokens: output, total_tokens: input !== null && output !== null ? input + output : null };
}

function errorMessage(text: string, res: Response): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    const msg = typeof parsed.error === 'string' ? parsed.error : parsed.error?.message ?? parsed.message;
    if (msg) return msg;
  } catch { /* not JSON */ }
  return text.trim().slice(0, 500) || `${res.status} ${res.statusText}`;
}

/** Aborts pass through unchanged (the lifecycle reads the cause from the signal); the rest is a retryable network failure. */
function failure(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? err;
  if (err instanceof ProviderError) return err;
  const parts: string[] = [];
  let cur: unknown = err;
  while (cur instanceof Error && parts.length < 4) {
    parts.push(cur.message);
    cur = cur.cause;
  }
  return new ProviderError(`upstream stream failed: ${parts.join(': ') || String(err)}`, { cause: err, retryable: true });
}
