// POST /v1/responses (docs/api.md): OpenAI's Responses API as one more adapter onto the
// generation lifecycle. Request items -> messages, the generation -> a `response` object, and a
// StreamEncoder for its named SSE events. `previous_response_id` continues one of the caller's
// own generations: its conversation is kept in the generation's result_json (`conversation`).
import { z } from 'zod';
import type { Caller } from '../accounts/keys.js';
import { GatewayError, badRequest, clip, unsupportedField, validationError } from '../core/errors.js';
import type { Db } from '../db/connect.js';
import { isRowId } from '../db/schema.js';
import { contentParts, responseFormatSchema, stringOrObject, toResponseFormat, toToolChoice, toTools, toolSchema, type contentPartSchema } from '../generation/messages.js';
import { callSettings, unknownField, zodToApiError, type GenerationInput } from '../generation/request.js';
import { answerSegments, generationObject, type GenerationObject } from '../generation/object.js';
import { findOwnGeneration, mergeResultJson } from '../generation/store.js';
import type { SseEvent, StreamEncoder } from '../http/streaming.js';
import { messageText, type Message, type ProviderUsage } from '../providers/spec.js';
import { openAIErrorType } from './errors.js';
import { endUser } from './request.js';
import { lumengateExtension } from './responses.js';
import { inResponsesTerms, responsesPath, type Origin } from './responses-paths.js';
import { obfuscation } from './obfuscation.js';
import type { ErrorCode } from '../core/errors.js';
import { safeParseReporting } from '../core/zod-parse.js';

// ---- Request -------------------------------------------------------------------------------

// Nothing is dropped here either: every object of the body, the input items and their content
// parts included, refuses a key it does not have by name (input.0.content.1.foo, tools.0.foo).
const inputText = z.strictObject({ type: z.literal('input_text'), text: z.string() });
const inputImage = z.strictObject({ type: z.literal('input_image'), image_url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() });
const inputFile = z.strictObject({ type: z.literal('input_file'), file_data: z.string().optional(), file_id: z.string().optional(), filename: z.string().optional() });
const outputText = z.strictObject({ type: z.literal('output_text'), text: z.string(), annotations: z.array(z.unknown()).optional(), logprobs: z.array(z.unknown()).optional() });
const refusal = z.strictObject({ type: z.literal('refusal'), refusal: z.string() });

const messageItem = z.strictObject({
  type: z.literal('message').optional(),
  id: z.string().optional(),
  status: z.string().optional(),
  role: z.enum(['user', 'system', 'developer', 'assistant']),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [inputText, inputImage, inputFile, outputText, refusal]))]),
});
const functionCallItem = z.strictObject({
  type: z.literal('function_call'),
  id: z.string().optional(),
  status: z.string().optional(),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
});
const functionOutputItem = z.strictObject({
  type: z.literal('function_call_output'),
  id: z.string().optional(),
  status: z.string().optional(),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(inputText)]),
});
const ITEM_TYPES = new Set(['message', 'function_call', 'function_call_output']);
type InputItem = z.infer<typeof functionCallItem> | z.infer<typeof functionOutputItem> | z.infer<typeof messageItem>;
// One schema per kind of item, its content (output) a string or parts: a union zod cannot match
// as a whole is only "Invalid input" at the item (input.0), where these name the field itself
// (input.0.content.1.image_url, input.1.name, input.0.role).
const outputAsText = functionOutputItem.extend({ output: z.string() });
const outputAsParts = functionOutputItem.extend({ output: functionOutputItem.shape.output.options[1] });
const messageAsText = messageItem.extend({ content: z.string() });
const messageAsParts = messageItem.extend({ content: messageItem.shape.content.options[1] });

function itemSchema(raw: unknown) {
  const { type, content, output } = (raw ?? {}) as { type?: unknown; content?: unknown; output?: unknown };
  if (type === 'function_call') return functionCallItem;
  if (type === 'function_call_output') return Array.isArray(output) ? outputAsParts : outputAsText;
  return Array.isArray(content) ? messageAsParts : messageAsText;
}

