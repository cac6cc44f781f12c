// Normalises the three documented body styles of /api/v2/generate into one GenerationInput
// (docs/api.md): prompt+params, OpenAI-like messages, category options at the top level.
// Missing required fields are 400 bad_request; present-but-wrong fields are 422 validation_error.
import { z } from 'zod';
import type { CallSettings, Message, ResponseFormat, ToolChoice, ToolDefinition } from '../providers/spec.js';
import { messageText, optionField } from '../providers/spec.js';
import { GatewayError, badRequest, unsupportedField, validationError } from '../core/errors.js';
import { strictChatMessageSchema, strictResponseFormatSchema, strictToolChoiceSchema, strictToolSchema, toMessages, toResponseFormat, toToolChoice, toTools } from './messages.js';
import { safeParseReporting } from '../core/zod-parse.js';

const stopSchema = z.union([z.string(), z.array(z.string()).max(4)]);

/**
 * Text generation controls (docs/api.md); the same names as OpenAI's Chat Completions. Their
 * objects refuse keys they do not have on every surface (tools.0.function.foo,
 * tool_choice.function.foo, response_format.json_schema.foo): nothing silently dropped.
 */
export const textOptions = {
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().max(1_000_000).nullable().optional(),
  max_completion_tokens: z.number().int().positive().max(1_000_000).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  stop: stopSchema.nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  reasoning_effort: z.enum(['minimal', 'low', 'medium', 'high']).nullable().optional(),
  user: z.string().max(256).optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  response_format: strictResponseFormatSchema.nullable().optional(),
  tools: z.array(strictToolSchema).max(128).nullable().optional(),
  tool_choice: strictToolChoiceSchema.nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
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

/** docs/api.md: a background text generation is not aborted when its client leaves. */
const jobOptions = { background: z.boolean().optional() };

/** docs/api.md: where the generation object is POSTed when the generation ends (src/webhooks/). */
const webhookOptions = { callback_url: z.string().max(2048).optional() };

const paramsSchema = z.looseObject({
  ...jobOptions,
  ...webhookOptions,
  ...textOptions,
  ...categoryOptions,
  system_prompt: z.string().optional(),
  messages: z.array(strictChatMessageSchema).optional(),
});

export const generateBodySchema = z.looseObject({
  model: z.string().min(1),
  prompt: z.string().optional(),
  messages: z.array(strictChatMessageSchema).optional(),
  system: z.string().optional(),
  stream: z.boolean().optional(),
  params: paramsSchema.optional(),
  ...textOptions,
  ...categoryOptions,
  ...jobOptions,
  ...webhookOptions,
});

/** The option names a text generation understands; others are refused for text models (docs/api.md). */
export const TEXT_OPTION_NAMES = new Set([...Object.keys(textOptions), ...Object.keys(jobOptions), ...Object.keys(webhookOptions), 'seed', 'text']);

export interface GenerationInput {
  model: string;
  messages: Message[];
  settings: CallSettings;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  stream: boolean;
  /** Runs as a job: the client leaving does not abort it (docs/api.md). */
  background?: boolean;
  /** POST the generation object here when it ends (docs/api.md); checked by src/webhooks/ before the hold. */
  callbackUrl?: string;
  /** Merged category options (top level, then params). */
  options: Record<string, unknown>;
  /** The body field of each message (index-aligned) where it is not `messages.<i>`. */
  messagePaths?: string[];
  /** The body field of each tool's function (index-aligned) where it is not `tools.<i>.function`. */
  toolPaths?: string[];
  /** The options /api/v2's `params` gave (params wins on a clash), named there (`params.response_format`): optionPath. */
  paramsOptions?: ReadonlySet<string>;
  /**
   * Where a field the shared checks name in chat's terms (`messages.1.content.1`, `response_format`)
   * is in this request's body, for a surface that holds it elsewhere (/v1/responses,
   * src/openai/responses-paths.ts): a failure of the running generation is stored in the client's
   * terms, as the client is told it (GET /api/v2/generate/{id} and the answer agree).
   */
  fieldPath?: (path: string) => string;
  /** What the user asked, for history: the prompt or the last user message. */
  promptText: string | null;
}

/**
 * Zod issues -> our 400/422 split: a missing value is "required" (400), anything else 422. With
 * the parsed `body`, an absent union field (reported as invalid_union, without its input) counts
 * as missing too.
 */
export function zodToApiError(error: z.ZodError, body?: unknown, at: readonly PropertyKey[] = []): GatewayError {
  // `at`: where the parsed value is in the request body (an item parsed on its own: ['input', 2]).
  const pathOf = (p: readonly PropertyKey[]) => [...at, ...p].map(String).join('.');
  const fields = error.issues.map((i) => ({ path: pathOf(i.path) || '(body)', message: i.message }));
  // An absent enum field is reported as invalid_value, an absent typed field as invalid_type.
  const missing = error.issues.filter(
    (i) => ((i.code === 'invalid_type' || i.code === 'invalid_value') && i.input === undefined) || (i.code === 'invalid_union' && body !== undefined && valueAt(body, i.path) === undefined),
  );
  if (missing.length > 0) {
    const names = missing.map((i) => pathOf(i.path));
    return badRequest(`missing required field${names.length > 1 ? 's' : ''}: ${names.join(', ')}`, { fields: fields.filter((f) => names.includes(f.path)) });
  }
  return validationError(fields);
}

/** The first key an object does not have, as 400 naming its path (/api/v2, /v1 chat and responses); `at` is where the parsed value sits in the body. */
export function unknownField(error: z.ZodError, at: PropertyKey[] = []): GatewayError | undefined {
  const unknown = error.issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown && unknown.code === 'unrecognized_keys') return unsupportedField([...at, ...unknown.path, unknown.keys[0]!].map(String).join('.'), 'unknown field');
  return undefined;
}

