// Adapter from an AI SDK LanguageModelV3 (the maintained provider packages: anthropic, google) to
// our provider contract. We call doStream directly: the model packages own the wire protocol, we
// skip streamText's extra per-chunk machinery on the hot path. Our contract is modelled on theirs,
// so this is mostly renaming: messages of parts in, typed stream parts out.
import { APICallError, InvalidArgumentError, InvalidPromptError, UnsupportedFunctionalityError } from '@ai-sdk/provider';
import { Agent, fetch as undiciFetch } from 'undici';
import { boundedAnswer } from './sdk-answers.js';
import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Message,
  LanguageModelV3Prompt,
  LanguageModelV3StreamPart,
  LanguageModelV3Usage,
  SharedV3ProviderMetadata,
  SharedV3ProviderOptions,
} from '@ai-sdk/provider';
import {
  ProviderError,
  participantIndex,
  refusalPath,
  RequestRefused,
  type FieldRefusal,
  type Message,
  type Provider,
  type ProviderRequest,
  type ProviderStream,
  type ProviderMetadata,
  type ProviderUsage,
  type ReasoningBlock,
  type RequestFields,
  type StreamPart,
  type ToolCall,
  type ToolCallState,
} from './spec.js';

export interface AiSdkProviderOptions {
  /** Request fields this provider cannot take (docs/api.md): refused with 400 naming them. */
  unsupported?: (req: RequestFields) => Refusal;
  /** Provider-specific options (e.g. Anthropic's thinking budget for reasoning_effort). */
  providerOptions?: (req: ProviderRequest) => LanguageModelV3CallOptions['providerOptions'];
  /**
   * The SDK's name for this provider in provider metadata and options (`anthropic`, `google`): the
   * reasoning state of its tool calls (ToolCallState) is given back under it, and only state it
   * made is (another provider's, from a conversation that changed models, is not sent).
   */
  stateKey?: string;
  /**
   * The same model from an SDK instance whose fetch is neverSend: its doStream converts a call as
   * the real one does and stops where the request would go out. With it, a tool or response_format
   * schema the SDK itself refuses to convert (Google: an enum of mixed types) is refused before
   * anything is held, naming the place in the schema (sdkSchemaRefusal).
   */
  dryRun?: (upstreamModel: string) => LanguageModelV3;
  /** Frees the provider's connections at shutdown (UpstreamFetch.close). */
  close?: () => Promise<void>;
}

/** The fetch an AI SDK provider instance is given (upstreamFetch), and how to close its connections. */
export interface UpstreamFetch {
  fetch: typeof fetch;
  close(): Promise<void>;
}

/**
 * undici's fetch on a keep-alive pool of the provider's own with undici's timeouts off, as
 * openai-compatible.ts has: the gateway's timeouts (first token, gap, total; generation/routing.ts)
 * govern. The SDKs otherwise call Node's fetch on its default dispatcher, which cuts a response whose
 * head or next body bytes take over 300 s: a model thinking longer than that was cut (and retried
 * from the start) even where the catalog's first_token_ms and chunk_gap_ms allow it. The fetch is
 * the undici package's own, the same version as the pool: Node's built-in fetch bundles another
 * undici (6.x on Node 22), whose handler interface a 7.x pool does not promise to keep. Its answers
 * are bounded (sdk-answers.ts).
 */