// Responses tools are flat: {type, name, description, parameters, strict}; the chat parser validates them.
const functionTool = toolSchema.shape.function.extend({ type: z.literal('function') }).strict();
// A bad string lists what it takes, a bad named choice names its field (tool_choice.name), as chat's does.
const toolChoice = stringOrObject(
  z.enum(['auto', 'none', 'required']),
  z.strictObject({ type: z.literal('function'), name: z.string().min(1) }),
  '"none", "auto", "required", or {"type": "function", "name": …} naming one of the tools',
);
// Discriminated by type, so a bad or missing field of a format is named (text.format.schema), not the whole format.
const textFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({ type: z.literal('json_object') }),
  z.strictObject({
    type: z.literal('json_schema'),
    name: z.string().min(1),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().optional(),
    strict: z.boolean().nullable().optional(),
  }),
]);

export const responsesBodySchema = z.strictObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.unknown()).min(1)]),
  instructions: z.string().nullable().optional(),
  tools: z.array(functionTool).max(128).nullable().optional(),
  tool_choice: toolChoice.nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  text: z.strictObject({ format: textFormat.optional() }).nullable().optional(),
  max_output_tokens: z.number().int().positive().max(1_000_000).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  reasoning: z
    .strictObject({ effort: z.enum(['minimal', 'low', 'medium', 'high']).nullable().optional() })
    .nullable()
    .optional(),
  user: z.string().max(256).optional(),
  safety_identifier: z.string().max(256).optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  store: z.boolean().nullable().optional(),
  previous_response_id: z.string().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.strictObject({ include_obfuscation: z.boolean().optional() }).nullable().optional(),
  // Accepted when they ask for nothing the gateway would have to drop.
  include: z.array(z.never()).nullable().optional(),
  truncation: z.literal('disabled').nullable().optional(),
  background: z.literal(false).nullable().optional(),
});
type ResponsesBody = z.infer<typeof responsesBodySchema>;

/** Request fields a response object echoes back, as OpenAI's does. */
export interface ResponseEcho {
  instructions: string | null;
  max_output_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  store: boolean;
  tool_choice: unknown;
  tools: unknown[];
  text: { format: unknown };
  user: string | null;
  metadata: Record<string, string>;
}

export interface ResponsesRequest {
  body: ResponsesBody;
  echo: ResponseEcho;
  /** The new input items as messages (instructions not included). */
  messages: Message[];
  /** Where each of `messages` is in the body, for errors (src/openai/responses-paths.ts). */
  origins: Origin[];
  /** A previous response to continue, as a generation id. */
  previousId: number | null;
}

/** `resp_<generation id>`: the same integer id as /api/v2/generate/{id}. */
export const responseId = (generationId: number): string => `resp_${generationId}`;

export function parseResponsesBody(body: unknown): ResponsesRequest {
  if (body === undefined || body === null) throw badRequest('request body is required: a JSON object with "model" and "input"');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  const parsed = safeParseReporting(responsesBodySchema, body);
  if (!parsed.success) throw refusal400(parsed.error, body);
  const b = parsed.data;
  // A string input is one user message whose text is `input` itself.
  const { messages, origins } = typeof b.input === 'string' ? toConversation([{ role: 'user', content: b.input }], () => ({ at: 'input', content: 'input' })) : toConversation(b.input.map(parseItem));
  let previousId: number | null = null;
  if (b.previous_response_id != null) {
    const m = /^resp_(\d{1,10})$/.exec(b.previous_response_id);
    if (!m || !isRowId(Number(m[1])))
      throw new GatewayError('not_found', `previous response "${clip(b.previous_response_id)}" not found`, { fields: [{ path: 'previous_response_id', message: 'not found' }] });
    previousId = Number(m[1]);
  }
  return {
    body: b,
    previousId,
    messages,
    origins,
    echo: {
      instructions: b.instructions ?? null,
      max_output_tokens: b.max_output_tokens ?? null,
      temperature: b.temperature ?? null,
      top_p: b.top_p ?? null,
      parallel_tool_calls: b.parallel_tool_calls ?? true,
      previous_response_id: b.previous_response_id ?? null,
      store: b.store ?? true,
      tool_choice: b.tool_choice ?? 'auto',
      tools: (b.tools ?? []).map((t) => ({ ...t, strict: t.strict ?? null })),
      text: { format: b.text?.format ?? { type: 'text' } },
      user: b.user ?? null,
      metadata: b.metadata ?? {},
    },
  };
}

