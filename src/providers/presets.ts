// The shipped provider presets, apart from the providers' code: the catalog reads them without
// loading every provider's client (the CLI's account commands need the catalog, not the clients).
import presetsJson from './presets.json' with { type: 'json' };

/** A provider entry of the catalog (shipped presets or the operator's file). */
export interface CatalogProvider {
  type: string;
  base_url: string;
  /** Usually absent: keys belong in the environment. */
  api_key?: string;
  /** False for local servers (ollama, vllm) that take no key; they count as configured once <ID>_BASE_URL is set. */
  api_key_required?: boolean;
  headers?: Record<string, string>;
  /** True for providers that need no key or URL at all (in-process local models). */
  enabled_without_env?: boolean;
  /** Other variables that may hold the key, after <ID>_API_KEY (Replicate's own REPLICATE_API_TOKEN). */
  api_key_env?: string[];
  [setting: string]: unknown;
}

/** Shipped provider presets; the catalog may add to or override them. */
export const providerPresets: Record<string, CatalogProvider> = presetsJson;