/** The value at a zod issue's path in `body`, undefined where the path leads nowhere. */
const valueAt = (body: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), body);

/** `promptOptional(model)`: the model works without a prompt (tool models such as an upscaler, docs/api.md). */
export function parseGenerateBody(body: unknown, opts: { forceStream?: boolean; promptOptional?: (model: string) => boolean } = {}): GenerationInput {
  if (body === undefined || body === null) throw badRequest('request body is required: a JSON object with at least "model"');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  const parsed = safeParseReporting(generateBodySchema, body);
  // A key a message, content part, tool, tool_choice or response_format does not have is 400 naming it where it was sent (params.messages.0.foo), as on /v1.
  if (!parsed.success) throw unknownField(parsed.error) ?? zodToApiError(parsed.error);
  const b = parsed.data;
  const params = b.params ?? {};

  // Options: top level first, params wins on a clash (docs/api.md).
  const { model: _m, prompt: _p, messages: _msgs, system: _s, stream: _st, params: _pa, ...topLevel } = b;
  const { messages: _pm, system_prompt: _sp, ...paramOptions } = params;
  const options: Record<string, unknown> = { ...topLevel, ...paramOptions };

  const system = params.system_prompt ?? b.system;
  const messages: Message[] = [];
  // Where each message came from in the body, so errors about its parts name the right field.
  const messagePaths: string[] = [];
  if (system !== undefined && system !== '') {
    messages.push({ role: 'system', content: system });
    messagePaths.push(params.system_prompt !== undefined ? 'params.system_prompt' : 'system');
  }
  const fromParams = params.messages ?? [];
  const pathOf = (i: number) => (i < fromParams.length ? `params.messages.${i}` : `messages.${i - fromParams.length}`);
  const chat = [...fromParams, ...(b.messages ?? [])];
  messages.push(...toMessages(chat, pathOf));
  messagePaths.push(...chat.map((_, i) => pathOf(i)));
  const prompt = b.prompt ?? (typeof options.text === 'string' ? options.text : undefined);
  if (prompt !== undefined) {
    messages.push({ role: 'user', content: [{ type: 'text', text: prompt }] });
    // Named where it was sent: params.text wins over text, as every option of params does.
    messagePaths.push(b.prompt !== undefined ? 'prompt' : typeof paramOptions.text === 'string' ? 'params.text' : 'text');
  }
  if (!messages.some((m) => m.role === 'user') && opts.promptOptional?.(b.model) !== true) {
    throw badRequest('missing required field: prompt (or messages with a user message)', { fields: [{ path: 'prompt', message: 'required' }] });
  }

  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const o = options as z.infer<z.ZodObject<typeof textOptions>> & { seed?: number };
  const tools = toTools(o.tools);
  // params wins on a clash: tools given there are named there.
  const toolPaths = tools && params.tools != null ? tools.map((_, i) => `params.tools.${i}.function`) : undefined;
  const paramsOptions: ReadonlySet<string> = new Set(Object.keys(paramOptions));
  return {
    model: b.model,
    messages,
    messagePaths,
    ...(toolPaths ? { toolPaths } : {}),
    // And any other option given there (params.parallel_tool_calls, params.response_format.json_schema.schema).
    paramsOptions,
    // A provider's refusal once the generation runs names the body's field, as the check before the hold does.
    fieldPath: inBodyTerms(messagePaths, toolPaths, (name) => optionPath({ paramsOptions }, name)),
    settings: callSettings(o),
    ...(tools ? { tools } : {}),
    // params wins here too: a tool_choice given there is named there (params.tool_choice.function.name).
    ...optional('toolChoice', toToolChoice(o.tool_choice, tools, params.tool_choice != null ? 'params.tool_choice' : 'tool_choice')),
    ...optional('parallelToolCalls', o.parallel_tool_calls ?? undefined),
    ...optional('responseFormat', toResponseFormat(o.response_format)),
    stream: opts.forceStream === true || b.stream === true,
    background: options.background === true,
    ...optional('callbackUrl', typeof options.callback_url === 'string' ? options.callback_url : undefined),
    options,
    promptText: lastUser ? messageText(lastUser) : null,
  };
}

