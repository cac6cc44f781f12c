// The model catalog over HTTP. Public: browsing models needs no key (like OpenRouter's /models).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ModelEntry } from '../../config/catalog.js';
import { GatewayError } from '../../core/errors.js';
import { zodToApiError } from '../../generation/request.js';

export const priceBody = z.object({ params: z.record(z.string(), z.unknown()).optional(), count: z.number().int().min(1).max(100).optional() }).optional();

export async function modelRoutes(app: FastifyInstance): Promise<void> {
  const { catalog, providers } = app.services;

  const view = (m: ModelEntry) => ({
    slug: m.slug, name: m.name, category: m.category, provider: m.provider, min_plan: m.min_plan,
    token_cost: m.token_cost, min_token_cost: m.min_token_cost, max_token_cost: m.max_token_cost,
    pricing_type: m.pricing_type, description_en: m.description_en, description_ru: m.description_ru ?? null,
    supports_streaming: m.supports_streaming, config: m.config ?? {},
    available: m.routes.some((r) => providers.get(r.provider) !== undefined),
  });

  const find = (slug: string) => {
    const m = catalog.get(slug);
    if (!m) throw new GatewayError('not_found', `model "${slug}" not found`, { model: slug });
    return m;
  };

  app.get<{ Querystring: { category?: string } }>('/api/v2/models', { config: { public: true } }, async (req) => {
    const category = req.query.category;
    const models = catalog.models.filter((m) => !category || m.category === category).map(view);
    return { models, total: models.length };
  });

  app.get<{ Params: { slug: string } }>('/api/v2/models/:slug', { config: { public: true } }, async (req) => view(find(req.params.slug)));

  app.post<{ Params: { slug: string } }>('/api/v2/models/:slug/calculate-price', { config: { public: true } }, async (req) => {
    const m = find(req.params.slug);
    const parsed = priceBody.safeParse(req.body ?? undefined, { reportInput: true });
    if (!parsed.success) throw zodToApiError(parsed.error);
    const count = parsed.data?.count ?? 1;
    // Only flat prices are implemented: every model charges token_cost per request, times count.
    return { token_cost: m.token_cost * count, min_token_cost: m.min_token_cost, max_token_cost: m.max_token_cost, pricing_type: m.pricing_type, count };
  });
}
