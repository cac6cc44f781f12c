// POST /v1/embeddings (docs/api.md): OpenAI's request and answer shapes around runEmbedding.
// Unknown fields are refused by name; token-array input is refused (we forward text only).
import { z } from 'zod';
import { badRequest, unsupportedField } from '../core/errors.js';
import { zodToApiError } from '../generation/request.js';
import type { EmbeddingInput, EmbeddingOutcome } from '../generation/embeddings.js';
import { lumengateExtension } from './responses.js';
import { safeParseReporting } from '../core/zod-parse.js';

export const embeddingsBodySchema = z.strictObject({
  model: z.string().min(1),
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048)]),
  dimensions: z.number().int().positive().max(65_536).optional(),
  encoding_format: z.enum(['float', 'base64']).optional(),
  user: z.string().max(256).optional(),
});

export interface EmbeddingsRequest {
  input: EmbeddingInput;
  encoding: 'float' | 'base64';
}

const isTokens = (v: unknown) => typeof v === 'number' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number'));

export function parseEmbeddingsBody(body: unknown): EmbeddingsRequest {
  if (body === undefined || body === null) throw badRequest('request body is required: a JSON object with "model" and "input"');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  const raw = (body as { input?: unknown }).input;
  // zod reports a missing union as invalid_union, not as "required": name it here.
  if (raw === undefined) throw badRequest('missing required field: input', { fields: [{ path: 'input', message: 'required' }] });
  if (isTokens(raw) || (Array.isArray(raw) && raw.some(isTokens))) throw unsupportedField('input', 'token arrays are not supported; send strings');
  const parsed = safeParseReporting(embeddingsBodySchema, body);
  if (!parsed.success) {
    const unknown = parsed.error.issues.find((i) => i.code === 'unrecognized_keys');
    if (unknown && unknown.code === 'unrecognized_keys') throw unsupportedField(unknown.keys[0]!, 'unknown field');
    throw zodToApiError(parsed.error);
  }
  const b = parsed.data;
  return {
    input: {
      model: b.model,
      ...(typeof b.input === 'string' ? { input: [b.input], single: true } : { input: b.input }),
      ...(b.dimensions ? { dimensions: b.dimensions } : {}),
      ...(b.user !== undefined ? { user: b.user } : {}),
    },
    encoding: b.encoding_format ?? 'float',
  };
}

/** OpenAI's base64 encoding: the vector's float32 values, little-endian. */
function base64Vector(v: number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

export function embeddingsResponse(o: EmbeddingOutcome, encoding: 'float' | 'base64') {
  const prompt = o.usage?.input_tokens ?? 0;
  return {
    object: 'list' as const,
    data: o.embeddings.map((e, index) => ({ object: 'embedding' as const, index, embedding: encoding === 'base64' ? base64Vector(e) : e })),
    model: o.generation.model_slug,
    usage: { prompt_tokens: prompt, total_tokens: o.usage?.total_tokens ?? prompt },
    lumengate: lumengateExtension(o.generation),
  };
}
