// OpenAI's chat format (messages of content parts, tools, tool_choice, response_format) as zod
// schemas, and its translation to the provider contract (src/providers/spec.ts). /api/v2 and /v1
// take the same shapes (docs/api.md), so both parse them here.
import { z } from 'zod';
import { badRequest, unsupportedField, validationError } from '../core/errors.js';
import type { ContentPart, Message, ResponseFormat, ToolChoice, ToolDefinition } from '../providers/spec.js';
import { safeParseReporting } from '../core/zod-parse.js';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imageUrl = z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() });
const imagePart = z.object({ type: z.literal('image_url'), image_url: z.union([z.string(), imageUrl]) });
const filePart = z.object({
  type: z.literal('file'),
  file: z.object({ file_data: z.string().optional(), file_id: z.string().optional(), filename: z.string().optional() }),
});
const audioPart = z.object({ type: z.literal('input_audio'), input_audio: z.object({ data: z.string(), format: z.string() }) });
const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });
export const contentPartSchema = z.discriminatedUnion('type', [textPart, imagePart, filePart, audioPart]);
// /api/v2 and /v1 refuse a key a content part or its image_url, file or input_audio object does not have
// (messages.0.content.1.foo, messages.0.content.1.image_url.foo).
const strictTextPart = textPart.strict();
const strictContentPart = z.discriminatedUnion('type', [
  strictTextPart,
  imagePart.extend({ image_url: z.union([z.string(), imageUrl.strict()]) }).strict(),
  filePart.extend({ file: filePart.shape.file.strict() }).strict(),
  audioPart.extend({ input_audio: audioPart.shape.input_audio.strict() }).strict(),
]);

const toolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

const systemMessage = z.object({ role: z.enum(['system', 'developer']), content: z.union([z.string(), z.array(textPart)]), name: z.string().optional() });
const userMessage = z.object({ role: z.literal('user'), content: z.union([z.string(), z.array(contentPartSchema)]), name: z.string().optional() });
const assistantMessage = z.object({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(z.union([textPart, refusalPart])), z.null()]).optional(),
  tool_calls: z.array(toolCallSchema).optional(),
  refusal: z.string().nullable().optional(),
  name: z.string().optional(),
  // What clients send back of an earlier answer (docs/api.md): the AI SDK's openai-compatible
  // provider returns the reasoning it read (accepted, not forwarded); the openai SDK's types have
  // these two, and only null asks for nothing.
  reasoning_content: z.string().nullable().optional(),
  function_call: z.null().optional(),
  audio: z.null().optional(),
});
// LangChain names a tool result after its tool.
const toolMessage = z.object({ role: z.literal('tool'), tool_call_id: z.string().min(1), content: z.union([z.string(), z.array(textPart)]), name: z.string().optional() });

/** A message's shape, keys it does not have stripped (the type toMessages takes); bodies are parsed with strictChatMessageSchema. */
export const chatMessageSchema = z.discriminatedUnion('role', [systemMessage, userMessage, assistantMessage, toolMessage]);
// /api/v2 and /v1 refuse keys a tool call or its function does not have (messages.1.tool_calls.0.foo). `index`
// is the call's place in a streamed answer, which clients that rebuild calls from the deltas send
// back: taken and not forwarded (the array's order is the calls' order).
const strictToolCall = toolCallSchema.extend({ index: z.number().int().nonnegative().optional(), function: toolCallSchema.shape.function.strict() }).strict();
/** /api/v2's and /v1's messages: nothing silently dropped, so a key it does not know is refused by name. */
export const strictChatMessageSchema = z.discriminatedUnion('role', [
  systemMessage.extend({ content: z.union([z.string(), z.array(strictTextPart)]) }).strict(),
  userMessage.extend({ content: z.union([z.string(), z.array(strictContentPart)]) }).strict(),
  assistantMessage
    .extend({
      content: z.union([z.string(), z.array(z.union([strictTextPart, refusalPart.strict()])), z.null()]).optional(),
      tool_calls: z.array(strictToolCall).optional(),
    })
    .strict(),
  toolMessage.extend({ content: z.union([z.string(), z.array(strictTextPart)]) }).strict(),
]);
export type ChatMessageBody = z.infer<typeof chatMessageSchema>;

