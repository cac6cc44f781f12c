// Documentation of the /api/v2 routes, attached by plugin.ts when each route is registered (so the
// route files stay translation-only). Keyed by "METHOD url" as Fastify registers them.
import { generateBodySchema } from '../generation/request.js';
import { historyQuery } from '../generation/history.js';
import { keyInput } from '../accounts/service.js';
import { priceBody } from '../http/routes/models.js';
import { usageQuery } from '../http/routes/usage.js';
import { profilePatch } from '../http/routes/user.js';
import { bearer, components, docsOnly, errorResponses, fromZod, ref } from './schemas.js';
import { generateExamples } from './examples.js';

const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const generationResponse = json(ref('Generation'), 'The finished generation');
const sse = { type: 'string', description: 'Server-Sent Events: `data: <json>` per event (generation_start, content_delta…, generation_end or error), then `data: [DONE]`' };
const idParam = { type: 'object', properties: { id: { type: 'integer', description: 'generation id' } }, required: ['id'] };
const slugParam = { type: 'object', properties: { slug: { type: 'string' } }, required: ['slug'] };
const balance = { type: 'object', properties: { token_balance: { type: 'integer' }, plan: { type: 'string' }, plan_expires_at: { type: ['string', 'null'] } } };
const generateBody = { ...fromZod(generateBodySchema), examples: generateExamples };
const keyView = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    prefix: { type: 'string' },
    display_prefix: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    last_used_at: { type: ['string', 'null'], format: 'date-time' },
  },
};
const profile = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'integer' },
    name: { type: ['string', 'null'] },
    username: { type: ['string', 'null'] },
    status: { type: 'string' },
    ...balance.properties,
    plan_tokens_remaining: { type: 'integer' },
    bonus_tokens: { type: 'integer' },
    tokens_used_this_period: { type: 'integer' },
    rate_limit_hourly: { type: 'integer', description: '0 = unlimited' },
    rate_limit_daily: { type: 'integer', description: '0 = unlimited' },
  },
};
const historyItem = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'integer' },
    model_slug: { type: 'string' },
    model_name: { type: 'string' },
    category: { type: 'string' },
    prompt: { type: ['string', 'null'] },
    status: { type: 'string' },
    result_text: { type: ['string', 'null'] },
    result_url: { type: ['string', 'null'], description: 'the result file, signed afresh on every read (null for text, or when the file has expired)' },
    thumbnail_url: { type: ['string', 'null'] },
    result_metadata: {
      type: ['object', 'null'],
      additionalProperties: true,
      description: 'the result file: mime_type, bytes, width, height, duration, format; expired_at once the file is gone',
    },
    finish_reason: { type: ['string', 'null'], description: 'why a text generation ended (stop, length, client_disconnected…)' },
    error: { type: ['string', 'null'] },
    tokens_spent: { type: 'integer' },
    created_at: { type: 'string' },
    completed_at: { type: ['string', 'null'] },
  },
};
const noContent = (description: string) => ({ 204: { description, type: 'null' } });
// The self-service history takes the admin filters too but ignores them: not documented here.
const selfHistoryQuery = fromZod(historyQuery.omit({ account_id: true, include_deleted: true }));
const generateErrors = errorResponses([400, 401, 402, 403, 404, 413, 422, 429, 500, 503]);

/** The multipart form of POST /api/v2/stt (validated in the handler: src/http/routes/stt.ts). */
const sttForm = {
  type: 'object',
  required: ['audio'],
  additionalProperties: false,
  properties: {
    audio: { type: 'string', format: 'binary', description: 'The speech: mp3, mp4, wav, m4a, ogg, flac or webm (by file extension, else media type); at most 25 MiB' },
    model: { type: 'string', default: 'whisper', description: 'A model of category stt: whisper, gpt-4o-transcribe, elevenlabs-scribe' },
    language: { type: 'string', description: 'ISO-639 code of the speech (en, eng)' },
    diarize: { type: 'boolean', description: 'Speaker labels; only models that support it (elevenlabs-scribe), else 400' },
    prompt: { type: 'string', description: 'A hint of the wording (OpenAI models only)' },
    temperature: { type: 'number', minimum: 0, maximum: 1, description: 'OpenAI models only' },
    wait: { type: 'number', minimum: 0, maximum: 120, default: 60, description: 'Seconds to wait for the result' },
    callback_url: { type: 'string', description: 'POST the generation here when it ends (docs/api.md, "Webhooks")' },
  },
  examples: [{ audio: 'speech.wav', model: 'elevenlabs-scribe', language: 'en', diarize: true }],
};

