// Model discovery for OpenAI-compatible local servers (Ollama, vLLM): their models appear as
// "<provider>/<name>" without a hand-written catalog entry. A provider takes part when its catalog
// entry has `discover: { price, min_plan, interval_ms }` (the presets of ollama and vllm do) and it
// is configured (OLLAMA_BASE_URL, VLLM_BASE_URL). Hand-written models with the same slug win
// (Catalog.setDiscovered). An unreachable upstream is a warning, never a start-up failure: its last
// known models stay listed, and the next interval tries again.
import type { Logger } from 'pino';
import { SLUG, type Catalog, type ModelEntry } from '../config/catalog.js';
import { resolveProviderConfig, type CatalogProvider } from './registry.js';
import { bounded, JSON_LIMIT } from './body-limit.js';

export interface DiscoverSettings {
  price: number;
  min_plan: 'free' | 'basic';
  interval_ms: number;
}

export interface DiscoveryTarget {
  provider: string;
  /** The provider's resolved base URL (env over catalog), e.g. http://127.0.0.1:11434/v1. */
  baseUrl: string;
  headers: Record<string, string>;
  settings: DiscoverSettings;
}

export interface Discovery {
  /** Lists every target's models now and updates the catalog (what the interval does). */
  refresh(): Promise<void>;
  close(): void;
}

// A local server answers its model list in milliseconds; this only bounds a black-holed address.
const LIST_TIMEOUT_MS = 5_000;

/** Providers with `discover` settings that are configured in this environment. */
export function discoveryTargets(providers: Record<string, CatalogProvider>, env: NodeJS.ProcessEnv): DiscoveryTarget[] {
  const targets: DiscoveryTarget[] = [];
  for (const [provider, entry] of Object.entries(providers)) {
    const settings = entry.discover as DiscoverSettings | false | undefined;
    if (!settings) continue;
    const resolved = resolveProviderConfig(provider, entry, env);
    if (!resolved.ok || !resolved.config.base_url) continue;
    const { base_url, api_key, headers } = resolved.config;
    targets.push({ provider, baseUrl: base_url, headers: { ...headers, ...(api_key ? { authorization: `Bearer ${api_key}` } : {}) }, settings });
  }
  return targets;
}

/** The upstream's model ids: GET <base_url>/models, the OpenAI list shape both Ollama and vLLM answer. */
export async function listUpstreamModels(t: DiscoveryTarget, signal?: AbortSignal): Promise<string[]> {
  const timeout = AbortSignal.timeout(LIST_TIMEOUT_MS);
  const res = await fetch(`${t.baseUrl.replace(/\/+$/, '')}/models`, { headers: t.headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET /models answered ${res.status}`);
  }
  // Bounded as every answer read whole (body-limit.ts): a list of models is a few KB.
  const chunks: Uint8Array[] = [];
  if (res.body) for await (const chunk of bounded(res.body, JSON_LIMIT)) chunks.push(chunk);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { id?: unknown }[] };
  if (!Array.isArray(body.data)) throw new Error('GET /models answered no "data" list');
  return body.data.map((m) => m.id).filter((id): id is string => typeof id === 'string' && id !== '');
}

/** The catalog entry of a discovered model: a streaming text model at the operator's flat price. */
export function discoveredModel(provider: string, name: string, s: DiscoverSettings): ModelEntry {
  return {
    slug: `${provider}/${name}`,
    name,
    category: 'text',
    provider,
    min_plan: s.min_plan,
    pricing_type: 'fixed',
    token_cost: s.price,
    min_token_cost: s.price,
    max_token_cost: s.price,
    supports_streaming: true,
    description_en: `Discovered on the ${provider} server.`,
    routes: [{ provider, model: name }],
    input_modalities: ['text'],
  };
}

export function startDiscovery(opts: { catalog: Catalog; env: NodeJS.ProcessEnv; logger: Logger }): Discovery {
  const { catalog, logger } = opts;
  const targets = discoveryTargets(catalog.providers, opts.env);
  const found = new Map<string, ModelEntry[]>();
  const inFlight = new Map<string, Promise<void>>();
  const stop = new AbortController();

  const listOne = async (t: DiscoveryTarget) => {
    try {
      const names = await listUpstreamModels(t, stop.signal);
      const models = names.filter((n) => SLUG.test(`${t.provider}/${n}`)).map((n) => discoveredModel(t.provider, n, t.settings));
      const before = (found.get(t.provider) ?? []).map((m) => m.slug).join();
      found.set(t.provider, models);
      if (models.map((m) => m.slug).join() !== before) logger.info({ provider: t.provider, models: models.map((m) => m.slug) }, 'discovered models');
    } catch (err) {
      if (stop.signal.aborted) return;
      logger.warn({ provider: t.provider, url: t.baseUrl, err: (err as Error).message }, `model discovery failed: retrying in ${t.settings.interval_ms} ms`);
    }
  };
  // One listing per provider at a time: a slow upstream cannot pile up requests.
  const refreshOne = (t: DiscoveryTarget) => {
    let p = inFlight.get(t.provider);
    if (!p) {
      p = listOne(t).finally(() => inFlight.delete(t.provider));
      inFlight.set(t.provider, p);
    }
    return p.then(() => catalog.setDiscovered([...found.values()].flat()));
  };

  const timers = targets.map((t) => {
    const timer = setInterval(() => void refreshOne(t), t.settings.interval_ms);
    timer.unref();
    return timer;
  });
  return {
    refresh: async () => {
      await Promise.all(targets.map(refreshOne));
    },
    close() {
      for (const timer of timers) clearInterval(timer);
      stop.abort();
    },
  };
}
