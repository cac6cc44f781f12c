// JSON Schemas for the OpenAPI document. Documentation only: request bodies are validated by zod
// in the handlers (the 400/422 split of zodToApiError), so routes carrying these schemas get
// pass-through validator and serializer compilers (see plugin.ts).
import { z } from 'zod';
import { ERROR_STATUS } from '../http/errors.js';

const DOCS_ONLY = Symbol('lumengate.docsOnly');

/** Marks a Fastify route schema as documentation only: never validates, never reshapes output. */
export function docsOnly<T extends object>(schema: T): T {
  return Object.assign(schema, { [DOCS_ONLY]: true });
}

export function isDocsOnly(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && (schema as Record<symbol, unknown>)[DOCS_ONLY] === true;
}

/** A zod schema as a JSON Schema (draft 2020-12, which OpenAPI 3.1 uses), without the $schema key. */
export function fromZod(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return json;
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const nullable = (type: string) => ({ type: [type, 'null'] });

export const components: Record<string, Record<string, unknown>> = {
  ErrorEnvelope: {
    type: 'object',
    description: 'Every /api/v2 error (docs/api.md).',
    required: ['error', 'message', 'details'],
    properties: {
      error: { type: 'string', enum: Object.keys(ERROR_STATUS) },
      message: { type: 'string' },
      details: { type: 'object', additionalProperties: true },
      retry_after: { type: 'integer', description: '429 only' },
    },
  },
  OpenAIError: {
    type: 'object',
    description: "Every /v1 error: OpenAI's shape; `code` is the /api/v2 envelope code.",
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['message', 'type', 'code', 'param'],
        properties: { message: { type: 'string' }, type: { type: 'string' }, code: { type: 'string' }, param: nullable('string'), details: { type: 'object', additionalProperties: true } },
      },
    },
  },
  Generation: {
    type: 'object',
    description: 'A generation (docs/api.md): a superset of every documented shape, explicit nulls.',
    required: [
      'id',
      'status',
      'model_slug',
      'model',
      'result_text',
      'content',
      'tool_calls',
      'reasoning',
      'logprobs',
      'refusal',
      'result_url',
      'thumbnail_url',
      'error',
      'tokens_spent',
      'tokens_used',
      'balance_remaining',
      'processing_ms',
      'result_metadata',
      'usage',
      'created_at',
      'completed_at',
    ],
    properties: {
      id: { type: 'integer' },
      status: { type: 'string', enum: ['pending', 'completed', 'failed'] },
      model_slug: { type: 'string' },
      model: { type: 'string' },
      result_text: nullable('string'),
      content: nullable('string'),
      tool_calls: {
        type: ['array', 'null'],
        description: 'Tool calls the model made (OpenAI shape); null when none.',
        items: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            type: { const: 'function' },
            function: { type: 'object', properties: { name: { type: 'string' }, arguments: { type: 'string', description: 'JSON text' } } },
          },
        },
      },
      reasoning: { ...nullable('string'), description: 'The reasoning summary, where the provider returns one.' },
      logprobs: {
        type: ['array', 'null'],
        description: "The answer's tokens with their log probabilities (OpenAI's shape), where `logprobs` was asked for and the provider returns them.",
        items: { type: 'object', additionalProperties: true },
      },
      refusal: { ...nullable('string'), description: 'The model declined instead of answering, in its words (OpenAI models); null otherwise.' },
      result_url: nullable('string'),
      thumbnail_url: nullable('string'),
      error: nullable('string'),
      tokens_spent: { type: 'integer' },
      tokens_used: { type: 'integer' },
      balance_remaining: nullable('integer'),
      processing_ms: nullable('integer'),
      result_metadata: { type: ['object', 'null'], additionalProperties: true },
      usage: {
        type: ['object', 'null'],
        properties: {
          input_tokens: nullable('integer'),
          output_tokens: nullable('integer'),
          total_tokens: nullable('integer'),
          reasoning_tokens: nullable('integer'),
          cached_input_tokens: nullable('integer'),
        },
      },
      created_at: { type: 'string', format: 'date-time' },
      completed_at: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  Model: {
    type: 'object',
    properties: {
      slug: { type: 'string' },
      name: { type: 'string' },
      category: { type: 'string' },
      provider: { type: 'string' },
      min_plan: { type: 'string' },
      token_cost: { type: 'integer' },
      min_token_cost: { type: 'integer' },
      max_token_cost: { type: 'integer' },
      pricing_type: { type: 'string' },
      description_en: { type: 'string' },
      description_ru: nullable('string'),
      supports_streaming: { type: 'boolean' },
      config: { type: 'object', additionalProperties: true },
      available: { type: 'boolean' },
    },
  },
};

const errorDescriptions: Record<number, string> = {
  400: 'Missing field, unparsable JSON, or streaming a model that cannot stream',
  401: 'Missing, invalid or revoked key',
  402: 'Balance cannot cover the price',
  403: 'Plan does not include the model',
  404: 'Unknown model or id',
  413: 'Body over the limit',
  422: 'A field has the wrong type or is out of range',
  429: 'Rate limit exceeded (Retry-After header)',
  500: 'Provider failed (details.generation_id) or internal error',
  503: 'No provider configured or reachable for the model',
  504: 'The media job is still running: poll the generation named in the error',
};

/** Error responses for the given statuses, all referencing one component schema. */
export function errorResponses(statuses: number[], schema = 'ErrorEnvelope'): Record<number, unknown> {
  return Object.fromEntries(statuses.map((s) => [s, { description: errorDescriptions[s] ?? 'Error', content: { 'application/json': { schema: ref(schema) } } }]));
}

export const bearer = [{ bearerAuth: [] }];
