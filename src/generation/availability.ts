// Whether a catalog model can serve a request now, and if not why, in words a client may see
// (never a server path): the one answer behind `available` / `unavailable_reason` in every listing.
import path from 'node:path';
import type { Caller } from '../accounts/keys.js';
import type { Catalog, ModelEntry } from '../config/catalog.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { planRefusal } from './lifecycle.js';

export interface Availability {
  available: boolean;
  /** Null when available. */
  unavailable_reason: string | null;
}

export interface AvailabilityDeps {
  catalog: Catalog;
  providers: ProviderRegistry;
}

/** The caller's plan (when the caller is known), a configured provider, then a ready route (local file present). */
export async function modelAvailability(deps: AvailabilityDeps, model: ModelEntry, caller?: Caller): Promise<Availability> {
  const refused = caller && planRefusal(deps.catalog, caller.account.plan, model);
  if (refused) return no(refused.message);
  const configured = model.routes.filter((r) => deps.providers.get(r.provider));
  if (configured.length === 0) {
    const enable = [...new Set(model.routes.map((r) => deps.providers.unavailableReason(r.provider)))];
    return no(model.unavailable_reason ?? (enable.length ? `no provider configured: the operator must ${enable.join(' or ')}` : `no provider for ${model.category} models is configured`));
  }
  for (const r of configured) {
    const p = deps.providers.get(r.provider)!;
    if (!p.isReady || (await p.isReady(r.model))) return { available: true, unavailable_reason: null };
  }
  const files = configured.map((r) => path.basename(r.model)).join(' or ');
  return no(`model file ${files} is missing: the operator must run \`lumengate models pull\` or copy the GGUF file into LUMENGATE_MODELS_DIR`);
}

const no = (reason: string): Availability => ({ available: false, unavailable_reason: reason });