export function upstreamFetch(): UpstreamFetch {
  const pool = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  return {
    fetch: (async (input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
      boundedAnswer(await undiciFetch(input, { ...init, dispatcher: pool }))) as unknown as typeof fetch,
    close: () => pool.close(),
  };
}

export function aiSdkProvider(id: string, modelFor: (upstreamModel: string) => LanguageModelV3, opts: AiSdkProviderOptions = {}): Provider {
  const { unsupported, dryRun } = opts;
  const schemaRefusal = (req: RequestFields) => (dryRun ? sdkSchemaRefusal(dryRun(req.upstreamModel), req, opts.providerOptions) : undefined);
  return {
    id,
    ...(opts.close ? { close: opts.close } : {}),
    ...(opts.stateKey ? { keepsToolCallState: true } : {}),
    ...(unsupported || dryRun ? { refuse: (req: RequestFields) => unsupported?.(req) ?? schemaRefusal(req) } : {}),
    async open(req: ProviderRequest): Promise<ProviderStream> {
      const refused = unsupported?.(req);
      if (refused) throw new RequestRefused(refused.why, refusalPath(refused));
      const model = modelFor(req.upstreamModel);
      let result;
      try {
        result = await model.doStream(callOptions(req, opts.providerOptions?.(req), opts.stateKey));
      } catch (err) {
        // Failed without an answer from upstream: if the SDK's conversion of the schemas is what
        // failed, the same refusal (and place) refuse() gives before the hold.
        const located = !req.signal.aborted && !APICallError.isInstance(err) ? await schemaRefusal(req) : undefined;
        if (located) throw new RequestRefused(located.why, refusalPath(located));
        throw toProviderError(err, req.signal);
      }
      return { parts: translate(result.stream, req.signal) };
    },
  };
}

/** What neverSend rejects with: the SDK got as far as sending, so it took the call. One instance (no stack captured per call). */
const notSent = new Error('a dry run sends nothing');

/** The fetch of an SDK instance that only converts calls (AiSdkProviderOptions.dryRun): nothing is ever sent. */
export const neverSend: typeof fetch = () => Promise.reject(notSent);

const neverAborted = new AbortController().signal;

/** Most subschemas converted on their own while looking for the refused one, over all of a request's schemas. */
const MAX_PROBES = 256;

/**
 * The first place in a request's tool and response_format schemas that the SDK refuses to
 * convert, found by that same conversion (`model` is AiSdkProviderOptions.dryRun's): the call is
 * converted without its conversation (the schemas' conversion does not depend on it) and not
 * sent. Where it fails, each tool, then response_format, is converted on its own, then its
 * subschemas (properties, items, anyOf, allOf, oneOf) for the deepest one refused on its own:
 * `tools.0.function.parameters.properties.unit`. Any error of the conversion counts, not only the
 * SDK's typed refusals: nothing was sent, so the request is what it could not take.
 */
export async function sdkSchemaRefusal(model: LanguageModelV3, req: RequestFields, providerOptions?: AiSdkProviderOptions['providerOptions']): Promise<Refusal> {
  const { tools, toolChoice, responseFormat, ...rest } = req;
  const format = responseFormat?.type === 'json_schema' ? responseFormat : undefined;
  if (!tools?.length && !format) return undefined;
  const call: ProviderRequest = { ...rest, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }], signal: neverAborted };
  const failure = (r: ProviderRequest) => conversionFailure(model, callOptions(r, providerOptions?.(r)));
  const whole = await failure({ ...call, ...(tools ? { tools } : {}), ...(toolChoice !== undefined ? { toolChoice } : {}), ...(responseFormat ? { responseFormat } : {}) });
  if (!whole) return undefined;
  const budget = { probes: MAX_PROBES };
  for (const [i, tool] of (tools ?? []).entries()) {
    const found = await refusedPlace(tool.parameters, (parameters) => failure({ ...call, tools: [{ ...tool, parameters }] }), budget);
    if (found) return { tool: i, field: ['parameters', ...found.path].join('.'), why: found.why };
  }
  if (format) {
    const found = await refusedPlace(format.schema, (schema) => failure({ ...call, responseFormat: { ...format, schema } }), budget);
    if (found) return { field: ['response_format', 'json_schema', 'schema', ...found.path].join('.'), why: found.why };
  }
  // No schema on its own: how they go together (a tool_choice, say).
  const argument = InvalidArgumentError.isInstance(whole) ? sdkArguments[whole.argument] : undefined;
  return { field: argument ?? (toolChoice !== undefined ? 'tool_choice' : 'tools'), why: whyRefused(whole) };
}

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The path of the deepest subschema of `root` the conversion refuses on its own (root: []), or undefined when it takes `root`. */
async function refusedPlace(root: JsonObject, failure: (schema: JsonObject) => Promise<Error | undefined>, budget: { probes: number }): Promise<{ path: string[]; why: string } | undefined> {
  let err = await failure(root);
  if (!err) return undefined;
  // A subschema goes with the root's definitions, so that its references resolve as they do in place.
  const defs = Object.fromEntries(['$defs', 'definitions'].filter((k) => k in root).map((k) => [k, root[k]]));
  const path: string[] = [];
  let node: JsonObject = root;
  descend: for (;;) {
    for (const [at, child] of subschemas(node)) {
      if (budget.probes-- <= 0) break descend;
      const e = await failure({ ...child, ...defs });
      if (e) {
        [node, err] = [child, e];
        path.push(...at);
        continue descend;
      }
    }
    break;
  }
  return { path, why: whyRefused(err) };
}

