// Adapter from an AI SDK LanguageModelV3 (the maintained provider packages: openai-compatible,
// anthropic, google) to our Provider interface. We call doStream directly: the model packages own
// the wire protocol, we skip streamText's extra per-chunk machinery on the hot path.
import type { LanguageModelV3, LanguageModelV3StreamPart, LanguageModelV3Usage } from '@ai-sdk/provider';
import { ProviderError, type Provider, type ProviderEvent, type ProviderRequest, type ProviderStream, type ProviderUsage } from './types.js';

export function aiSdkProvider(id: string, modelFor: (upstreamModel: string) => LanguageModelV3): Provider {
  return {
    id,
    async open(req: ProviderRequest): Promise<ProviderStream> {
      const model = modelFor(req.upstreamModel);
      let result;
      try {
        result = await model.doStream({
          prompt: req.messages.map((m) =>
            m.role === 'system'
              ? { role: 'system', content: m.content }
              : { role: m.role, content: [{ type: 'text', text: m.content }] },
          ),
          temperature: req.temperature,
          maxOutputTokens: req.maxTokens,
          abortSignal: req.signal,
          includeRawChunks: false,
        });
      } catch (err) {
        throw toProviderError(err, req.signal);
      }
      return { events: translate(result.stream, req.signal) };
    },
  };
}

async function* translate(stream: ReadableStream<LanguageModelV3StreamPart>, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
  const reader = stream.getReader();
  try {
    for (;;) {
      let next;
      try {
        next = await reader.read();
      } catch (err) {
        throw toProviderError(err, signal);
      }
      if (next.done) break;
      const part = next.value;
      switch (part.type) {
        case 'text-delta':
          if (part.delta.length > 0) yield { type: 'delta', text: part.delta };
          break;
        case 'error':
          throw toProviderError(part.error, signal);
        case 'finish':
          // The SDK reports a dropped connection or an unparsable stream as finishReason "error"
          // or "other" with no usage; only a real end of message counts as finished. Gemini has no
          // terminal event: a stream cut before the chunk carrying finishReason still gets a
          // synthetic finish from the SDK, recognisable by its missing raw reason.
          if (part.finishReason.unified === 'error') throw new ProviderError('upstream stream ended with an error');
          if (part.finishReason.raw === undefined) throw new ProviderError('upstream stream ended without a finish reason');
          yield { type: 'finish', finishReason: part.finishReason.unified, usage: usageOf(part.usage) };
          return;
        default:
          break;
      }
    }
    if (signal.aborted) throw toProviderError(signal.reason, signal);
    throw new ProviderError('upstream stream ended without a finish event');
  } finally {
    reader.cancel().catch(() => {});
  }
}

function usageOf(u: LanguageModelV3Usage): ProviderUsage | null {
  const input = u.inputTokens.total ?? null;
  const output = u.outputTokens.total ?? null;
  if (input === null && output === null) return null;
  return { input_tokens: input, output_tokens: output, total_tokens: input !== null && output !== null ? input + output : null };
}

/** Maps the SDK's APICallError / network errors to ProviderError; aborts pass through unchanged. */
export function toProviderError(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? err;
  if (err instanceof ProviderError) return err;
  const e = err as { statusCode?: number; message?: string; isRetryable?: boolean; data?: unknown } | undefined;
  // The SDK reports a connection dropped mid-body as an APICallError carrying the 200 of the
  // accepted response; that is a network failure (no error status, retryable), not a refusal.
  const status = typeof e?.statusCode === 'number' && e.statusCode >= 400 ? e.statusCode : undefined;
  const message = status === undefined && e?.statusCode !== undefined ? `upstream stream failed: ${causeChain(err)}` : describe(err);
  return new ProviderError(message, { status, cause: err, retryable: status === undefined ? true : status === 429 || status >= 500 });
}

function describe(err: unknown): string {
  if (err && typeof err === 'object') {
    const data = (err as { data?: { error?: { message?: string } } }).data;
    if (data?.error?.message) return data.error.message;
    const msg = (err as { message?: unknown }).message;
    if (typeof msg === 'string' && msg) return msg;
  }
  if (typeof err === 'string') return err;
  return 'upstream provider failed';
}

/** "terminated: other side closed" from an error's nested causes. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  let cur = (err as { cause?: unknown } | undefined)?.cause;
  while (cur instanceof Error && parts.length < 4) {
    parts.push(cur.message);
    cur = cur.cause;
  }
  return parts.join(': ') || describe(err);
}
