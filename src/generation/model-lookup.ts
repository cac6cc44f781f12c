// A requested model name -> the catalog model. Besides catalog slugs, `provider/upstream-model`
// (what OpenAI-style clients send, e.g. `openai/gpt-4o-mini`) names the model routed there. An
// unknown name is a 404 that suggests the closest slugs and points to the model list.
import type { Catalog, ModelEntry } from '../config/catalog.js';
import { GatewayError, clip } from '../core/errors.js';

export function findModel(catalog: Catalog, name: string): ModelEntry {
  const model = catalog.get(name) ?? byUpstreamRoute(catalog, name);
  if (model) return model;
  // Suggestions cost an edit distance per slug: only for names of a plausible length (a client may send megabytes).
  const close =
    name.length <= 100
      ? closestSlugs(
          catalog.models.map((m) => m.slug),
          name,
        )
      : [];
  const hint = close.length ? `did you mean ${close.map((s) => `"${s}"`).join(', ')}? ` : '';
  throw new GatewayError('not_found', `model "${clip(name)}" not found; ${hint}GET /api/v2/models (or /v1/models) lists the models`, { model: clip(name), suggestions: close });
}

function byUpstreamRoute(catalog: Catalog, name: string): ModelEntry | undefined {
  const slash = name.indexOf('/');
  if (slash <= 0) return undefined;
  const provider = name.slice(0, slash);
  const upstream = name.slice(slash + 1);
  return catalog.models.find((m) => m.routes.some((r) => r.provider === provider && r.model === upstream));
}

/** Up to 3 slugs within an edit distance of a third of the name (at least 2), nearest first. */
export function closestSlugs(slugs: string[], name: string, max = 3): string[] {
  const target = name.toLowerCase();
  const limit = Math.max(2, Math.floor(target.length / 3));
  return slugs
    .map((slug) => ({ slug, d: editDistance(slug.toLowerCase(), target) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || a.slug.localeCompare(b.slug))
    .slice(0, max)
    .map((x) => x.slug);
}

/** Levenshtein distance, one row at a time. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}