/** Unknown fields (at any depth) are refused by name; other issues are the usual 400/422 split. */
function refusal400(error: z.ZodError, body: unknown): GatewayError {
  return chatToolChoice(error, body) ?? chatTool(error, body) ?? unknownField(error) ?? zodToApiError(error, body);
}

/** A function's name as a hint shows it: the name the client sent, else `…`. */
const hintName = (name: unknown): string => (typeof name === 'string' && name !== '' ? JSON.stringify(clip(name)) : '…');

/**
 * Chat's named tool_choice ({"type": "function", "function": {"name": …}}) is refused at
 * tool_choice.function as any unknown field is, with this API's form as a hint: its name is the
 * choice's own field.
 */
function chatToolChoice(error: z.ZodError, body: unknown): GatewayError | undefined {
  const unknown = error.issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown?.code !== 'unrecognized_keys' || unknown.path.join('.') !== 'tool_choice' || unknown.keys[0] !== 'function') return undefined;
  const name = (body as { tool_choice?: { function?: { name?: unknown } } }).tool_choice?.function?.name;
  return unsupportedField('tool_choice.function', `unknown field (the Responses API names the function at the top level: {"type": "function", "name": ${hintName(name)}})`);
}

/**
 * Chat's function tool ({"type": "function", "function": {"name": …, "parameters": …}}) is refused
 * at tools.<i>.function as any unknown field is, with this API's form as a hint: the function's
 * fields are the tool's own.
 */
function chatTool(error: z.ZodError, body: unknown): GatewayError | undefined {
  const unknown = error.issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown?.code !== 'unrecognized_keys' || unknown.path.length !== 2 || unknown.path[0] !== 'tools' || unknown.keys[0] !== 'function') return undefined;
  const at = `tools.${String(unknown.path[1])}.function`;
  const tools = (body as { tools?: unknown }).tools;
  const name = Array.isArray(tools) ? (tools[Number(unknown.path[1])] as { function?: { name?: unknown } | null } | null)?.function?.name : undefined;
  return unsupportedField(at, `unknown field (the Responses API takes a function tool's fields at the top level: {"type": "function", "name": ${hintName(name)}, "parameters": {…}})`);
}

function parseItem(raw: unknown, i: number): InputItem {
  const type = (raw as { type?: unknown } | null)?.type;
  const typeName = typeof type === 'string' ? type : JSON.stringify(type);
  if (type !== undefined && !ITEM_TYPES.has(typeName)) throw unsupportedField(`input.${i}.type`, `"${clip(typeName)}" items are not supported (message, function_call, function_call_output)`);
  const parsed = safeParseReporting(itemSchema(raw), raw);
  if (!parsed.success) throw unknownField(parsed.error, ['input', i]) ?? zodToApiError(parsed.error, raw, ['input', i]);
  return parsed.data;
}

/** Where the message made of item i starts: its content parts are the item's, a function_call_output's text is its `output`. */
function itemOrigin(i: number, item: InputItem): Origin {
  const at = `input.${i}`;
  if (item.type === 'function_call_output') return { at, content: `${at}.output`, callId: `${at}.call_id` };
  if (item.type === 'function_call' || item.role !== 'user') return { at };
  return { at, content: `${at}.content`, parts: Array.isArray(item.content) };
}

/**
 * Items -> messages, and where each message came from (`originOf`, for errors). Consecutive
 * assistant text and function calls become one assistant turn (from its first item), and an
 * assistant message after a call starts the next turn. A previous response's output items go
 * through here too, so sending the items back and naming the response agree.
 */
