// OpenAI-compatible Chat Completions upstreams: OpenAI, DeepSeek, xAI, OpenRouter, Ollama, vLLM,
// llama.cpp server. Always Chat Completions (the common denominator) and always
// stream_options.include_usage, so usage arrives in streams even where it is opt-in.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { aiSdkProvider } from './ai-sdk.js';
import type { ProviderConfig } from './config.js';
import type { Provider } from './types.js';

export function openAICompatibleProvider(id: string, cfg: ProviderConfig): Provider {
  const sdk = createOpenAICompatible({
    name: id,
    baseURL: cfg.base_url,
    apiKey: cfg.api_key,
    headers: cfg.headers,
    includeUsage: true,
  });
  return aiSdkProvider(id, (model) => sdk.chatModel(model));
}
