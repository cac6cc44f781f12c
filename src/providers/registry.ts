// Provider type -> factory, and each catalog provider's config resolved against the environment:
// <ID>_API_KEY and <ID>_BASE_URL (id upper-cased, non-alphanumerics -> "_") override the catalog.
import type { ProviderConfig } from './config.js';
import { elevenLabsMedia } from './elevenlabs.js';
import { googleMedia } from './google-media.js';
import { localTtsProvider } from './local-tts.js';
import { lumaMedia } from './luma.js';
import { mediaOnlyProvider, withMedia } from './media-http.js';
import { openAICompatibleProvider } from './openai-compatible.js';
import { openAIMedia } from './openai-media.js';
import { createLazyLocalProvider } from './local/lazy.js';
import { replicateProvider } from './replicate.js';
import type { CatalogProvider } from './presets.js';
import type { Provider } from './spec.js';

export type { ProviderConfig } from './config.js';
export { providerPresets, type CatalogProvider } from './presets.js';

export type ProviderFactory = (id: string, cfg: ProviderConfig) => Provider;

export const defaultProviderFactories: Record<string, ProviderFactory> = {
  'openai-compatible': openAICompatibleProvider,
  // OpenAI itself: Chat Completions plus its image, speech and transcription endpoints.
  openai: (id, cfg) => withMedia(openAICompatibleProvider(id, cfg), openAIMedia(cfg)),
  // Loaded when first used: each AI SDK provider package costs ~18 MB of memory.
  anthropic: (id, cfg) => lazyProvider(id, async () => (await import('./anthropic.js')).anthropicProvider(id, cfg), { keepsToolCallState: true }),
  // Gemini text through the AI SDK (lazy), Imagen and Veo over plain HTTP beside it.
  google: (id, cfg) =>
    withMedia(
      lazyProvider(id, async () => (await import('./google.js')).googleProvider(id, cfg), { keepsToolCallState: true }),
      googleMedia(cfg),
    ),
  local: (id, cfg) => createLazyLocalProvider(id, cfg.options, cfg.env),
  // Media-only providers (media-http.ts, undici; local-tts loads eSpeak in a worker on first use).
  luma: (id, cfg) => mediaOnlyProvider(id, lumaMedia(cfg)),
  elevenlabs: (id, cfg) => mediaOnlyProvider(id, elevenLabsMedia(cfg)),
  'local-tts': localTtsProvider,
  replicate: (id, cfg) => replicateProvider(id, cfg),
};

export interface ProviderRegistry {
  /** The provider, or undefined when it is unknown or not configured. */
  get(id: string): Provider | undefined;
  /** Why get(id) is undefined, e.g. "set OPENAI_API_KEY"; empty when the provider is available. */
  unavailableReason(id: string): string;
  /** Ids of the available providers. */
  ids(): string[];
  closeAll(): Promise<void>;
}

/** "openai" -> "OPENAI", "my-vllm.2" -> "MY_VLLM_2". */
export function envPrefix(id: string): string {
  return id.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export type Resolution = { ok: true; config: ProviderConfig } | { ok: false; reason: string };

export function resolveProviderConfig(id: string, entry: CatalogProvider, env: NodeJS.ProcessEnv): Resolution {
  const prefix = envPrefix(id);
  const keyVar = `${prefix}_API_KEY`;
  const urlVar = `${prefix}_BASE_URL`;
  const envUrl = nonEmpty(env[urlVar]);
  const apiKey = nonEmpty(env[keyVar]) ?? entry.api_key_env?.map((v) => nonEmpty(env[v])).find((v) => v !== undefined) ?? nonEmpty(entry.api_key);
  const keyRequired = entry.api_key_required !== false;
  if (entry.enabled_without_env) return { ok: true, config: { type: entry.type, base_url: entry.base_url, options: settingsOf(entry), env } };
  if (keyRequired && apiKey === undefined) return { ok: false, reason: `set ${keyVar}` };
  // Local servers have no key; a default 127.0.0.1 URL alone must not make them look available.
  if (!keyRequired && apiKey === undefined && envUrl === undefined) return { ok: false, reason: `set ${urlVar}` };
  const config: ProviderConfig = { type: entry.type, base_url: envUrl ?? entry.base_url };
  if (apiKey !== undefined) config.api_key = apiKey;
  if (entry.headers) config.headers = { ...entry.headers };
  return { ok: true, config };
}

export function buildProviders(catalogProviders: Record<string, CatalogProvider>, env: NodeJS.ProcessEnv, factories: Record<string, ProviderFactory> = defaultProviderFactories): ProviderRegistry {
  const providers = new Map<string, Provider>();
  const reasons = new Map<string, string>();
  for (const [id, entry] of Object.entries(catalogProviders)) {
    const factory = factories[entry.type];
    if (!factory) {
      reasons.set(id, `unknown provider type "${entry.type}"`);
      continue;
    }
    const resolved = resolveProviderConfig(id, entry, env);
    if (resolved.ok) providers.set(id, factory(id, resolved.config));
    else reasons.set(id, resolved.reason);
  }
  return {
    get: (id) => providers.get(id),
    unavailableReason: (id) => (providers.has(id) ? '' : (reasons.get(id) ?? `unknown provider "${id}"`)),
    ids: () => [...providers.keys()],
    async closeAll() {
      await Promise.all([...providers.values()].map((p) => p.close?.() ?? Promise.resolve()));
    },
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Everything in a catalog provider entry that is not connection config. */
function settingsOf(entry: CatalogProvider): Record<string, unknown> {
  const { type: _t, base_url: _b, api_key: _k, api_key_required: _r, headers: _h, enabled_without_env: _e, api_key_env: _a, ...rest } = entry;
  return rest;
}

/** A provider whose module is imported on its first request; `known`: what the lifecycle reads of it before that. */
function lazyProvider(id: string, load: () => Promise<Provider>, known: Pick<Provider, 'keepsToolCallState'> = {}): Provider {
  let real: Promise<Provider> | undefined;
  return {
    id,
    ...known,
    open: async (req) => (await (real ??= load())).open(req),
    refuse: async (req) => (await (real ??= load())).refuse?.(req),
    close: async () => {
      if (real) await (await real).close?.();
    },
  };
}