/**
 * Chat's place of a field (`messages.3.content.1`, `tools.0.function.parameters`,
 * `response_format`, `seed`, as a provider names what it refuses: refusalPath in
 * src/providers/spec.ts) -> where this body has it: `system`, `params.messages.0.content.1`,
 * `prompt`, `params.tools.0.function.parameters`, `params.response_format`, `params.seed` (`option`).
 */
export function inBodyTerms(messagePaths: string[], toolPaths?: string[], option?: (name: string) => string): (path: string) => string {
  return (path) => {
    const m = /^messages\.(\d+)(?=\.|$)/.exec(path);
    const at = m ? messagePaths[Number(m[1])] : undefined;
    if (at) return at + path.slice(m![0].length);
    const t = /^tools\.(\d+)\.function(?=\.|$)/.exec(path);
    const tool = t ? toolPaths?.[Number(t[1])] : undefined;
    if (tool) return tool + path.slice(t![0].length);
    return optionField(path, option);
  };
}

/** Where the body has option `name`: `params.<name>` where /api/v2's params gave it (GenerationInput.paramsOptions), else its own name. */
export function optionPath(input: Pick<GenerationInput, 'paramsOptions'>, name: string): string {
  return input.paramsOptions?.has(name) === true ? `params.${name}` : name;
}

const optional = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [k]: v } as { [P in K]?: V }));

/** OpenAI-named options -> CallSettings (nulls mean "not given"). */
export interface TextOptionsBody {
  temperature?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  top_p?: number | null;
  stop?: string | string[] | null;
  seed?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  reasoning_effort?: CallSettings['reasoningEffort'] | null;
  user?: string | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
}

export function callSettings(o: TextOptionsBody): CallSettings {
  const s: CallSettings = {};
  if (o.temperature != null) s.temperature = o.temperature;
  const max = o.max_completion_tokens ?? o.max_tokens;
  if (max != null) s.maxTokens = max;
  if (o.top_p != null) s.topP = o.top_p;
  if (o.stop != null) s.stop = typeof o.stop === 'string' ? [o.stop] : o.stop;
  if (o.seed != null) s.seed = o.seed;
  if (o.frequency_penalty != null) s.frequencyPenalty = o.frequency_penalty;
  if (o.presence_penalty != null) s.presencePenalty = o.presence_penalty;
  if (o.reasoning_effort != null) s.reasoningEffort = o.reasoning_effort;
  if (o.user != null) s.user = o.user;
  if (o.logprobs != null) s.logprobs = o.logprobs;
  if (o.top_logprobs != null) s.topLogprobs = o.top_logprobs;
  return s;
}