function toConversation(items: InputItem[], originOf: (i: number, item: InputItem) => Origin = itemOrigin): { messages: Message[]; origins: Origin[] } {
  const out: Message[] = [];
  const origins: Origin[] = [];
  const add = <M extends Message>(i: number, item: InputItem, m: () => M): M => {
    origins.push(originOf(i, item));
    const made = m();
    out.push(made);
    return made;
  };
  const lastAssistant = (i: number, item: InputItem, text = false): Extract<Message, { role: 'assistant' }> => {
    const last = out.at(-1);
    if (last?.role === 'assistant' && !(text && last.toolCalls?.length)) return last;
    return add(i, item, () => ({ role: 'assistant', content: '' }));
  };
  try {
    items.forEach((item, i) => {
      if (item.type === 'function_call') {
        const a = lastAssistant(i, item);
        (a.toolCalls ??= []).push({ id: item.call_id, name: item.name, arguments: item.arguments });
        // Where each call is, for an error about it (responsesPath): its own item, not the turn's first.
        (origins[out.lastIndexOf(a)]!.calls ??= []).push(`input.${i}`);
      } else if (item.type === 'function_call_output') {
        add(i, item, () => ({ role: 'tool', toolCallId: item.call_id, content: typeof item.output === 'string' ? item.output : item.output.map((p) => p.text).join('') }));
      } else if (item.role === 'assistant') {
        const a = lastAssistant(i, item, true);
        a.content += typeof item.content === 'string' ? item.content : textOf(item.content, `input.${i}`, ['output_text', 'input_text', 'refusal'], 'assistant messages');
      } else if (item.role === 'user') {
        // The content part checks shared with chat name chat's place (messages.N.content.1.image_url.url): the catch below maps it.
        const parts = typeof item.content === 'string' ? item.content : item.content.map((p, j) => chatPart(p, `input.${i}.content.${j}`));
        add(i, item, () => ({ role: 'user', content: contentParts(parts, `messages.${out.length}`) }));
      } else {
        add(i, item, () => ({ role: 'system', content: typeof item.content === 'string' ? item.content : textOf(item.content, `input.${i}`, ['input_text', 'output_text'], `${item.role} messages`) }));
      }
    });
  } catch (err) {
    throw inResponsesTerms(err, origins);
  }
  return { messages: out, origins };
}

type ResponsesPart = Exclude<z.infer<typeof messageItem>['content'], string>[number];

/** The text of a system, developer or assistant message; a part the role cannot carry (an image) is 422 naming it, not dropped. */
function textOf(parts: ResponsesPart[], path: string, takes: ResponsesPart['type'][], role: string): string {
  return parts
    .map((p, j) => {
      if (!takes.includes(p.type)) throw validationError([{ path: `${path}.content.${j}`, message: `${role} take ${takes.join(', ')} parts` }]);
      return 'text' in p ? p.text : 'refusal' in p ? p.refusal : '';
    })
    .join('');
}

function chatPart(p: ResponsesPart, path: string): z.infer<typeof contentPartSchema> {
  switch (p.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: p.text };
    case 'input_image':
      return { type: 'image_url', image_url: { url: p.image_url, ...(p.detail ? { detail: p.detail } : {}) } };
    case 'input_file':
      if (p.file_id !== undefined) throw unsupportedField(`${path}.file_id`, 'not supported (send the file inline as file_data)');
      return { type: 'file', file: { ...(p.file_data ? { file_data: p.file_data } : {}), ...(p.filename ? { filename: p.filename } : {}) } };
    case 'refusal':
      throw validationError([{ path, message: 'refusal parts belong to assistant messages' }]);
  }
}

/**
 * Every function_call_output must answer a function call before it (this input or the previous
 * response). Named as chat names a tool message's id (messages.N.tool_call_id), which is the
 * item's call_id in the body (src/openai/responses-paths.ts).
 */
