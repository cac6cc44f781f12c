// The model catalog: the shipped config/catalog.json with the operator's file merged over it,
// validated once at start-up so a typo fails loudly instead of at the first request.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { packageRoot } from './env.js';
import { providerPresets } from '../providers/presets.js';

export const PLANS = ['free', 'basic', 'pro', 'vip', 'elite'] as const;
export type PlanName = (typeof PLANS)[number];

const timeoutsSchema = z
  .object({
    first_token_ms: z.number().int().positive(),
    chunk_gap_ms: z.number().int().positive(),
    total_ms: z.number().int().positive(),
  })
  .partial();

/** Model slugs; "/" for discovered models ("ollama/llama3.2:3b") and the hand-written ones shadowing them. */
export const SLUG = /^[a-z0-9][a-z0-9._:/-]*$/i;

const routeSchema = z.object({ provider: z.string().min(1), model: z.string().min(1) });

const pricingSchema = z
  .object({
    /** matrix, per_point: the options whose values (joined by "|") key `table`. */
    by: z.array(z.string()).optional(),
    /** Values of `by` options the caller did not give. */
    defaults: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    /** matrix: tokens; per_point: points. */
    table: z.record(z.string(), z.number().nonnegative()).optional(),
    /** per_second: tokens per second; per_char: tokens per character; per_point: tokens per point. */
    rate: z.number().nonnegative().optional(),
    /** per_second: the option holding seconds and its bounds. */
    seconds: z.object({ option: z.string().optional(), default: z.number().positive(), min: z.number().optional(), max: z.number().optional(), allowed: z.array(z.number()).optional() }).optional(),
  })
  .strict();

const modelSchema = z.object({
  slug: z.string().regex(SLUG, 'slug: letters, digits, . _ : - /'),
  name: z.string(),
  category: z.enum(['text', 'image', 'video', 'audio', 'tts', 'stt', 'tool', 'embedding']),
  provider: z.string().default(''),
  min_plan: z.enum(['free', 'basic']),
  pricing_type: z.enum(['fixed', 'matrix', 'per_second', 'per_point', 'per_char']),
  /** The price table of non-fixed pricing types (docs/api.md), read by src/generation/pricing.ts. */
  pricing: pricingSchema.optional(),
  token_cost: z.number().int().nonnegative(),
  min_token_cost: z.number().int().nonnegative(),
  max_token_cost: z.number().int().nonnegative(),
  supports_streaming: z.boolean(),
  description_en: z.string().default(''),
  description_ru: z.string().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  routes: z.array(routeSchema).default([]),
  /** Why no provider can serve the model (e.g. no public API): shown instead of naming an env var. */
  unavailable_reason: z.string().optional(),
  /** Media and tool models: options a request must carry ("a|b": one of them; "prompt": the prompt), refused by name before any hold (docs/api.md). */
  required_options: z.array(z.string().min(1)).optional(),
  /** Media and tool models that work without a prompt (an upscaler, a voice isolator). */
  prompt_optional: z.boolean().optional(),
  timeouts: timeoutsSchema.optional(),
  max_messages: z.number().int().positive().optional(),
  max_prompt_chars: z.number().int().positive().optional(),
  /** Content parts the model takes in messages (docs/api.md). */
  input_modalities: z.array(z.enum(['text', 'image', 'file', 'audio'])).default(['text']),
  /** False when the model cannot call tools: a request with tools is refused by name. */
  supports_tools: z.boolean().optional(),
  /** Upstream quirks the provider module applies (docs/api.md). */
  capabilities: z
    .object({
      /** Send max_completion_tokens instead of max_tokens (OpenAI gpt-5 and o-series). */
      max_completion_tokens: z.boolean().optional(),
      /** The only temperature the upstream accepts; any other is not sent. */
      fixed_temperature: z.number().optional(),
      /** The upstream refuses top_p and penalties: they are not sent. */
      no_sampling: z.boolean().optional(),
    })
    .strict()
    .optional(),
});

const providerSchema = z
  .object({
    type: z.string().min(1),
    base_url: z.string().default(''),
    api_key_required: z.boolean().optional(),
    enabled_without_env: z.boolean().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    /** List the upstream's models (GET <base_url>/models) as "<provider>/<name>" (src/providers/discovery.ts); false = off. */
    discover: z
      .union([
        z.literal(false),
        z
          .object({
            /** Tokens per request of every discovered model. */
            price: z.number().int().nonnegative(),
            min_plan: z.enum(['free', 'basic']),
            interval_ms: z.number().int().positive().default(60_000),
          })
          .strict(),
      ])
      .optional(),
  })
  .passthrough();

const planSchema = z.object({
  requests_per_hour: z.number().int().positive().nullable(),
  requests_per_day: z.number().int().positive().nullable(),
  api_access: z.boolean().default(true),
  /** Days result files are kept (docs/api.md); null = unlimited. */
  retention_days: z.number().int().positive().nullable().default(null),
});