export const toolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

/** /api/v2's and /v1's tool definitions: a key a tool or its function does not have is refused by name (tools.0.function.foo). */
export const strictToolSchema = toolSchema.extend({ function: toolSchema.shape.function.strict() }).strict();

/**
 * A field that is one of some strings or an object (tool_choice), parsed by the one of the two the
 * value is. A z.union the value matches neither side of is only "Invalid input" at the field; this
 * way a bad string gets `allowed` (what the field takes) and a bad object names its own field
 * (tool_choice.function.name), as the rest of a body's errors do. The union is still what the type
 * and the OpenAPI schema are made of (a preprocess documents the schema it feeds).
 */
export function stringOrObject<S extends z.ZodType<string>, O extends z.ZodType<object>>(strings: S, object: O, allowed: string) {
  return z.preprocess(
    (value, ctx) => {
      const side = typeof value === 'string' ? strings : typeof value === 'object' && value !== null && !Array.isArray(value) ? object : null;
      const parsed = side ? safeParseReporting(side, value) : undefined;
      // Its issues, paths relative to the field, stop the parse there; a value of neither kind gets the union's own issue.
      for (const issue of parsed?.error?.issues ?? []) ctx.addIssue({ ...issue, message: issue.code === 'invalid_value' && issue.path.length === 0 ? allowed : issue.message });
      return value;
    },
    z.union([strings, object], { error: allowed }),
  );
}

const toolChoiceMode = z.enum(['auto', 'none', 'required']);
const namedToolChoice = z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) });
const toolChoiceAllowed = '"none", "auto", "required", or {"type": "function", "function": {"name": …}} naming one of the tools';
export const toolChoiceSchema = stringOrObject(toolChoiceMode, namedToolChoice, toolChoiceAllowed);
/** /api/v2's and /v1's tool_choice: a key a named choice or its function does not have is refused by name (tool_choice.function.foo). */
export const strictToolChoiceSchema = stringOrObject(toolChoiceMode, namedToolChoice.extend({ function: namedToolChoice.shape.function.strict() }).strict(), toolChoiceAllowed);

const textFormat = z.object({ type: z.literal('text') });
const jsonObjectFormat = z.object({ type: z.literal('json_object') });
const jsonSchemaFormat = z.object({
  type: z.literal('json_schema'),
  json_schema: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    schema: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});
export const responseFormatSchema = z.discriminatedUnion('type', [textFormat, jsonObjectFormat, jsonSchemaFormat]);
/** /api/v2's and /v1's response_format: a key a format or its json_schema does not have is refused by name (response_format.json_schema.foo). */
export const strictResponseFormatSchema = z.discriminatedUnion('type', [
  textFormat.strict(),
  jsonObjectFormat.strict(),
  jsonSchemaFormat.extend({ json_schema: jsonSchemaFormat.shape.json_schema.strict() }).strict(),
]);

const text = (c: string | { text: string }[] | null | undefined): string => (typeof c === 'string' ? c : (c ?? []).map((p) => p.text).join(''));

