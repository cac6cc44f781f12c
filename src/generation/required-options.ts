// What a tool model needs before anything is held (docs/api.md): the catalog's `required_options`
// ("image_url", "a|b" for one of two, "prompt" for the prompt). A missing one is 400 naming it; an
// input URL that is neither https: nor a data: URL is 422 naming it. Checked on submission, so a
// request that cannot work never holds (or charges) anything.
import type { ModelEntry } from '../config/catalog.js';
import { badRequest, validationError } from '../core/errors.js';

/** The options a request carries (Style C, merged) and its prompt, if any. */
export interface ToolRequest {
  options: Record<string, unknown>;
  prompt: string | null;
}

/** `pathOf`: where the body has an option (optionPath: `params.image_url` where /api/v2's params gave it). */
export function enforceRequiredOptions(model: ModelEntry, req: ToolRequest, pathOf: (name: string) => string = (name) => name): void {
  for (const entry of model.required_options ?? []) {
    const names = entry.split('|');
    if (names.some((n) => given(req, n))) continue;
    const path = names[0]!;
    const what = names.length > 1 ? `one of ${names.join(', ')}` : path;
    throw badRequest(`model "${model.slug}" needs ${what}`, { fields: names.map((n) => ({ path: n, message: 'required' })), model: model.slug });
  }
  for (const name of (model.required_options ?? []).flatMap((e) => e.split('|'))) {
    const v = req.options[name];
    if (name.endsWith('_url') && typeof v === 'string' && !/^(https:\/\/|data:)/i.test(v)) {
      throw validationError([{ path: pathOf(name), message: 'must be an https:// URL or a data: URL' }]);
    }
  }
}

function given(req: ToolRequest, name: string): boolean {
  if (name === 'prompt') return typeof req.prompt === 'string' && req.prompt.trim() !== '';
  const v = req.options[name];
  if (typeof v === 'string') return v.trim() !== '';
  if (Array.isArray(v)) return v.length > 0;
  return v !== undefined && v !== null;
}
