// The local provider as the registry builds it: node-llama-cpp (about 40 MB of memory and half a
// second to import) is loaded only when a local model is first used, so a gateway in front of cloud
// providers does not pay for it.
import type { Provider } from '../spec.js';
import { modelsDirFrom, resolveLocalModelPath } from './model-files.js';
import type { LocalProvider, LocalProviderConfig } from './provider.js';
import { refusedByLocal } from './request-plan.js';

export function createLazyLocalProvider(id: string, config: LocalProviderConfig = {}, env: NodeJS.ProcessEnv = process.env): LocalProvider {
  let instance: LocalProvider | undefined;
  let loading: Promise<LocalProvider> | undefined;
  const load = () => (loading ??= import('./provider.js').then((m) => (instance = m.createLocalProvider(id, config, env))));
  const modelsDir = modelsDirFrom(config.models_dir, env);
  const lazy: LocalProvider & Provider = {
    id,
    open: async (req) => (await load()).open(req),
    // Checked without node-llama-cpp (request-plan imports only its types), before anything is held.
    refuse: refusedByLocal,
    isReady: (upstreamModel) =>
      resolveLocalModelPath(upstreamModel, modelsDir).then(
        () => true,
        () => false,
      ),
    preload: async (upstreamModel) => (await load()).preload(upstreamModel),
    poolState: (upstreamModel) => instance?.poolState(upstreamModel),
    close: async () => {
      if (loading) await (await loading).close?.();
    },
  };
  return lazy;
}
