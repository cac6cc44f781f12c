// Adapter: an OpenAI Chat Completions request body -> the GenerationInput of /api/v2 (via the same
// parseGenerateBody, so validation, the 400/422 split and the "needs a user message" rule are one).
import { z } from 'zod';
import { parseGenerateBody, zodToApiError, type GenerationInput } from '../generation/request.js';
import { badRequest } from '../http/errors.js';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const message = z.object({
  // "developer" is OpenAI's newer name for "system"; tool messages are not supported.
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
});

export const chatCompletionBodySchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  n: z.literal(1).nullable().optional(),
});

export interface ChatCompletionInput {
  input: GenerationInput;
  /** stream_options.include_usage: send a final usage chunk. */
  includeUsage: boolean;
}

export function parseChatCompletionBody(body: unknown): ChatCompletionInput {
  if (body === undefined || body === null) throw badRequest('request body is required: a JSON object with "model" and "messages"');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  const parsed = chatCompletionBodySchema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw zodToApiError(parsed.error);
  const b = parsed.data;
  if (Array.isArray(b.tools) && b.tools.length > 0) throw badRequest('tools are not supported by lumengate', { fields: [{ path: 'tools', message: 'not supported' }] });
  const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? undefined;
  const input = parseGenerateBody({
    model: b.model,
    messages: b.messages.map((m) => ({
      role: m.role === 'developer' ? 'system' : m.role,
      content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
    })),
    ...(b.temperature != null ? { temperature: b.temperature } : {}),
    ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
    stream: b.stream === true,
  });
  return { input, includeUsage: b.stream_options?.include_usage === true };
}