function checkToolOutputs(messages: Message[]): void {
  const known = new Set<string>();
  messages.forEach((m, i) => {
    if (m.role === 'assistant') for (const c of m.toolCalls ?? []) known.add(c.id);
    if (m.role === 'tool' && !known.has(m.toolCallId)) {
      throw validationError([{ path: `messages.${i}.tool_call_id`, message: `function_call_output "${m.toolCallId}" answers no function_call` }]);
    }
  });
}

/**
 * The request as a GenerationInput: previous conversation + new items, instructions first; and
 * where each of its messages is in the body (`origins`): what the generation refuses in chat's
 * terms is named in the body's by inResponsesTerms (src/openai/responses-paths.ts).
 */
export async function responsesInput(db: Db, caller: Caller, r: ResponsesRequest): Promise<{ input: GenerationInput; conversation: Message[]; origins: Origin[] }> {
  const b = r.body;
  const previous = r.previousId !== null ? await previousConversation(db, caller, r.previousId) : [];
  const origins: Origin[] = [...(b.instructions ? [{ at: 'instructions' }] : []), ...previous.map(() => ({ at: 'previous_response_id' })), ...r.origins];
  const conversation = [...previous, ...r.messages];
  try {
    // A failure once the generation runs is stored and told in the body's terms too (GenerationInput.fieldPath).
    return { input: { ...generationInput(b, conversation), fieldPath: (p) => responsesPath(p, origins) }, conversation, origins };
  } catch (err) {
    throw inResponsesTerms(err, origins);
  }
}

function generationInput(b: ResponsesBody, conversation: Message[]): GenerationInput {
  const messages: Message[] = [...(b.instructions ? [{ role: 'system' as const, content: b.instructions }] : []), ...conversation];
  checkToolOutputs(messages);
  if (!conversation.some((m) => m.role === 'user')) throw badRequest('missing required field: input with a user message', { fields: [{ path: 'input', message: 'needs a user message' }] });
  const tools = toTools(b.tools?.map(({ type, ...fn }) => ({ type, function: fn })));
  const choice = toToolChoice(b.tool_choice == null || typeof b.tool_choice === 'string' ? b.tool_choice : { type: 'function', function: { name: b.tool_choice.name } }, tools);
  const f = b.text?.format;
  const responseFormat = toResponseFormat(
    f?.type === 'json_schema' ? responseFormatSchema.parse({ type: 'json_schema', json_schema: { name: f.name, schema: f.schema, description: f.description, strict: f.strict } }) : f,
  );
  const lastUser = [...conversation].reverse().find((m) => m.role === 'user');
  return {
    model: b.model,
    messages,
    settings: callSettings({ temperature: b.temperature, top_p: b.top_p, max_tokens: b.max_output_tokens, user: endUser(b), reasoning_effort: b.reasoning?.effort }),
    // Responses tools are flat: a tool's function fields are the tool's own (tools.0.parameters, responsesPath).
    ...(tools ? { tools } : {}),
    ...(choice ? { toolChoice: choice } : {}),
    ...(b.parallel_tool_calls != null ? { parallelToolCalls: b.parallel_tool_calls } : {}),
    ...(responseFormat ? { responseFormat } : {}),
    stream: b.stream === true,
    options: {},
    promptText: lastUser ? messageText(lastUser) : null,
  };
}

// ---- Conversation kept for previous_response_id --------------------------------------------

interface StoredJson {
  conversation?: Message[];
  [k: string]: unknown;
}

/** The previous response's conversation and its answer; 404 when it is not the caller's own. */
async function previousConversation(db: Db, caller: Caller, id: number): Promise<Message[]> {
  const row = await findOwnGeneration(db, caller.account.id, id);
  const stored = row?.result_json ? (JSON.parse(row.result_json) as StoredJson) : null;
  if (!row || !stored?.conversation) {
    throw new GatewayError('not_found', `previous response "${responseId(id)}" not found`, { fields: [{ path: 'previous_response_id', message: 'not found' }] });
  }
  if (row.status !== 'completed') throw badRequest(`previous response "${responseId(id)}" did not complete`, { fields: [{ path: 'previous_response_id', message: `status ${row.status}` }] });
  // Its output items become turns as the same items sent back by hand would (toConversation); a
  // refusal part goes back as the assistant's text, as OpenAI takes an earlier refusal part back.
  return [...stored.conversation, ...toConversation(outputItems(generationObject(row, null))).messages];
}

