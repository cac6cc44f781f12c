// Documentation of the /api/v2 routes, attached by plugin.ts when each route is registered (so the
// route files stay translation-only). Keyed by "METHOD url" as Fastify registers them.
import { generateBodySchema } from '../generation/request.js';
import { bearer, components, docsOnly, errorResponses, fromZod, ref } from './schemas.js';
import { generateExamples } from './examples.js';

const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const generationResponse = json(ref('Generation'), 'The finished generation');
const sse = { type: 'string', description: 'Server-Sent Events: `data: <json>` per event (generation_start, content_delta…, generation_end or error), then `data: [DONE]`' };
const idParam = { type: 'object', properties: { id: { type: 'integer', description: 'generation id' } }, required: ['id'] };
const slugParam = { type: 'object', properties: { slug: { type: 'string' } }, required: ['slug'] };
const balance = { type: 'object', properties: { token_balance: { type: 'integer' }, plan: { type: 'string' }, plan_expires_at: { type: ['string', 'null'] } } };
const generateBody = { ...fromZod(generateBodySchema), examples: generateExamples };
const generateErrors = errorResponses([400, 401, 402, 403, 404, 413, 422, 429, 500, 503]);

export const apiV2Docs: Record<string, Record<string, unknown>> = {
  'POST /api/v2/generate': {
    summary: 'Run a generation',
    tags: ['generation'],
    security: bearer,
    description:
      'Accepts the three documented body styles (prompt + params, OpenAI-like messages, top-level category options). With `stream: true` the answer is the SSE stream of /api/v2/generate/stream. Media models (image, video, audio, tts, stt, tool) run as jobs: the answer is the generation when it ends within `wait` seconds (0–120; default 60, 0 for video and audio), else `pending` (poll GET /api/v2/generate/{id}).',
    body: generateBody,
    response: {
      200: { description: 'The finished generation, or an SSE stream when `stream: true`', content: { 'application/json': { schema: ref('Generation') }, 'text/event-stream': { schema: sse } } },
      ...generateErrors,
    },
  },
  'POST /api/v2/generate/stream': {
    summary: 'Run a generation, streamed as SSE',
    tags: ['generation'],
    security: bearer,
    body: generateBody,
    response: { 200: { description: 'SSE stream', content: { 'text/event-stream': { schema: sse } } }, ...generateErrors },
  },
  'GET /api/v2/generate/:id': {
    summary: 'A generation by id',
    tags: ['generation'],
    security: bearer,
    params: idParam,
    response: { 200: generationResponse, ...errorResponses([401, 404]) },
  },
  'GET /api/v2/generate/status/:id': {
    summary: 'A generation by id (status alias)',
    tags: ['generation'],
    security: bearer,
    params: idParam,
    response: { 200: generationResponse, ...errorResponses([401, 404]) },
  },
  'POST /api/v2/generate/:id/cancel': {
    summary: 'Cancel a pending media job',
    tags: ['generation'],
    security: bearer,
    params: idParam,
    description: 'The generation becomes `failed` with error `cancelled` and its hold is released; the provider job is cancelled where the provider can. 400 when it is not a pending media job.',
    response: { 200: generationResponse, ...errorResponses([400, 401, 404]) },
  },
  'GET /api/v2/models': {
    summary: 'The model catalog (public)',
    tags: ['models'],
    querystring: { type: 'object', properties: { category: { type: 'string' } } },
    response: { 200: json({ type: 'object', properties: { models: { type: 'array', items: ref('Model') }, total: { type: 'integer' } } }, 'Models') },
  },
  'GET /api/v2/models/:slug': {
    summary: 'One model (public)',
    tags: ['models'],
    params: slugParam,
    response: { 200: json(ref('Model'), 'The model'), ...errorResponses([404]) },
  },
  'POST /api/v2/models/:slug/calculate-price': {
    summary: 'Price of a request',
    tags: ['models'],
    params: slugParam,
    body: { type: 'object', properties: { params: { type: 'object', additionalProperties: true }, count: { type: 'integer', minimum: 1, maximum: 100 } } },
    response: {
      200: json(
        {
          type: 'object',
          properties: { token_cost: { type: 'integer' }, min_token_cost: { type: 'integer' }, max_token_cost: { type: 'integer' }, pricing_type: { type: 'string' }, count: { type: 'integer' } },
        },
        'Price',
      ),
      ...errorResponses([404, 422]),
    },
  },
  'GET /api/v2/balance': {
    summary: 'Token balance',
    tags: ['account'],
    security: bearer,
    response: { 200: json(balance, 'Balance'), ...errorResponses([401]) },
  },
  'GET /api/v2/user/balance': {
    summary: 'Token balance with the plan/bonus split',
    tags: ['account'],
    security: bearer,
    response: {
      200: json(
        {
          type: 'object',
          additionalProperties: true,
          properties: { ...balance.properties, plan_tokens_remaining: { type: 'integer' }, bonus_tokens: { type: 'integer' }, next_refill_at: { type: ['string', 'null'] } },
        },
        'Balance',
      ),
      ...errorResponses([401]),
    },
  },
  'GET /api/v2/user/webhook-secret': {
    summary: 'The webhook secret: whether it exists, and its prefix',
    tags: ['account'],
    security: bearer,
    description: 'Deliveries to `callback_url` are signed with this secret (docs/api.md, "Webhooks"). The whole secret is shown only by POST.',
    response: {
      200: json({ type: 'object', properties: { exists: { type: 'boolean' }, prefix: { type: ['string', 'null'] }, created_at: { type: ['string', 'null'] } } }, 'Secret metadata'),
      ...errorResponses([401]),
    },
  },
  'POST /api/v2/user/webhook-secret': {
    summary: 'Create or rotate the webhook secret',
    tags: ['account'],
    security: bearer,
    description: 'The answer is the only place the whole secret appears; the previous secret stops signing at once (retries included).',
    response: { 201: json({ type: 'object', properties: { secret: { type: 'string' }, prefix: { type: 'string' }, created_at: { type: 'string' } } }, 'The new secret'), ...errorResponses([401]) },
  },
};

/** The documentation of a route, if this table has it. */
export function apiV2Doc(method: string | string[], url: string): Record<string, unknown> | undefined {
  const m = Array.isArray(method) ? method[0] : method;
  const doc = apiV2Docs[`${m} ${url}`];
  return doc ? docsOnly({ ...doc }) : undefined;
}

export { components };
