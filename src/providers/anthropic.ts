// Anthropic Messages API (POST {base_url}/messages, x-api-key auth).
import { createAnthropic } from '@ai-sdk/anthropic';
import { aiSdkProvider } from './ai-sdk.js';
import type { ProviderConfig } from './config.js';
import type { Provider } from './spec.js';

export function anthropicProvider(id: string, cfg: ProviderConfig): Provider {
  const sdk = createAnthropic({ baseURL: cfg.base_url, apiKey: cfg.api_key, headers: cfg.headers });
  return aiSdkProvider(id, (model) => sdk.messages(model));
}