/** Keeps the conversation (without instructions, as OpenAI does) beside the generation's result. */
export async function saveConversation(db: Db, generationId: number, conversation: Message[]): Promise<void> {
  await mergeResultJson(db, generationId, { conversation });
}

// ---- Response object -----------------------------------------------------------------------

export function responsesUsage(usage: unknown) {
  const u = (usage ?? {}) as Partial<ProviderUsage>;
  const input = u.input_tokens ?? 0;
  const output = u.output_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cached_input_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: u.reasoning_tokens ?? 0 },
    total_tokens: u.total_tokens ?? input + output,
  };
}

/** The answer's first message item is `msg_<id>`; a later one (text after a tool call) `msg_<id>_<n>`. */
const messageId = (id: number, n = 0) => (n === 0 ? `msg_${id}` : `msg_${id}_${n}`);
const callItemId = (id: number, index: number) => `fc_${id}_${index}`;
const textPart = (text: string) => ({ type: 'output_text' as const, text, annotations: [] as unknown[], logprobs: [] as unknown[] });
const refusalPart = (refusal: string) => ({ type: 'refusal' as const, refusal });
type MessagePart = ReturnType<typeof textPart> | ReturnType<typeof refusalPart>;
const messageOutput = (itemId: string, text: string, status: 'in_progress' | 'completed') => ({
  id: itemId,
  type: 'message' as const,
  status,
  role: 'assistant' as const,
  content: status === 'completed' ? [textPart(text)] : [],
});
const callOutput = (id: number, index: number, c: { id: string; name: string; arguments: string }, status: 'in_progress' | 'completed') => ({
  id: callItemId(id, index),
  type: 'function_call' as const,
  status,
  call_id: c.id,
  name: c.name,
  arguments: c.arguments,
});
/** A finished output item: a message of text and refusal parts, or a function call. */
type OutputItem = (Omit<ReturnType<typeof messageOutput>, 'content'> & { content: MessagePart[] }) | ReturnType<typeof callOutput>;