export const apiV2Docs: Record<string, Record<string, unknown>> = {
  'POST /api/v2/stt': {
    summary: 'Transcribe speech (multipart upload)',
    tags: ['generation'],
    security: bearer,
    consumes: ['multipart/form-data'],
    description:
      'A speech-to-text job like POST /api/v2/generate for an stt model: the upload is streamed to storage (over 25 MiB: 413), the price held with the pending generation, and the answer is the generation (`result_text`) when it ends within `wait` seconds, else `pending`. Unknown form fields are 400 naming them.',
    body: sttForm,
    response: { 200: json(ref('Generation'), 'The generation, with the transcription in result_text'), ...errorResponses([400, 401, 402, 403, 404, 413, 422, 429, 503]) },
  },
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
  'GET /api/v2/generate/:id/stream': {
    summary: "Re-attach to a generation's SSE stream",
    tags: ['generation'],
    security: bearer,
    params: idParam,
    description:
      'Replays the recorded events of a v2 stream after `Last-Event-ID` (all of them without it), then follows it live until it ends. A finished generation answers its end events from the stored row.',
    headers: { type: 'object', properties: { 'last-event-id': { type: 'string', description: '`<generation id>:<seq>`, the `id:` of the last event received' } } },
    response: { 200: { description: 'SSE stream', content: { 'text/event-stream': { schema: sse } } }, ...errorResponses([400, 401, 404]) },
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
    body: { type: 'object', description: 'No fields: an empty object or no body.', properties: {}, additionalProperties: false, examples: [{}] },
    response: { 200: generationResponse, ...errorResponses([400, 401, 404]) },
  },
  'GET /api/v2/models': {
    summary: 'The model catalog (public)',
    tags: ['models'],
    security: [],
    querystring: { type: 'object', properties: { category: { type: 'string' } } },
    response: { 200: json({ type: 'object', properties: { models: { type: 'array', items: ref('Model') }, total: { type: 'integer' } } }, 'Models') },
  },
  'GET /api/v2/models/:slug': {
    summary: 'One model (public)',
    tags: ['models'],
    security: [],
    params: slugParam,
    response: { 200: json(ref('Model'), 'The model'), ...errorResponses([404]) },
  },
  'POST /api/v2/models/:slug/calculate-price': {
    summary: 'Price of a request (public)',
    tags: ['models'],
    security: [],
    params: slugParam,
    body: { ...fromZod(priceBody), examples: [{ params: { max_tokens: 64 }, count: 2 }] },
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
    body: { type: 'object', description: 'No fields: an empty object or no body.', properties: {}, additionalProperties: false, examples: [{}] },
    response: { 201: json({ type: 'object', properties: { secret: { type: 'string' }, prefix: { type: 'string' }, created_at: { type: 'string' } } }, 'The new secret'), ...errorResponses([401]) },
  },
  'POST /api/v2/keys': {
    summary: 'Create an API key',
    tags: ['keys'],
    security: bearer,
    description: 'The secret (`key`) is in this answer only (Cache-Control: no-store).',
    body: { ...fromZod(keyInput), examples: [{ name: 'ci-runner' }] },
    response: { 201: json({ ...keyView, properties: { ...keyView.properties, key: { type: 'string', description: 'the secret, shown once' } } }, 'The new key'), ...errorResponses([400, 401, 422]) },
  },
  'GET /api/v2/keys': {
    summary: 'Your API keys',
    tags: ['keys'],
    security: bearer,
    response: {
      200: json(
        {
          type: 'object',
          properties: {
            keys: { type: 'array', items: { ...keyView, properties: { ...keyView.properties, current: { type: 'boolean', description: 'the key of this request' } } } },
            total: { type: 'integer' },
          },
        },
        'Keys (no secrets)',
      ),
      ...errorResponses([401]),
    },
  },
  'PATCH /api/v2/keys/:id': {
    summary: 'Rename an API key',
    tags: ['keys'],
    security: bearer,
    params: { type: 'object', properties: { id: { type: 'integer', description: 'key id' } }, required: ['id'] },
    body: { ...fromZod(keyInput), examples: [{ name: 'ci' }] },
    response: { 200: json(keyView, 'The renamed key'), ...errorResponses([400, 401, 404, 422]) },
  },
  'DELETE /api/v2/keys/:id': {
    summary: 'Revoke an API key',
    tags: ['keys'],
    security: bearer,
    params: { type: 'object', properties: { id: { type: 'integer', description: 'key id' } }, required: ['id'] },
    response: { ...noContent('Revoked'), ...errorResponses([401, 404]) },
  },
  'GET /api/v2/user/me': {
    summary: 'Your profile, plan, balance and limits',
    tags: ['account'],
    security: bearer,
    response: { 200: json(profile, 'Profile'), ...errorResponses([401]) },
  },
  'PATCH /api/v2/user/me': {
    summary: 'Rename your account',
    tags: ['account'],
    security: bearer,
    body: { ...fromZod(profilePatch), examples: [{ name: 'Ada' }] },
    response: { 200: json(profile, 'The updated profile'), ...errorResponses([400, 401, 422]) },
  },
  'GET /api/v2/user/history': {
    summary: 'Your generations, newest first',
    tags: ['account'],
    security: bearer,
    querystring: selfHistoryQuery,
    response: {
      200: json(
        {
          type: 'object',
          properties: {
            items: { type: 'array', items: historyItem },
            total: { type: 'integer' },
            page: { type: ['integer', 'null'] },
            limit: { type: 'integer' },
            pages: { type: 'integer' },
            next_cursor: { type: ['string', 'null'] },
          },
        },
        'A page of history',
      ),
      ...errorResponses([401, 422]),
    },
  },
  'DELETE /api/v2/user/history/:id': {
    summary: 'Delete a generation from your history',
    tags: ['account'],
    security: bearer,
    params: idParam,
    description: 'Its prompt and result are erased; the tokens it spent still count in usage.',
    response: { ...noContent('Deleted'), ...errorResponses([401, 404]) },
  },
  'GET /api/v2/user/usage': {
    summary: 'Tokens spent and requests per UTC day and model',
    tags: ['account'],
    security: bearer,
    querystring: fromZod(usageQuery),
    response: {
      200: json(
        {
          type: 'object',
          properties: {
            days: { type: 'integer' },
            from: { type: 'string', format: 'date' },
            rows: {
              type: 'array',
              items: { type: 'object', properties: { day: { type: 'string', format: 'date' }, model_slug: { type: 'string' }, tokens_spent: { type: 'integer' }, requests: { type: 'integer' } } },
            },
          },
        },
        'Usage',
      ),
      ...errorResponses([401, 422]),
    },
  },
  'GET /files/:generationId/:name': {
    summary: 'A result file (signed URL)',
    tags: ['files'],
    security: [],
    description: "Authorised by the URL's signature alone (no key), so it works in `<img>` tags: use the `result_url` of a generation as given.",
    params: { type: 'object', properties: { generationId: { type: 'integer' }, name: { type: 'string' } }, required: ['generationId', 'name'] },
    querystring: { type: 'object', properties: { expires: { type: 'string', description: 'unix seconds' }, sig: { type: 'string' } }, required: ['expires', 'sig'] },
    response: { 200: { description: 'The file, with the media type its job recorded', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } }, ...errorResponses([400, 403, 404]) },
  },
};

/** The documentation of a route, if this table has it. */
export function apiV2Doc(method: string | string[], url: string): Record<string, unknown> | undefined {
  const m = Array.isArray(method) ? method[0] : method;
  const doc = apiV2Docs[`${m} ${url}`];
  return doc ? docsOnly({ ...doc }) : undefined;
}

export { components };
