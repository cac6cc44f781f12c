// Adapter: an OpenAI Chat Completions request body -> the GenerationInput of /api/v2. Every field
// of OpenAI's API is forwarded, mapped, or refused with 400 naming it (docs/api.md): nothing is
// silently dropped. Messages, tools and response_format share the /api/v2 parsers.
import { z } from 'zod';
import { badRequest, unsupportedField } from '../core/errors.js';
import { callSettings, textOptions, unknownField, zodToApiError, type GenerationInput } from '../generation/request.js';
import { strictChatMessageSchema, toMessages, toResponseFormat, toToolChoice, toTools } from '../generation/messages.js';
import { messageText } from '../providers/spec.js';
import { safeParseReporting } from '../core/zod-parse.js';

export const chatCompletionBodySchema = z.strictObject({
  model: z.string().min(1),
  messages: z.array(strictChatMessageSchema).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() }).nullable().optional(),
  // The same text options as /api/v2, where OpenAI also allows null or no upper bound; their
  // objects refuse keys they do not have (tools.0.foo, tool_choice.function.foo, response_format.json_schema.foo).
  ...textOptions,
  temperature: z.number().min(0).max(2).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  n: z.literal(1).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  safety_identifier: z.string().max(256).optional(),
  // Accepted when they ask for nothing the gateway would have to drop.
  store: z.literal(false).nullable().optional(),
  modalities: z.array(z.literal('text')).nullable().optional(),
});

/** Fields of OpenAI's API that lumengate does not implement, with what to use instead. */
const REFUSED: Record<string, string> = {
  functions: 'deprecated by OpenAI; use tools',
  function_call: 'deprecated by OpenAI; use tool_choice',
  logit_bias: 'not supported',
  audio: 'audio output is not supported',
  prediction: 'predicted outputs are not supported',
  web_search_options: 'not supported',
  metadata: 'stored completions are not supported',
  service_tier: 'not supported',
  prompt_cache_key: 'not supported',
  verbosity: 'not supported',
};

export interface ChatCompletionInput {
  input: GenerationInput;
  /** stream_options.include_usage: send a final usage chunk. */
  includeUsage: boolean;
  /** stream_options.include_obfuscation: pad each delta chunk (src/openai/obfuscation.ts). */
  includeObfuscation: boolean;
}

/**
 * The end user forwarded as `user`: OpenAI's `safety_identifier` is the newer name for it. Both
 * with different values is refused by name rather than one of them dropped (docs/api.md).
 */
export function endUser(b: { user?: string | undefined; safety_identifier?: string | undefined }): string | undefined {
  if (b.user !== undefined && b.safety_identifier !== undefined && b.user !== b.safety_identifier) {
    throw unsupportedField('safety_identifier', 'differs from user; both are forwarded as user, so send one (or the same value)');
  }
  return b.user ?? b.safety_identifier;
}

export function parseChatCompletionBody(body: unknown): ChatCompletionInput {
  if (body === undefined || body === null) throw badRequest('request body is required: a JSON object with "model" and "messages"');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  for (const [field, why] of Object.entries(REFUSED)) if (field in body && (body as Record<string, unknown>)[field] != null) throw unsupportedField(field, why);
  const parsed = safeParseReporting(chatCompletionBodySchema, body);
  if (!parsed.success) {
    // Top-level fields and keys inside any of their objects (messages.0.bogus_field, tools.0.foo, stream_options.foo) alike.
    throw unknownField(parsed.error) ?? zodToApiError(parsed.error);
  }
  const b = parsed.data;
  const messages = toMessages(b.messages);
  if (!messages.some((m) => m.role === 'user')) {
    throw badRequest('missing required field: messages with a user message', { fields: [{ path: 'messages', message: 'needs a user message' }] });
  }
  const tools = toTools(b.tools);
  const toolChoice = toToolChoice(b.tool_choice, tools);
  const responseFormat = toResponseFormat(b.response_format);
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const settings = callSettings({ ...b, user: endUser(b) });
  const input: GenerationInput = {
    model: b.model,
    messages,
    settings,
    ...(tools ? { tools } : {}),
    ...(toolChoice ? { toolChoice } : {}),
    ...(b.parallel_tool_calls != null ? { parallelToolCalls: b.parallel_tool_calls } : {}),
    ...(responseFormat ? { responseFormat } : {}),
    stream: b.stream === true,
    options: {},
    promptText: lastUser ? messageText(lastUser) : null,
  };
  return { input, includeUsage: b.stream_options?.include_usage === true, includeObfuscation: b.stream_options?.include_obfuscation === true };
}
