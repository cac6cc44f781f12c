// OpenAI-compatible Chat Completions upstreams: OpenAI, DeepSeek, xAI, OpenRouter, Ollama, vLLM,
// llama.cpp server. Always Chat Completions (the common denominator) and always
// stream_options.include_usage, so usage arrives in streams even where it is opt-in.
// Served by the lean streaming client (openai-chat-stream.ts), not the AI SDK model: the SDK's
// per-chunk zod validation was the largest library cost in the server's profile (BENCHMARKS.md).
import { openAIChatStreamProvider } from './openai-chat-stream.js';
import type { ProviderConfig } from './config.js';
import type { Provider } from './types.js';

export function openAICompatibleProvider(id: string, cfg: ProviderConfig): Provider {
  return openAIChatStreamProvider(id, cfg);
}
