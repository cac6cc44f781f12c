// Any OpenAI-compatible Chat Completions upstream: OpenAI, DeepSeek, xAI, OpenRouter, Ollama, vLLM,
// llama.cpp's server. Always Chat Completions (the common denominator) and always
// stream_options.include_usage, so usage arrives in streams even where it is opt-in.
// Through the official `openai` SDK rather than the AI SDK model: the AI SDK validates every chunk
// with zod and pipes it through several TransformStreams, the openai SDK parses SSE and JSON only
// (docs/BENCHMARKS.md has the profile). Behaviour matches ai-sdk.ts: ProviderError on HTTP errors,
// in-stream errors, resets and truncation; an abort of req.signal closes the upstream connection.
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { ProviderConfig } from './config.js';
import { ProviderError, type Provider, type ProviderEvent, type ProviderRequest, type ProviderStream, type ProviderUsage } from './types.js';

export function openAICompatibleProvider(id: string, cfg: ProviderConfig): Provider {
  const client = new OpenAI({
    baseURL: cfg.base_url,
    // Local servers (Ollama, vLLM) take no key: send no Authorization header at all.
    apiKey: cfg.api_key ?? 'no-key',
    defaultHeaders: { ...cfg.headers, ...(cfg.api_key ? {} : { Authorization: null }) },
    // Retries, fallbacks and timeouts are the gateway's (generation/routing.ts), not the SDK's.
    maxRetries: 0,
    timeout: 24 * 60 * 60 * 1000,
  });
  return {
    id,
    async open(req: ProviderRequest): Promise<ProviderStream> {
      try {
        const stream = await client.chat.completions.create({
          model: req.upstreamModel,
          messages: req.messages,
          ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
          ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
          stream: true,
          stream_options: { include_usage: true },
        }, { signal: req.signal });
        return { events: events(stream, req.signal) };
      } catch (err) {
        throw failure(err, req.signal);
      }
    },
  };
}

async function* events(stream: AsyncIterable<ChatCompletionChunk>, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
  let finishReason: string | null = null;
  let usage: ProviderUsage | null = null;
  try {
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      const text = choice?.delta?.content;
      if (typeof text === 'string' && text.length > 0) yield { type: 'delta', text };
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) usage = usageOf(chunk.usage);
    }
  } catch (err) {
    throw failure(err, signal);
  }
  // The SDK ends the iteration quietly on an abort; the signal says why.
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

/** Aborts pass through unchanged (the lifecycle reads the cause from the signal); HTTP errors keep their status. */
function failure(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? err;
  if (err instanceof ProviderError) return err;
  if (err instanceof OpenAI.APIError && err.status !== undefined && err.status >= 400) {
    const body = err.error as { message?: string } | undefined;
    return new ProviderError(body?.message ?? err.message, { status: err.status, cause: err });
  }
  // Network failures, resets mid-body, and errors sent inside the stream (no HTTP status).
  const parts: string[] = [];
  let cur: unknown = err;
  while (cur instanceof Error && parts.length < 4) {
    parts.push(cur.message);
    cur = cur.cause;
  }
  return new ProviderError(`upstream stream failed: ${parts.join(': ') || String(err)}`, { cause: err, retryable: true });
}