function* subschemas(node: JsonObject): Generator<[string[], JsonObject]> {
  if (isObject(node.properties)) for (const [k, v] of Object.entries(node.properties)) if (isObject(v)) yield [['properties', k], v];
  if (isObject(node.items)) yield [['items'], node.items];
  else if (Array.isArray(node.items)) for (const [i, v] of node.items.entries()) if (isObject(v)) yield [['items', String(i)], v];
  for (const k of ['anyOf', 'allOf', 'oneOf']) {
    const list = node[k];
    if (Array.isArray(list)) for (const [i, v] of list.entries()) if (isObject(v)) yield [[k, String(i)], v];
  }
}

/** Converts a call with the dry-run model: the error it fails with, or undefined when it would be sent. */
async function conversionFailure(model: LanguageModelV3, options: LanguageModelV3CallOptions): Promise<Error | undefined> {
  try {
    await model.doStream(options);
  } catch (err) {
    if (err === notSent) return undefined;
    return err instanceof Error ? err : new Error(String(err));
  }
  throw new Error('a dry run was answered: its model does not use neverSend');
}

/** The SDK's own words for its typed refusals; anything else it threw, said as a conversion it could not make. */
function whyRefused(err: Error): string {
  if (UnsupportedFunctionalityError.isInstance(err) || InvalidArgumentError.isInstance(err) || InvalidPromptError.isInstance(err)) return err.message;
  return `the provider's SDK cannot convert it (${err.message})`;
}

/** `stateKey`: AiSdkProviderOptions.stateKey, under which the tool calls' reasoning state goes back (none without it). */
export function callOptions(req: ProviderRequest, providerOptions?: LanguageModelV3CallOptions['providerOptions'], stateKey?: string): LanguageModelV3CallOptions {
  const f = req.responseFormat;
  return {
    prompt: toPrompt(req.messages, stateKey),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.maxTokens !== undefined ? { maxOutputTokens: req.maxTokens } : {}),
    ...(req.topP !== undefined ? { topP: req.topP } : {}),
    ...(req.stop?.length ? { stopSequences: req.stop } : {}),
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
    ...(req.frequencyPenalty !== undefined ? { frequencyPenalty: req.frequencyPenalty } : {}),
    ...(req.presencePenalty !== undefined ? { presencePenalty: req.presencePenalty } : {}),
    ...(f ? { responseFormat: f.type === 'json_schema' ? { type: 'json', schema: f.schema, name: f.name, ...(f.description ? { description: f.description } : {}) } : { type: 'json' } } : {}),
    ...(req.tools?.length
      ? {
          tools: req.tools.map((t) => ({
            type: 'function' as const,
            name: t.name,
            ...(t.description !== undefined ? { description: t.description } : {}),
            inputSchema: t.parameters as never,
            ...(t.strict !== undefined ? { strict: t.strict } : {}),
          })),
        }
      : {}),
    ...(req.toolChoice !== undefined ? { toolChoice: typeof req.toolChoice === 'string' ? { type: req.toolChoice } : { type: 'tool', toolName: req.toolChoice.name } } : {}),
    ...(providerOptions ? { providerOptions } : {}),
    abortSignal: req.signal,
    includeRawChunks: false,
  };
}

/**
 * Our messages -> the AI SDK prompt. Tool results name their call; the SDK wants the tool's name
 * too. Consecutive tool results become one tool message (as the AI SDK's own prompt conversion
 * does): Gemini wants the responses to parallel calls in one turn. Consecutive assistant messages
 * become one, their parts in order (text after the calls, as /v1/responses rebuilds a previous
 * response): Gemini wants the responses right after the turn with the calls (Anthropic's package
 * joins them itself). A call's reasoning state goes back under `stateKey` (AiSdkProviderOptions):
 * its reasoning blocks as reasoning parts right before it, those of a turn's first call at the
 * turn's start (Claude refuses a turn with calls that does not open with its thinking), and its
 * own metadata as the call's provider options.
 */
