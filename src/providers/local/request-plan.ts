// What a request asks of a local model, checked before anything is held (refusedByLocal, the
// provider's refuse) and again before a model is loaded or a sequence taken: fields the local
// provider cannot honour are refused by name (400), never dropped.
import type { ChatHistoryItem, ChatModelFunctions, GbnfJsonSchema } from 'node-llama-cpp';
import { RequestRefused, participantIndex, refusalPath, type FieldRefusal, type RequestFields, type ToolDefinition } from '../spec.js';
import { HistoryError, toChatHistory } from './chat-history.js';
import { UnsupportedSchemaError, toGbnfSchema } from './json-schema.js';

/** How the answer is generated. */
export type OutputMode =
  | { kind: 'text' }
  /** Free text constrained by a grammar: any JSON value (`json_object`) or a JSON schema. */
  | { kind: 'json'; schema?: GbnfJsonSchema }
  /** The model may call these functions through its chat wrapper's native syntax (tool_choice auto). */
  | { kind: 'functions'; functions: ChatModelFunctions }
  /** The model must call a tool: a grammar forces `{"name": …, "arguments": …}` (tool_choice required or named). */
  | { kind: 'forced-tool'; schema: GbnfJsonSchema; tools: ToolDefinition[] };

export interface RequestPlan {
  history: ChatHistoryItem[];
  output: OutputMode;
}

export function planRequest(req: RequestFields): RequestPlan {
  const refused = unsupportedByLocal(req);
  if (refused) throw new LocalRefusal(refused);
  let history: ChatHistoryItem[];
  try {
    history = toChatHistory(req.messages);
  } catch (err) {
    if (err instanceof HistoryError) throw new LocalRefusal({ field: 'messages', message: err.index, why: `${LOCAL} (${err.message})` });
    throw err;
  }
  const output = outputMode(req);
  // The grammar makes the call well-formed; this tells the model which tools it is choosing from.
  if (output.kind === 'forced-tool') history.unshift({ type: 'system', text: forcedToolInstructions(output.tools) });
  return { history, output };
}

function forcedToolInstructions(tools: ToolDefinition[]): string {
  const list = tools.map((t) => JSON.stringify({ name: t.name, description: t.description, parameters: t.parameters }));
  return `Call one of these tools. Answer only with JSON of the form {"name": <tool name>, "arguments": <its parameters>}.\nTools:\n${list.join('\n')}`;
}

/**
 * The first field of `req` local models cannot take (Provider.refuse), so that the lifecycle
 * refuses it before anything is counted or held: the plan, made without a model, or its refusal.
 */
export function refusedByLocal(req: RequestFields): FieldRefusal | undefined {
  try {
    planRequest(req);
    return undefined;
  } catch (err) {
    if (err instanceof LocalRefusal) return err.refusal;
    throw err;
  }
}

const LOCAL = 'not supported by local models';

/** open()'s refusal (messages.1.content: …), carrying the FieldRefusal that refuse() answers. */
class LocalRefusal extends RequestRefused {
  constructor(readonly refusal: FieldRefusal) {
    super(refusal.why, refusalPath(refusal));
  }
}

/** The request fields this provider cannot honour (refused by name, never dropped). */
function unsupportedByLocal(req: RequestFields): FieldRefusal | undefined {
  const media = req.messages.findIndex((m) => m.role === 'user' && m.content.some((p) => p.type !== 'text'));
  if (media >= 0) return { field: 'content', message: media, why: `${LOCAL} (non-text content)` };
  const named = participantIndex(req.messages);
  if (named >= 0) return { field: 'name', message: named, why: LOCAL };
  if (req.logprobs) return { field: 'logprobs', why: LOCAL };
  if (req.topLogprobs !== undefined) return { field: 'top_logprobs', why: LOCAL };
  if (req.reasoningEffort !== undefined) return { field: 'reasoning_effort', why: LOCAL };
  const toolsOffered = !!req.tools?.length && req.toolChoice !== 'none';
  const json = req.responseFormat && req.responseFormat.type !== 'text';
  // node-llama-cpp takes either a grammar or functions for one generation, never both.
  if (toolsOffered && json) return { field: 'response_format', why: `${LOCAL} (together with tools)` };
  if (req.toolChoice !== undefined && typeof req.toolChoice === 'object' && !req.tools?.some((t) => t.name === (req.toolChoice as { name: string }).name)) {
    return { field: 'tool_choice', why: `${LOCAL} (no tool named ${req.toolChoice.name})` };
  }
  if ((req.toolChoice === 'required' || typeof req.toolChoice === 'object') && !req.tools?.length) return { field: 'tool_choice', why: `${LOCAL} (without tools)` };
  return undefined;
}

function outputMode(req: RequestFields): OutputMode {
  const format = req.responseFormat;
  if (format?.type === 'json_object') return { kind: 'json' };
  if (format?.type === 'json_schema') return { kind: 'json', schema: schemaFor('response_format', format.schema) };
  const tools = req.tools ?? [];
  if (!tools.length || req.toolChoice === 'none') return { kind: 'text' };
  const choice = req.toolChoice ?? 'auto';
  if (choice === 'auto') {
    return { kind: 'functions', functions: Object.fromEntries(tools.map((t) => [t.name, { description: t.description, params: schemaFor('tools', t.parameters, t.name) }])) };
  }
  const chosen = choice === 'required' ? tools : tools.filter((t) => t.name === choice.name);
  const calls = chosen.map((t): GbnfJsonSchema => ({
    type: 'object',
    properties: { name: { const: t.name }, arguments: schemaFor('tools', t.parameters, t.name) },
    required: ['name', 'arguments'],
    additionalProperties: false,
  }));
  return { kind: 'forced-tool', schema: calls.length === 1 ? calls[0]! : { oneOf: calls }, tools: chosen };
}

function schemaFor(field: string, schema: unknown, tool?: string): GbnfJsonSchema {
  try {
    return toGbnfSchema(schema);
  } catch (err) {
    if (err instanceof UnsupportedSchemaError) throw new LocalRefusal({ field, why: `${LOCAL} (${tool ? `tool ${tool}: ` : ''}schema ${err.message})` });
    throw err;
  }
}
