// Any OpenAI-compatible Chat Completions upstream: OpenAI, DeepSeek, xAI, OpenRouter, Ollama, vLLM,
// llama.cpp's server. includeUsage makes the SDK send stream_options.include_usage.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { aiSdkProvider } from './ai-sdk.js';
import type { Provider } from './types.js';
import type { ProviderConfig } from './registry.js';

export function createOpenAICompatibleProvider(id: string, cfg: ProviderConfig): Provider {
  const sdk = createOpenAICompatible({ name: id, baseURL: cfg.base_url, apiKey: cfg.api_key, headers: cfg.headers, includeUsage: true });
  return aiSdkProvider(id, (model) => sdk.chatModel(model));
}