const catalogSchema = z.object({
  plans: z.record(z.enum(PLANS), planSchema),
  providers: z.record(z.string(), providerSchema),
  timeouts: z.object({ first_token_ms: z.number().int().positive(), chunk_gap_ms: z.number().int().positive(), total_ms: z.number().int().positive() }),
  // Attempts per route after the first try, on 429/5xx/network errors, with exponential backoff.
  retries: z
    .object({ attempts: z.number().int().nonnegative(), backoff_ms: z.number().int().nonnegative(), max_backoff_ms: z.number().int().positive().optional() })
    .default({ attempts: 2, backoff_ms: 200 }),
  // A route failing this many times in a row is skipped for cooldown_ms, then tried again.
  circuit_breaker: z.object({ failures: z.number().int().positive(), cooldown_ms: z.number().int().positive() }).default({ failures: 5, cooldown_ms: 30_000 }),
  models: z.array(modelSchema),
});

export type ModelEntry = z.infer<typeof modelSchema>;
export type ProviderEntry = z.infer<typeof providerSchema>;
export type PlanEntry = z.infer<typeof planSchema>;
export type Timeouts = { first_token_ms: number; chunk_gap_ms: number; total_ms: number };

export interface Catalog {
  plans: Record<PlanName, PlanEntry>;
  providers: Record<string, ProviderEntry>;
  retries: { attempts: number; backoff_ms: number; max_backoff_ms?: number };
  circuit_breaker: { failures: number; cooldown_ms: number };
  /** Hand-written models, then the discovered ones whose slug no hand-written model takes. */
  readonly models: ModelEntry[];
  get(slug: string): ModelEntry | undefined;
  /** Replaces the discovered layer (the only mutable part: the loaded catalog stays as validated). */
  setDiscovered(models: ModelEntry[]): void;
  timeoutsFor(model: ModelEntry): Timeouts;
}

type Json = Record<string, unknown>;

/** Loads the shipped catalog and merges `overrides` (parsed operator files or objects) over it. */
export function loadCatalog(configPath?: string, ...overrides: Json[]): Catalog {
  const shipped = { providers: providerPresets, ...(JSON.parse(readFileSync(join(packageRoot(), 'config', 'catalog.json'), 'utf8')) as Json) };
  const layers = [...(configPath ? [JSON.parse(readFileSync(configPath, 'utf8')) as Json] : []), ...overrides];
  const merged = layers.reduce(mergeCatalog, shipped);
  const parsed = catalogSchema.safeParse(merged);
  if (!parsed.success) {
    const where = configPath ? ` (after merging ${configPath})` : '';
    throw new Error(`invalid model catalog${where}: ${z.prettifyError(parsed.error)}`);
  }
  const data = parsed.data;
  for (const m of data.models) {
    for (const r of m.routes) {
      if (!data.providers[r.provider]) throw new Error(`invalid model catalog: model ${m.slug} routes to unknown provider "${r.provider}"`);
    }
  }
  const bySlug = new Map(data.models.map((m) => [m.slug, m]));
  const handWritten = [...bySlug.values()];
  // Swapped whole on each discovery, so a reader never sees half of an update.
  let discovered = { list: [] as ModelEntry[], bySlug: new Map<string, ModelEntry>() };
  return {
    plans: data.plans,
    providers: data.providers,
    retries: data.retries,
    circuit_breaker: data.circuit_breaker,
    get models() {
      return discovered.list.length ? [...handWritten, ...discovered.list] : handWritten;
    },
    get: (slug) => bySlug.get(slug) ?? discovered.bySlug.get(slug),
    setDiscovered(models) {
      const list = models.filter((m) => !bySlug.has(m.slug));
      discovered = { list, bySlug: new Map(list.map((m) => [m.slug, m])) };
    },
    timeoutsFor: (m) => ({ ...data.timeouts, ...m.timeouts }),
  };
}

/** Operator layer over base: plans/providers merge by key, models by slug (fields merge, routes replace). */
function mergeCatalog(base: Json, layer: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(layer)) {
    if (k === 'models' && Array.isArray(v)) {
      const models = new Map<string, Json>(((base.models as Json[]) ?? []).map((m) => [String(m.slug), m]));
      for (const m of v as Json[]) models.set(String(m.slug), { ...(models.get(String(m.slug)) ?? {}), ...m });
      out.models = [...models.values()];
    } else if ((k === 'plans' || k === 'providers' || k === 'timeouts' || k === 'retries' || k === 'circuit_breaker') && v && typeof v === 'object') {
      const b = (base[k] as Json) ?? {};
      const merged: Json = { ...b };
      for (const [name, entry] of Object.entries(v as Json)) {
        merged[name] = entry && typeof entry === 'object' && !Array.isArray(entry) ? { ...(b[name] ?? {}), ...(entry as Json) } : entry;
      }
      out[k] = merged;
    } else if (!k.startsWith('$')) {
      out[k] = v;
    }
  }
  return out;
}