export function toPrompt(messages: Message[], stateKey?: string): LanguageModelV3Prompt {
  const toolNames = new Map<string, string>();
  const prompt: LanguageModelV3Prompt = [];
  for (const message of messages.map(toMessage)) {
    const last = prompt.at(-1);
    if (message.role === 'tool' && last?.role === 'tool') last.content.push(...message.content);
    else if (message.role === 'assistant' && last?.role === 'assistant') last.content.push(...message.content);
    else prompt.push(message);
  }
  for (const m of prompt) if (m.role === 'assistant') reasoningFirst(m.content);
  return prompt;

  /** This provider's part of some metadata, as the SDK takes it back (provider options). */
  function ours(metadata: ProviderMetadata | undefined): SharedV3ProviderOptions | undefined {
    const own = stateKey === undefined ? undefined : metadata?.[stateKey];
    return own ? ({ [stateKey!]: own } as SharedV3ProviderOptions) : undefined;
  }

  function callParts(c: ToolCall) {
    const reasoning = (c.state?.reasoning ?? []).flatMap((b) => {
      const providerOptions = ours(b.metadata);
      return providerOptions ? [{ type: 'reasoning' as const, text: b.text, providerOptions }] : [];
    });
    const providerOptions = ours(c.state?.metadata);
    return [...reasoning, { type: 'tool-call' as const, toolCallId: c.id, toolName: c.name, input: parseJson(c.arguments), ...(providerOptions ? { providerOptions } : {}) }];
  }

  function toMessage(m: Message): LanguageModelV3Message {
    switch (m.role) {
      case 'system':
        return { role: 'system', content: m.content };
      case 'user':
        return {
          role: 'user',
          content: m.content.map((p) => {
            switch (p.type) {
              case 'text':
                return { type: 'text', text: p.text };
              case 'image': {
                const data = /^data:([^;]+);base64,(.*)$/s.exec(p.url);
                return data ? { type: 'file', mediaType: data[1]!, data: data[2]! } : { type: 'file', mediaType: imageTypeOf(p.url), data: new URL(p.url) };
              }
              case 'file':
                return { type: 'file', mediaType: p.mediaType, data: p.data, ...(p.filename ? { filename: p.filename } : {}) };
              case 'audio':
                return { type: 'file', mediaType: `audio/${p.format}`, data: p.data };
            }
          }),
        };
      case 'assistant':
        for (const c of m.toolCalls ?? []) toolNames.set(c.id, c.name);
        return {
          role: 'assistant',
          content: [...(m.content ? [{ type: 'text' as const, text: m.content }] : []), ...(m.toolCalls ?? []).flatMap(callParts)],
        };
      case 'tool':
        return { role: 'tool', content: [{ type: 'tool-result', toolCallId: m.toolCallId, toolName: toolNames.get(m.toolCallId) ?? '', output: { type: 'text', value: m.content } }] };
    }
  }
}

/** Moves the reasoning right before a turn's first call to the turn's start, ahead of its text. */
function reasoningFirst(content: { type: string }[]): void {
  const call = content.findIndex((p) => p.type === 'tool-call');
  let start = call;
  while (start > 0 && content[start - 1]!.type === 'reasoning') start--;
  if (start > 0 && start < call) content.unshift(...content.splice(start, call - start));
}

/** An image URL's media type from its extension: Gemini's fileData needs a concrete one. */
function imageTypeOf(url: string): string {
  const ext = /\.(png|jpe?g|gif|webp|heic|heif)$/i.exec(new URL(url).pathname)?.[1]?.toLowerCase();
  return ext ? `image/${ext === 'jpg' ? 'jpeg' : ext}` : 'image/*';
}

/** Thinking tokens per reasoning_effort, for providers that take a budget (Anthropic, Gemini 2.5). */
export const thinkingBudget: Record<NonNullable<ProviderRequest['reasoningEffort']>, number> = { minimal: 1024, low: 2048, medium: 8192, high: 24576 };

/** The first refused field of a request, by the OpenAI name the client used. */
export type Refusal = FieldRefusal | undefined;

/**
 * Fields no AI SDK provider here takes: logprobs (neither Messages nor Gemini streams them), message
 * names, an image's detail other than "auto", and an earlier call whose arguments are not a JSON object (one cut off by max_tokens, say):
 * Claude's tool_use input and Gemini's functionCall args are objects, and the SDKs would send the
 * text as it is, for the upstream to refuse naming its own message numbers.
 */
