// Normalises the three documented body styles of /api/v2/generate into one GenerationInput
// (DECISIONS 1): prompt+params, OpenAI-like messages, category options at the top level.
// Missing required fields are 400 bad_request; present-but-wrong fields are 422 validation_error.
import { z } from 'zod';
import type { ChatMessage } from '../providers/types.js';
import { ApiError, badRequest, validationError } from '../http/errors.js';

const contentPart = z.object({ type: z.literal('text'), text: z.string() });
const messageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.union([z.string(), z.array(contentPart)]),
});

const textOptions = {
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().max(1_000_000).nullable().optional(),
};

// Category options we know the type of; anything else is passed through untouched.
const categoryOptions = {
  size: z.string().optional(),
  format: z.string().optional(),
  quality: z.string().optional(),
  style: z.string().optional(),
  seed: z.number().int().optional(),
  negative_prompt: z.string().optional(),
  aspect_ratio: z.string().optional(),
  image_url: z.string().optional(),
  duration: z.number().positive().optional(),
  voice_id: z.string().optional(),
  speed: z.number().min(0.5).max(2).optional(),
  text: z.string().optional(),
};

const paramsSchema = z.looseObject({
  ...textOptions,
  ...categoryOptions,
  system_prompt: z.string().optional(),
  messages: z.array(messageSchema).optional(),
});

export const generateBodySchema = z.looseObject({
  model: z.string().min(1),
  prompt: z.string().optional(),
  messages: z.array(messageSchema).optional(),
  system: z.string().optional(),
  stream: z.boolean().optional(),
  params: paramsSchema.optional(),
  ...textOptions,
  ...categoryOptions,
});

export interface GenerationInput {
  model: string;
  messages: ChatMessage[];
  temperature: number | undefined;
  maxTokens: number | undefined;
  stream: boolean;
  /** Merged category options (top level, then params). */
  options: Record<string, unknown>;
  /** What the user asked, for history: the prompt or the last user message. */
  promptText: string | null;
}

/** Zod issues -> our 400/422 split: a missing value is "required" (400), anything else 422. */
export function zodToApiError(error: z.ZodError): ApiError {
  const fields = error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
  // An absent enum field is reported as invalid_value, an absent typed field as invalid_type.
  const missing = error.issues.filter((i) => (i.code === 'invalid_type' || i.code === 'invalid_value') && i.input === undefined);
  if (missing.length > 0) {
    const names = missing.map((i) => i.path.map(String).join('.'));
    return badRequest(`missing required field${names.length > 1 ? 's' : ''}: ${names.join(', ')}`, { fields: fields.filter((f) => names.includes(f.path)) });
  }
  return validationError(fields);
}

export function parseGenerateBody(body: unknown, opts: { forceStream?: boolean } = {}): GenerationInput {
  if (body === undefined || body === null) throw badRequest('request body is required: a JSON object with at least "model"');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  const parsed = generateBodySchema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw zodToApiError(parsed.error);
  const b = parsed.data;
  const params = b.params ?? {};

  // Options: top level first, params wins on a clash (DECISIONS 1).
  const { model: _m, prompt: _p, messages: _msgs, system: _s, stream: _st, params: _pa, ...topLevel } = b;
  const { messages: _pm, system_prompt: _sp, ...paramOptions } = params;
  const options: Record<string, unknown> = { ...topLevel, ...paramOptions };

  const system = params.system_prompt ?? b.system;
  const messages: ChatMessage[] = [];
  if (system !== undefined && system !== '') messages.push({ role: 'system', content: system });
  for (const m of [...(params.messages ?? []), ...(b.messages ?? [])]) {
    messages.push({ role: m.role, content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('') });
  }
  const prompt = b.prompt ?? (typeof options.text === 'string' ? options.text : undefined);
  if (prompt !== undefined) messages.push({ role: 'user', content: prompt });
  if (!messages.some((m) => m.role === 'user')) {
    throw badRequest('missing required field: prompt (or messages with a user message)', { fields: [{ path: 'prompt', message: 'required' }] });
  }

  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const maxTokens = options.max_tokens;
  return {
    model: b.model,
    messages,
    temperature: typeof options.temperature === 'number' ? options.temperature : undefined,
    maxTokens: typeof maxTokens === 'number' ? maxTokens : undefined,
    stream: opts.forceStream === true || b.stream === true,
    options,
    promptText: lastUser?.content ?? null,
  };
}
