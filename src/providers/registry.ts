// Provider type -> module. Adding a provider: one module plus one line here, and catalog entries.
import type { ProviderEntry } from '../config/catalog.js';
import { createOpenAICompatibleProvider } from './openai-compatible.js';
import type { Provider } from './types.js';

export interface ProviderConfig {
  type: string;
  base_url: string;
  api_key?: string;
  headers?: Record<string, string>;
}

type Factory = (id: string, cfg: ProviderConfig) => Provider;

const factories: Record<string, Factory> = {
  'openai-compatible': createOpenAICompatibleProvider,
};

export interface ProviderSet {
  get(id: string): Provider | undefined;
  /** Why a provider is not available, naming the env var that would enable it. */
  unavailableReason(id: string): string;
  close(): Promise<void>;
}

export const envPrefix = (id: string): string => id.toUpperCase().replace(/[^A-Z0-9]/g, '_');

export function buildProviders(entries: Record<string, ProviderEntry>, env: NodeJS.ProcessEnv): ProviderSet {
  const built = new Map<string, Provider>();
  const reasons = new Map<string, string>();
  for (const [id, entry] of Object.entries(entries)) {
    const prefix = envPrefix(id);
    const apiKey = env[`${prefix}_API_KEY`] || (entry.api_key as string | undefined);
    const explicitUrl = env[`${prefix}_BASE_URL`];
    const baseUrl = explicitUrl || entry.base_url;
    const factory = factories[entry.type];
    if (!factory) { reasons.set(id, `provider type "${entry.type}" is not supported`); continue; }
    if (entry.api_key_required ? !apiKey : !explicitUrl && !apiKey) {
      reasons.set(id, entry.api_key_required ? `set ${prefix}_API_KEY` : `set ${prefix}_BASE_URL`);
      continue;
    }
    if (!baseUrl) { reasons.set(id, `set ${prefix}_BASE_URL`); continue; }
    built.set(id, factory(id, { type: entry.type, base_url: baseUrl, api_key: apiKey, headers: entry.headers as Record<string, string> | undefined }));
  }
  return {
    get: (id) => built.get(id),
    unavailableReason: (id) => reasons.get(id) ?? `provider "${id}" is not configured`,
    close: async () => { await Promise.all([...built.values()].map((p) => p.close?.())); },
  };
}