export function contentParts(c: string | z.infer<typeof contentPartSchema>[], path: string): ContentPart[] {
  if (typeof c === 'string') return [{ type: 'text', text: c }];
  return c.map((p, i): ContentPart => {
    switch (p.type) {
      case 'text':
        return { type: 'text', text: p.text };
      case 'image_url': {
        const url = typeof p.image_url === 'string' ? p.image_url : p.image_url.url;
        if (!/^https:\/\//i.test(url) && !/^data:image\/[a-z0-9.+-]+;base64,/i.test(url)) {
          throw validationError([{ path: `${path}.content.${i}.image_url.url`, message: 'an https URL or a data:image/…;base64, URL' }]);
        }
        const detail = typeof p.image_url === 'string' ? undefined : p.image_url.detail;
        return { type: 'image', url, ...(detail ? { detail } : {}) };
      }
      case 'file': {
        const m = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+);base64,(.*)$/is.exec(p.file.file_data ?? '');
        if (!m) throw validationError([{ path: `${path}.content.${i}.file.file_data`, message: 'a data:<media type>;base64, URL (file_id is not supported)' }]);
        // Beside inline data, a file_id would otherwise be dropped: refused by name (docs/api.md).
        if (p.file.file_id !== undefined) throw unsupportedField(`${path}.content.${i}.file.file_id`, 'not supported (send the file inline as file_data)');
        return { type: 'file', mediaType: m[1]!.toLowerCase(), data: m[2]!, ...(p.file.filename ? { filename: p.file.filename } : {}) };
      }
      case 'input_audio':
        return { type: 'audio', data: p.input_audio.data, format: p.input_audio.format };
    }
  });
}

/** OpenAI chat messages -> the provider contract. `pathOf(i)` names message i in errors ("messages.0"). */
export function toMessages(body: ChatMessageBody[], pathOf: (i: number) => string = (i) => `messages.${i}`): Message[] {
  const known = new Set<string>();
  return body.map((m, i): Message => {
    const at = pathOf(i);
    switch (m.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: text(m.content), ...named(m.name) };
      case 'user':
        return { role: 'user', content: contentParts(m.content, at), ...named(m.name) };
      case 'assistant': {
        const calls = (m.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
        for (const c of calls) known.add(c.id);
        // A refusal is the turn's text, as a refusal part is; reasoning_content is not sent back (docs/api.md).
        const content = Array.isArray(m.content) ? m.content.map((p) => (p.type === 'text' ? p.text : p.refusal)).join('') : m.content || m.refusal || '';
        return { role: 'assistant', content, ...(calls.length ? { toolCalls: calls } : {}), ...named(m.name) };
      }
      case 'tool':
        if (!known.has(m.tool_call_id)) {
          throw validationError([{ path: `${at}.tool_call_id`, message: `"${m.tool_call_id}" answers no tool call of an earlier assistant message` }]);
        }
        return { role: 'tool', toolCallId: m.tool_call_id, content: text(m.content), ...named(m.name) };
    }
  });
}

const named = (name: string | undefined) => (name !== undefined ? { name } : {});

export function toTools(tools: z.infer<typeof toolSchema>[] | null | undefined): ToolDefinition[] | undefined {
  if (!tools?.length) return undefined;
  return tools.map((t) => ({
    name: t.function.name,
    ...(t.function.description !== undefined ? { description: t.function.description } : {}),
    parameters: t.function.parameters ?? { type: 'object', properties: {} },
    ...(t.function.strict != null ? { strict: t.function.strict } : {}),
  }));
}

export function toToolChoice(c: z.infer<typeof toolChoiceSchema> | null | undefined, tools: ToolDefinition[] | undefined, path = 'tool_choice'): ToolChoice | undefined {
  if (c == null) return undefined;
  if (typeof c !== 'string' && !tools?.some((t) => t.name === c.function.name)) {
    throw validationError([{ path: `${path}.function.name`, message: `"${c.function.name}" is not one of the tools` }]);
  }
  if (c !== 'none' && c !== 'auto' && !tools) throw badRequest(`${path} needs tools`, { fields: [{ path, message: 'needs tools' }] });
  return typeof c === 'string' ? c : { name: c.function.name };
}

export function toResponseFormat(f: z.infer<typeof responseFormatSchema> | null | undefined): ResponseFormat | undefined {
  if (!f || f.type === 'text') return undefined;
  if (f.type === 'json_object') return { type: 'json_object' };
  const s = f.json_schema;
  return {
    type: 'json_schema',
    name: s.name,
    schema: s.schema ?? { type: 'object' },
    ...(s.description !== undefined ? { description: s.description } : {}),
    ...(s.strict != null ? { strict: s.strict } : {}),
  };
}