export function commonRefusal(req: RequestFields): Refusal {
  const named = participantIndex(req.messages);
  if (named >= 0) return { field: 'name', message: named, why: 'this provider has no message names' };
  for (const [i, m] of req.messages.entries()) {
    if (m.role === 'user') {
      // OpenAI's image detail has no counterpart in either API ("auto", the provider's choice, is what they do).
      const detailed = m.content.findIndex((p) => p.type === 'image' && p.detail !== undefined && p.detail !== 'auto');
      if (detailed >= 0) return { field: `content.${detailed}.image_url.detail`, message: i, why: 'this provider has no image detail setting (only "auto")' };
    }
    if (m.role !== 'assistant' || !m.toolCalls) continue;
    const bad = m.toolCalls.findIndex((c) => !isObject(parseJson(c.arguments)));
    if (bad >= 0) return { field: `tool_calls.${bad}.function.arguments`, message: i, why: "not a JSON object: this provider takes a call's arguments as an object" };
  }
  if (req.logprobs) return { field: 'logprobs', why: 'not available from this provider' };
  if (req.topLogprobs !== undefined) return { field: 'top_logprobs', why: 'not available from this provider' };
  return undefined;
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

async function* translate(stream: ReadableStream<LanguageModelV3StreamPart>, signal: AbortSignal): AsyncGenerator<StreamPart> {
  const reader = stream.getReader();
  // The SDK names tool calls by id; our parts carry their position in the answer too.
  const index = new Map<string, number>();
  const indexOf = (id: string) => {
    let i = index.get(id);
    if (i === undefined) index.set(id, (i = index.size));
    return i;
  };
  // Reasoning blocks under way by the SDK's id, and those ended since the last call that came with
  // metadata (Claude's signature, redacted thinking's data): they are the next call's state.
  const blocks = new Map<string, { text: string[]; metadata: ProviderMetadata | undefined }>();
  let ended: ReasoningBlock[] = [];
  try {
    for (;;) {
      let next;
      try {
        next = await reader.read();
      } catch (err) {
        throw toProviderError(err, signal);
      }
      if (next.done) break;
      const part = next.value;
      switch (part.type) {
        case 'text-delta':
          if (part.delta.length > 0) yield { type: 'text-delta', delta: part.delta };
          break;
        case 'reasoning-start':
          blocks.set(part.id, { text: [], metadata: merged(undefined, part.providerMetadata) });
          break;
        case 'reasoning-delta': {
          const block = blocks.get(part.id);
          if (block) {
            // Claude's signature comes as an empty delta with it.
            block.text.push(part.delta);
            block.metadata = merged(block.metadata, part.providerMetadata);
          }
          if (part.delta.length > 0) yield { type: 'reasoning-delta', delta: part.delta };
          break;
        }
        case 'reasoning-end': {
          const block = blocks.get(part.id);
          blocks.delete(part.id);
          const metadata = merged(block?.metadata, part.providerMetadata);
          if (block && metadata) ended.push({ text: block.text.join(''), metadata });
          break;
        }
        case 'tool-input-start':
          yield { type: 'tool-input-start', index: indexOf(part.id), id: part.id, name: part.toolName };
          break;
        case 'tool-input-delta':
          if (part.delta.length > 0) yield { type: 'tool-input-delta', index: indexOf(part.id), delta: part.delta };
          break;
        case 'tool-input-end':
          yield { type: 'tool-input-end', index: indexOf(part.id) };
          break;
        case 'tool-call': {
          const state: ToolCallState = { ...(ended.length ? { reasoning: ended } : {}), ...(part.providerMetadata ? { metadata: part.providerMetadata } : {}) };
          ended = [];
          yield {
            type: 'tool-call',
            index: indexOf(part.toolCallId),
            id: part.toolCallId,
            name: part.toolName,
            arguments: part.input || '{}',
            ...(state.reasoning || state.metadata ? { state } : {}),
          };
          break;
        }
        case 'error':
          throw toProviderError(part.error, signal);
        case 'finish':
          // The SDK reports a dropped connection or an unparsable stream as finishReason "error"
          // or "other" with no usage; only a real end of message counts as finished. Gemini has no
          // terminal event: a stream cut before the chunk carrying finishReason still gets a
          // synthetic finish from the SDK, recognisable by its missing raw reason.
          if (part.finishReason.unified === 'error') throw new ProviderError('upstream stream ended with an error');
          if (part.finishReason.raw === undefined) throw new ProviderError('upstream stream ended without a finish reason');
          yield { type: 'finish', finishReason: part.finishReason.unified, usage: usageOf(part.usage) };
          return;
        default:
          break;
      }
    }
    if (signal.aborted) throw toProviderError(signal.reason, signal);
    throw new ProviderError('upstream stream ended without a finish event');
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Metadata seen so far with more of it (one level deep: each provider's own keys). */
function merged(metadata: ProviderMetadata | undefined, more: SharedV3ProviderMetadata | undefined): ProviderMetadata | undefined {
  if (!more) return metadata;
  const out: ProviderMetadata = { ...metadata };
  for (const [key, value] of Object.entries(more)) out[key] = { ...out[key], ...value };
  return out;
}

function usageOf(u: LanguageModelV3Usage): ProviderUsage | null {
  const input = u.inputTokens.total ?? null;
  const output = u.outputTokens.total ?? null;
  if (input === null && output === null) return null;
  return {
    input_tokens: input,
    output_tokens: output,
    total_tokens: input !== null && output !== null ? input + output : null,
    reasoning_tokens: u.outputTokens.reasoning ?? null,
    cached_input_tokens: u.inputTokens.cacheRead ?? null,
  };
}

/** Maps the SDK's APICallError / network errors to ProviderError; aborts pass through unchanged. */
export function toProviderError(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? err;
  if (err instanceof ProviderError) return err;
  // One of ours that the SDK wrapped: a bound on the answer's body (sdk-answers.ts) failed its stream.
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof ProviderError) return cause;
  const refused = refusedBySdk(err);
  if (refused) return refused;
  const e = err as { statusCode?: number; message?: string; isRetryable?: boolean; data?: unknown } | undefined;
  // The SDK reports a connection dropped mid-body as an APICallError carrying the 200 of the
  // accepted response; that is a network failure (no error status, retryable), not a refusal.
  const status = typeof e?.statusCode === 'number' && e.statusCode >= 400 ? e.statusCode : undefined;
  const message = status === undefined && e?.statusCode !== undefined ? `upstream stream failed: ${causeChain(err)}` : describe(err);
  return new ProviderError(message, { status, cause: err, retryable: status === undefined ? true : status === 429 || status >= 500 });
}

/** The AI SDK's argument names, as the client named them (OpenAI's). */
const sdkArguments: Record<string, string> = {
  prompt: 'messages',
  maxOutputTokens: 'max_tokens',
  temperature: 'temperature',
  topP: 'top_p',
  stopSequences: 'stop',
  seed: 'seed',
  frequencyPenalty: 'frequency_penalty',
  presencePenalty: 'presence_penalty',
  responseFormat: 'response_format',
  tools: 'tools',
  toolChoice: 'tool_choice',
};

/**
 * The SDK's own refusals, raised while it builds the request and before anything is sent (a
 * prompt it cannot convert, a schema or option the provider lacks): the request's fault, not the
 * route's, so a 400 that is never retried or counted against the breaker (docs/api.md).
 */
function refusedBySdk(err: unknown): RequestRefused | undefined {
  if (UnsupportedFunctionalityError.isInstance(err)) return new RequestRefused(err.message);
  if (InvalidPromptError.isInstance(err)) return new RequestRefused(err.message, 'messages');
  if (InvalidArgumentError.isInstance(err)) return new RequestRefused(err.message, sdkArguments[err.argument]);
  return undefined;
}

function describe(err: unknown): string {
  if (err && typeof err === 'object') {
    const data = (err as { data?: { error?: { message?: string } } }).data;
    if (data?.error?.message) return data.error.message;
    const msg = (err as { message?: unknown }).message;
    if (typeof msg === 'string' && msg) return msg;
  }
  if (typeof err === 'string') return err;
  return 'upstream provider failed';
}

/** "terminated: other side closed" from an error's nested causes. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  let cur = (err as { cause?: unknown } | undefined)?.cause;
  while (cur instanceof Error && parts.length < 4) {
    parts.push(cur.message);
    cur = cur.cause;
  }
  return parts.join(': ') || describe(err);
}