/** How the generation ended, in the Responses API's words. */
function statusOf(g: GenerationObject): { status: 'completed' | 'incomplete' | 'failed'; incomplete_details: { reason: string } | null } {
  if (g.status === 'failed') return { status: 'failed', incomplete_details: null };
  const reason = g.result_metadata?.finish_reason;
  if (reason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (reason === 'content-filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

/** A `response` object; `output` and `usage` are empty until the generation ends. */
function responseHead(id: number, model: string, createdAt: number, echo: ResponseEcho) {
  return {
    id: responseId(id),
    object: 'response' as const,
    created_at: createdAt,
    status: 'in_progress' as string,
    error: null as unknown,
    incomplete_details: null as unknown,
    model,
    output: [] as unknown[],
    usage: null as unknown,
    ...echo,
  };
}

/**
 * The answer's output items. In the order its parts came (answerSegments), as the stream sends
 * them: text and refusals are content parts of one message item until a function call, after
 * which text is a new message. Without segments (one kind of part, or an older result): one
 * message with the text and the refusal, then the calls.
 */
function outputItems(g: GenerationObject): OutputItem[] {
  const calls = g.tool_calls ?? [];
  const call = (i: number) => callOutput(g.id, i, { id: calls[i]!.id, name: calls[i]!.function.name, arguments: calls[i]!.function.arguments }, 'completed');
  const segments = answerSegments(g) ?? [
    ...(g.result_text || (!g.refusal && !g.tool_calls) ? [['text', Infinity] as const] : []),
    ...(g.refusal ? [['refusal', Infinity] as const] : []),
    ['tool_calls', calls.length] as const,
  ];
  const output: OutputItem[] = [];
  let content: MessagePart[] | null = null;
  let messages = 0;
  let text = 0;
  let refusal = 0;
  let called = 0;
  const closeMessage = () => {
    if (content) output.push({ ...messageOutput(messageId(g.id, messages++), '', 'completed'), content });
    content = null;
  };
  for (const [kind, end] of segments) {
    if (kind === 'text') {
      (content ??= []).push(textPart((g.result_text ?? '').slice(text, end)));
      text = end;
    } else if (kind === 'refusal') {
      (content ??= []).push(refusalPart((g.refusal ?? '').slice(refusal, end)));
      refusal = end;
    } else {
      closeMessage();
      for (; called < Math.min(end, calls.length); called++) output.push(call(called));
    }
  }
  closeMessage();
  for (; called < calls.length; called++) output.push(call(called));
  return output;
}

export function responseObject(g: GenerationObject, echo: ResponseEcho) {
  const output = outputItems(g);
  const created = Math.floor(Date.parse(g.created_at) / 1000);
  return {
    ...responseHead(g.id, g.model_slug, created, echo),
    ...statusOf(g),
    output,
    error: g.status === 'failed' ? { code: 'server_error', message: g.error ?? 'generation failed' } : null,
    usage: responsesUsage(g.usage),
    lumengate: lumengateExtension(g),
  };
}

// ---- Stream encoder ------------------------------------------------------------------------

/**
 * Named events as OpenAI sends them: response.created / in_progress, then per output item
 * output_item.added … deltas … output_item.done, then response.completed (or response.failed).
 * Every event carries `type` (its name) and a `sequence_number`; no [DONE] at the end.
 */
export function responsesEncoder(echo: ResponseEcho, includeObfuscation: boolean): StreamEncoder {
  let seq = 0;
  let head: ReturnType<typeof responseHead>;
  let genId = 0;
  let outputIndex = 0;
  let messages = 0;
  /** The open message item; its content parts in order, the last one open (output_text or refusal). */
  let message: { index: number; id: string; parts: MessagePart[]; chunks: string[] } | null = null;
  const calls = new Map<number, { index: number; id: string; name: string; args: string }>();
  /** The finished items by output index: response.completed lists exactly what was streamed. */
  const items: unknown[] = [];
  const ev = (type: string, fields: Record<string, unknown>): SseEvent => ({ event: type, data: { type, sequence_number: seq++, ...fields } });
  /** A delta event, padded when the client asked for stream_options.include_obfuscation. */
  const deltaEv = (type: string, fields: Record<string, unknown> & { delta: string }): SseEvent => ev(type, includeObfuscation ? { ...fields, obfuscation: obfuscation(fields.delta) } : fields);

  /** Ends the message's open content part: its .done event, then content_part.done. */
  const closePart = (m: NonNullable<typeof message>): SseEvent[] => {
    const content_index = m.parts.length - 1;
    const at = { item_id: m.id, output_index: m.index, content_index };
    const t = m.chunks.join('');
    m.chunks = [];
    const part = (m.parts[content_index] = m.parts[content_index]!.type === 'refusal' ? refusalPart(t) : textPart(t));
    return [
      part.type === 'refusal' ? ev('response.refusal.done', { ...at, refusal: t }) : ev('response.output_text.done', { ...at, text: t, logprobs: [] }),
      ev('response.content_part.done', { ...at, part }),
    ];
  };
  const closeMessage = (): SseEvent[] => {
    if (!message) return [];
    const m = message;
    message = null;
    const closing = closePart(m);
    const item = (items[m.index] = { ...messageOutput(m.id, '', 'completed'), content: m.parts });
    return [...closing, ev('response.output_item.done', { output_index: m.index, item })];
  };
  /** A text or refusal delta: opens the message item or a new content part where needed. */
  const contentDelta = (type: MessagePart['type'], delta: string): SseEvent[] => {
    const out: SseEvent[] = [];
    if (!message) {
      message = { index: outputIndex++, id: messageId(genId, messages++), parts: [], chunks: [] };
      out.push(ev('response.output_item.added', { output_index: message.index, item: messageOutput(message.id, '', 'in_progress') }));
    }
    const m = message;
    if (m.parts.at(-1)?.type !== type) {
      if (m.parts.length > 0) out.push(...closePart(m));
      const part = type === 'refusal' ? refusalPart('') : textPart('');
      m.parts.push(part);
      out.push(ev('response.content_part.added', { item_id: m.id, output_index: m.index, content_index: m.parts.length - 1, part }));
    }
    m.chunks.push(delta);
    const content_index = m.parts.length - 1;
    out.push(
      type === 'refusal'
        ? deltaEv('response.refusal.delta', { item_id: m.id, output_index: m.index, content_index, delta })
        : deltaEv('response.output_text.delta', { item_id: m.id, output_index: m.index, content_index, delta, logprobs: [] }),
    );
    return out;
  };
  const startCall = (i: number, id: string, name: string): SseEvent[] => {
    const c = { index: outputIndex++, id, name, args: '' };
    calls.set(i, c);
    return [...closeMessage(), ev('response.output_item.added', { output_index: c.index, item: callOutput(genId, i, { id, name, arguments: '' }, 'in_progress') })];
  };
  const argsDelta = (i: number, delta: string): SseEvent[] => {
    const c = calls.get(i)!;
    c.args += delta;
    return [deltaEv('response.function_call_arguments.delta', { item_id: callItemId(genId, i), output_index: c.index, delta })];
  };
  const failedEvent = (code: string, message: string): SseEvent[] => [
    ev('response.failed', {
      response: { ...head, status: 'failed', error: { code, message, type: openAIErrorType(code === 'client_disconnected' || code === 'output_invalid' ? 'provider_error' : (code as ErrorCode)) } },
    }),
  ];

  return {
    doneSentinel: false,
    // No reasoning; a call's end is its tool-call part's (response.function_call_arguments.done).
    sends: (p) => p.type !== 'reasoning-delta' && p.type !== 'tool-input-end',
    start({ id, model }) {
      genId = id;
      head = responseHead(id, model, Math.floor(Date.now() / 1000), echo);
      return [ev('response.created', { response: head }), ev('response.in_progress', { response: head })];
    },
    part(p) {
      switch (p.type) {
        case 'text-delta':
          return contentDelta('output_text', p.delta);
        case 'refusal-delta':
          return contentDelta('refusal', p.delta);
        case 'tool-input-start':
          return startCall(p.index, p.id, p.name);
        case 'tool-input-delta':
          return argsDelta(p.index, p.delta);
        case 'tool-call': {
          // Providers that deliver whole calls: send what the client has not seen yet, then close the item.
          const out = calls.has(p.index) ? [] : startCall(p.index, p.id, p.name);
          const c = calls.get(p.index)!;
          const rest = p.arguments.slice(c.args.length);
          if (rest) out.push(...argsDelta(p.index, rest));
          out.push(ev('response.function_call_arguments.done', { item_id: callItemId(genId, p.index), output_index: c.index, name: p.name, arguments: p.arguments }));
          const item = (items[c.index] = callOutput(genId, p.index, { id: p.id, name: p.name, arguments: p.arguments }, 'completed'));
          out.push(ev('response.output_item.done', { output_index: c.index, item }));
          return out;
        }
        default:
          return [];
      }
    },
    end(g) {
      const closing = closeMessage();
      const r = responseObject(g, echo);
      const name = r.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
      // The output the client saw, item for item (text after a tool call is its own message).
      const output = items.length > 0 ? items.filter((i) => i !== undefined) : r.output;
      return [...closing, ev(name, { response: { ...r, output, created_at: head.created_at } })];
    },
    failure: (f) => [...closeMessage(), ...failedEvent(f.code, f.message)],
    internal: (code, message) => failedEvent(code, message),
  };
}
