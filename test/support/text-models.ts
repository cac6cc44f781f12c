// Catalog entries for tests of the chat format: OpenAI-routed text models with chosen input
// modalities and capability flags, merged over the shipped catalog with the harness `catalog` option.
import type { ModelEntry } from '../../src/config/catalog.js';

type Extra = Partial<Pick<ModelEntry, 'input_modalities' | 'capabilities' | 'supports_tools' | 'routes'>>;

/** A 1-token text model on the fake OpenAI upstream (upstream model id = slug). */
export function openAITextModel(slug: string, extra: Extra = {}): Record<string, unknown> {
  return {
    slug,
    name: slug,
    category: 'text',
    provider: 'OpenAI',
    min_plan: 'free',
    pricing_type: 'fixed',
    token_cost: 1,
    min_token_cost: 1,
    max_token_cost: 1,
    supports_streaming: true,
    routes: [{ provider: 'openai', model: slug }],
    ...extra,
  };
}

/** The models these tests use: no quirks with every input part, text only, and a reasoning model's quirks. */
export const testCatalog = {
  models: [
    openAITextModel('plain-4o', { input_modalities: ['text', 'image', 'file', 'audio'] }),
    openAITextModel('text-only'),
    openAITextModel('reasoner-o', { capabilities: { max_completion_tokens: true, fixed_temperature: 1, no_sampling: true } }),
  ],
};
