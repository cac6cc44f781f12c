/** A provider's connection settings, already resolved from the catalog and the environment. */
export interface ProviderConfig {
  type: string;
  base_url: string;
  api_key?: string;
  headers?: Record<string, string>;
  /** The catalog entry's other settings (e.g. the local provider's threads, sequences). */
  options?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}
