// The model catalog over HTTP. Public: browsing models needs no key (like OpenRouter's /models).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Caller } from '../../accounts/keys.js';
import type { ModelEntry } from '../../config/catalog.js';
import { modelAvailability } from '../../generation/availability.js';
import { findModel } from '../../generation/model-lookup.js';
import { zodToApiError } from '../../generation/request.js';
import { priceOf } from '../../generation/pricing.js';
import { safeParseReporting } from '../../core/zod-parse.js';

// Options may come in `params` or at the top level (Style C), as on /api/v2/generate; params wins.
export const priceBody = z.looseObject({ params: z.record(z.string(), z.unknown()).optional(), count: z.number().int().min(1).max(100).optional() }).optional();

export async function modelRoutes(app: FastifyInstance): Promise<void> {
  const { catalog, providers } = app.services;

  const view = async (m: ModelEntry, caller?: Caller) => ({
    slug: m.slug,
    name: m.name,
    category: m.category,
    provider: m.provider,
    min_plan: m.min_plan,
    token_cost: m.token_cost,
    min_token_cost: m.min_token_cost,
    max_token_cost: m.max_token_cost,
    pricing_type: m.pricing_type,
    description_en: m.description_en,
    description_ru: m.description_ru ?? null,
    supports_streaming: m.supports_streaming,
    // What a tool request must carry (docs/api.md), so a client can build one from the listing.
    config: { ...m.config, ...(m.required_options ? { required_options: m.required_options } : {}), ...(m.prompt_optional ? { prompt_optional: true } : {}) },
    // Why a model is not offered, for this caller when a key was sent (its plan counts too).
    ...(await modelAvailability({ catalog, providers }, m, caller)),
  });
  // Public routes: a key is optional, but a bad one is still refused.
  const callerOf = (req: FastifyRequest) => (req.headers.authorization ? app.authenticate(req) : undefined);
  const find = (slug: string) => findModel(catalog, slug);

  app.get<{ Querystring: { category?: string } }>('/api/v2/models', { config: { public: true } }, async (req) => {
    const category = req.query.category;
    const caller = await callerOf(req);
    const models = await Promise.all(catalog.models.filter((m) => !category || m.category === category).map((m) => view(m, caller)));
    return { models, total: models.length };
  });

  app.get<{ Params: { slug: string } }>('/api/v2/models/:slug', { config: { public: true } }, async (req) => view(find(req.params.slug), await callerOf(req)));

  app.post<{ Params: { slug: string } }>('/api/v2/models/:slug/calculate-price', { config: { public: true } }, async (req) => {
    const m = find(req.params.slug);
    const parsed = safeParseReporting(priceBody, req.body ?? undefined);
    if (!parsed.success) throw zodToApiError(parsed.error);
    const { params, count = 1, ...topLevel } = parsed.data ?? {};
    // The same function prices the hold (docs/api.md): a quote is what a generation holds.
    const price = priceOf(m, { ...topLevel, ...params });
    return { token_cost: price * count, min_token_cost: m.min_token_cost, max_token_cost: m.max_token_cost, pricing_type: m.pricing_type, count };
  });
}
