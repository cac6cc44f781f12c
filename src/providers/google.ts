// Google Gemini API (POST {base_url}/models/{model}:streamGenerateContent?alt=sse, x-goog-api-key auth).
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { aiSdkProvider } from './ai-sdk.js';
import type { ProviderConfig } from './config.js';
import type { Provider } from './spec.js';

export function googleProvider(id: string, cfg: ProviderConfig): Provider {
  const sdk = createGoogleGenerativeAI({ baseURL: cfg.base_url, apiKey: cfg.api_key, headers: cfg.headers });
  return aiSdkProvider(id, (model) => sdk.chat(model));
}
