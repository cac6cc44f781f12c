// Any OpenAI-compatible Chat Completions upstream: OpenAI, DeepSeek, xAI, OpenRouter, Ollama, vLLM,
// llama.cpp's server. Always Chat Completions (the common denominator) and always
// stream_options.include_usage, so usage arrives in streams even where it is opt-in.
// On undici with one keep-alive pool per provider (chat streams on its dispatch() through
// upstream-call.ts, embeddings on request()), and eventsource-parser for SSE:
// both the AI SDK model and the official `openai` SDK go through fetch and WHATWG streams, which
// cost ~0.9 ms of CPU per upstream request on this machine against ~0.2 ms here (docs/BENCHMARKS.md).
// Behaviour matches ai-sdk.ts: ProviderError on HTTP errors, in-stream errors, resets and
// truncation; an abort of req.signal closes the upstream connection.
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Agent, request, type Dispatcher } from 'undici';
import type { ProviderConfig } from './config.js';
import {
  ProviderError,
  ToolCallAssembler,
  type EmbeddingRequest,
  type EmbeddingResult,
  type FinishReason,
  type Message,
  type Provider,
  type ProviderRequest,
  type ProviderStream,
  type ProviderUsage,
  type StreamPart,
  type TokenLogprob,
} from './spec.js';
import { failure, httpError } from './upstream-errors.js';
import { embeddingsLimit, lastBlankLine, MAX_EVENT_CHARS, readBounded } from './body-limit.js';
import { callUpstream, type BodySink, type UpstreamBody, type UpstreamResponse } from './upstream-call.js';

/** The parts of an OpenAI chat.completion.chunk this module reads. */
interface ChatCompletionChunk {
  choices?: {
    delta?: {
      content?: string | null;
      /** DeepSeek, vLLM and OpenRouter stream reasoning beside the content. */
      reasoning_content?: string | null;
      reasoning?: string | null;
      /** OpenAI's refusal (structured output), streamed beside a null content. */
      refusal?: string | null;
      tool_calls?: { index?: number; id?: string | null; function?: { name?: string | null; arguments?: string | null } }[] | null;
    };
    finish_reason?: string | null;
    /** With `logprobs: true`: the tokens of this chunk's content. */
    logprobs?: { content?: TokenLogprob[] | null } | null;
  }[];
  usage?: OpenAIUsage | null;
  error?: { message?: string };
}

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  /** DeepSeek's cached input: it documents these instead of prompt_tokens_details. */
  prompt_cache_hit_tokens?: number | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

export function openAICompatibleProvider(id: string, cfg: ProviderConfig): Provider {
  const chatUrl = new URL(`${cfg.base_url.replace(/\/+$/, '')}/chat/completions`);
  const embeddingsUrl = `${cfg.base_url.replace(/\/+$/, '')}/embeddings`;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    ...cfg.headers,
    // Local servers (Ollama, vLLM) take no key: send no Authorization header at all.
    ...(cfg.api_key ? { authorization: `Bearer ${cfg.api_key}` } : {}),
  };
  // Keep-alive sockets per origin, no limit on how many (each open stream holds one). Timeouts are
  // the gateway's (generation/routing.ts: first token, gap, total), so undici's own are off.
  const pool = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  return {
    id,
    async open(req: ProviderRequest): Promise<ProviderStream> {
      const body = JSON.stringify(requestBody(req));
      let res: UpstreamResponse;
      try {
        res = await callUpstream(pool, chatUrl, { method: 'POST', headers, body, signal: req.signal });
      } catch (err) {
        throw failure(err, req.signal);
      }
      // Anything but 2xx is a refusal (undici follows no redirects; a 3xx body is no event stream).
      if (res.statusCode < 200 || res.statusCode >= 300) throw await httpError(res, req.signal);
      return { parts: new ChatCompletionStream(res.body, req.signal) };
    },
    async embed(req: EmbeddingRequest): Promise<EmbeddingResult> {
      const body = JSON.stringify({
        model: req.upstreamModel,
        input: req.input,
        encoding_format: 'float',
        ...(req.dimensions ? { dimensions: req.dimensions } : {}),
        ...(req.user !== undefined ? { user: req.user } : {}),
      });
      let res: Dispatcher.ResponseData;
      try {
        res = await request(embeddingsUrl, { method: 'POST', headers: { ...headers, accept: 'application/json' }, body, signal: req.signal, dispatcher: pool });
      } catch (err) {
        throw failure(err, req.signal);
      }
      if (res.statusCode < 200 || res.statusCode >= 300) throw await httpError(res, req.signal);
      let json: { data?: { index: number; embedding: number[] }[]; usage?: { prompt_tokens?: number; total_tokens?: number } };
      try {
        // Bounded by what was asked (body-limit.ts): a misbehaving upstream must not fill the memory.
        json = JSON.parse(Buffer.from(await readBounded(res, embeddingsLimit(req.input.length))).toString('utf8')) as typeof json;
      } catch (err) {
        throw failure(err, req.signal);
      }
      if (!Array.isArray(json.data) || json.data.length !== req.input.length) throw new ProviderError('upstream answered embeddings without one vector per input');
      const input = json.usage?.prompt_tokens ?? null;
      return {
        embeddings: [...json.data].sort((a, b) => a.index - b.index).map((d) => d.embedding),
        usage: { input_tokens: input, output_tokens: 0, total_tokens: json.usage?.total_tokens ?? input },
      };
    },
    close: () => pool.close(),
  };
}

/** Our request -> a Chat Completions body, with the model's quirks applied (docs/api.md). */
export function requestBody(req: ProviderRequest): Record<string, unknown> {
  const caps = req.capabilities ?? {};
  const body: Record<string, unknown> = { model: req.upstreamModel, messages: resultsAfterCalls(req.messages).map(wireMessage) };
  if (req.temperature !== undefined && (caps.fixedTemperature === undefined || caps.fixedTemperature === req.temperature)) body.temperature = req.temperature;
  if (!caps.noSampling) {
    if (req.topP !== undefined) body.top_p = req.topP;
    if (req.frequencyPenalty !== undefined) body.frequency_penalty = req.frequencyPenalty;
    if (req.presencePenalty !== undefined) body.presence_penalty = req.presencePenalty;
  }
  if (req.maxTokens !== undefined) body[caps.maxCompletionTokens ? 'max_completion_tokens' : 'max_tokens'] = req.maxTokens;
  if (req.stop?.length) body.stop = req.stop;
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.reasoningEffort !== undefined) body.reasoning_effort = req.reasoningEffort;
  if (req.user !== undefined) body.user = req.user;
  if (req.logprobs !== undefined) body.logprobs = req.logprobs;
  if (req.topLogprobs !== undefined) body.top_logprobs = req.topLogprobs;
  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.parameters, ...(t.strict !== undefined ? { strict: t.strict } : {}) },
    }));
  }
  if (req.toolChoice !== undefined) body.tool_choice = typeof req.toolChoice === 'string' ? req.toolChoice : { type: 'function', function: { name: req.toolChoice.name } };
  if (req.parallelToolCalls !== undefined) body.parallel_tool_calls = req.parallelToolCalls;
  if (req.responseFormat) {
    const f = req.responseFormat;
    body.response_format =
      f.type === 'json_schema'
        ? {
            type: 'json_schema',
            json_schema: { name: f.name, schema: f.schema, ...(f.description !== undefined ? { description: f.description } : {}), ...(f.strict !== undefined ? { strict: f.strict } : {}) },
          }
        : { type: f.type };
  }
  body.stream = true;
  body.stream_options = { include_usage: true };
  return body;
}

/**
 * Chat Completions takes a tool_calls message's results right after it (OpenAI refuses a request
 * with anything between). Where assistant messages follow one another before the results (text an
 * answer has after its calls, as /v1/responses rebuilds a previous response), each is sent with the
 * results of its own calls after it; results that answer none of them follow, as they came.
 */
export function resultsAfterCalls(messages: Message[]): Message[] {
  if (!messages.some((m, i) => m.role === 'assistant' && messages[i + 1]?.role === 'assistant')) return messages;
  const run = (from: number, role: Message['role']) => {
    let end = from;
    while (messages[end]?.role === role) end++;
    return messages.slice(from, end);
  };
  const out: Message[] = [];
  for (let i = 0; i < messages.length;) {
    const turns = run(i, 'assistant');
    const results = run(i + turns.length, 'tool');
    if (turns.length < 2 || results.length === 0) {
      out.push(...(turns.length ? turns : [messages[i]!]));
      i += turns.length || 1;
      continue;
    }
    const left = new Set(results);
    for (const turn of turns) {
      out.push(turn);
      const ids = new Set(turn.role === 'assistant' ? turn.toolCalls?.map((c) => c.id) : []);
      for (const r of left) {
        if (r.role === 'tool' && ids.has(r.toolCallId)) {
          out.push(r);
          left.delete(r);
        }
      }
    }
    out.push(...left);
    i += turns.length + results.length;
  }
  return out;
}

function wireMessage(m: Message): Record<string, unknown> {
  const wire = wireMessageBody(m);
  return m.name !== undefined ? { ...wire, name: m.name } : wire;
}

function wireMessageBody(m: Message): Record<string, unknown> {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user':
      // Plain text stays a string: the widest-supported form (some servers take no part arrays).
      if (m.content.every((p) => p.type === 'text')) return { role: 'user', content: m.content.map((p) => p.text).join('') };
      return {
        role: 'user',
        content: m.content.map((p) => {
          switch (p.type) {
            case 'text':
              return { type: 'text', text: p.text };
            case 'image':
              return { type: 'image_url', image_url: { url: p.url, ...(p.detail ? { detail: p.detail } : {}) } };
            case 'file':
              return { type: 'file', file: { file_data: `data:${p.mediaType};base64,${p.data}`, ...(p.filename ? { filename: p.filename } : {}) } };
            case 'audio':
              return { type: 'input_audio', input_audio: { data: p.data, format: p.format } };
          }
        }),
      };
    case 'assistant':
      return m.toolCalls?.length
        ? { role: 'assistant', content: m.content || null, tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
        : { role: 'assistant', content: m.content };
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  }
}

const LF = Buffer.from('\n');

/** Input bytes received while the reader had parts left unread, past which the upstream is paused. */
const BACKLOG_BYTES = 64 * 1024;

/**
 * The upstream's SSE turned into parts as its bytes arrive: UpstreamBody hands each chunk over in
 * undici's callback, the parser runs there, and the parts wait in a queue for the reader. A reader
 * waiting for the next part costs one promise. The async generator this replaces read the body
 * through the body's own async generator, three promise layers and a generator resume per event,
 * ~0.4 KB per event that a 1000-stream load promoted to the old generation (bench/NOTES.md,
 * fifteenth session).
 * Backpressure: when the reader falls behind by BACKLOG_BYTES of input, the upstream is paused until
 * it has read everything queued. After [DONE] the rest of the body (usually nothing but its end) is
 * read in the background so the keep-alive socket stays reusable: at most 64 KiB more, and an
 * upstream that never closes is cut after a second. A failure (an upstream error event, a reset, an
 * abort of the signal) reaches the reader after the parts before it, and closes the upstream
 * connection.
 */
class ChatCompletionStream implements AsyncIterableIterator<StreamPart>, BodySink {
  #queue: StreamPart[] = [];
  #head = 0;
  /** Bytes received since the reader last had nothing queued. */
  #backlog = 0;
  /** Set once nothing more will be queued: the failure to give after the queue (undefined: done). */
  #over = false;
  #failure: unknown;
  #reader: { resolve: (r: IteratorResult<StreamPart>) => void; reject: (err: unknown) => void } | undefined;
  #finishReason: string | null = null;
  #usage: ProviderUsage | null = null;
  #tools = new ToolCallAssembler();
  /** Characters received since the last event boundary (blank line). */
  #eventChars = 0;
  /** Whether the text read so far ends with a CR (see end()). */
  #trailingCR = false;
  /** Whether any text of the body has been read (a byte order mark can only come first). */
  #started = false;
  /** The chunks the parser gave for the read being handled. */
  #pending: ChatCompletionChunk[] = [];
  #done = false;
  #streamError: ProviderError | null = null;
  // UTF-8 characters may be cut between network reads; the decoder carries the partial bytes over.
  // Node's StringDecoder, not TextDecoder: with `stream: true` the latter runs ICU's converter,
  // several times the cost per read (bench:count, bench/NOTES.md).
  #decoder = new StringDecoder('utf8');
  #parser = createParser({ onEvent: (message) => this.#onEvent(message) });

  constructor(
    private readonly body: UpstreamBody,
    private readonly signal: AbortSignal,
  ) {
    body.pipe(this);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<StreamPart>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head++]!;
      if (this.#head === this.#queue.length) this.#caughtUp();
      return Promise.resolve({ value, done: false });
    }
    if (this.#over) {
      const failure = this.#failure;
      // Like a generator's: the failure once, then done.
      this.#failure = undefined;
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what failure() gives: an Error, or the signal's reason as the caller set it
      return failure === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(failure);
    }
    // One read at a time, as for-await and routing read; a second would leave the first unanswered.
    if (this.#reader) return Promise.reject(new Error('a read of this stream is already waiting'));
    return new Promise((resolve, reject) => (this.#reader = { resolve, reject }));
  }

  /** The reader stops early (a for-await loop left): the upstream connection is closed. */
  return(): Promise<IteratorResult<StreamPart>> {
    this.#stop(undefined);
    this.#queue = [];
    this.#head = 0;
    this.#failure = undefined;
    if (!this.body.ended) this.body.destroy();
    return Promise.resolve({ value: undefined, done: true });
  }

  // --- the body's chunks (BodySink), in undici's callback

  data(bytes: Buffer): void {
    if (this.#over) return;
    try {
      let text = this.#decoder.write(bytes);
      // A byte order mark before the first event: StringDecoder keeps it, and the parser, which
      // looks for it as three Latin-1 characters, would read `\uFEFFdata` as an unknown field and
      // drop the first event (the whole answer, for servers that send it in one chunk).
      if (!this.#started && text.length > 0) {
        this.#started = true;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      const boundary = lastBlankLine(text);
      this.#eventChars = boundary >= 0 ? text.length - boundary : this.#eventChars + text.length;
      this.#trailingCR = text.length > 0 ? text.charCodeAt(text.length - 1) === 13 : this.#trailingCR;
      if (this.#eventChars > MAX_EVENT_CHARS) throw new ProviderError(`upstream sent an event longer than ${MAX_EVENT_CHARS} characters`, { retryable: false });
      this.#parser.feed(text);
      for (const chunk of this.#pending) this.#read(chunk);
      this.#pending.length = 0;
      if (this.#streamError) throw this.#streamError;
      // [DONE] ends the answer, whether or not the upstream closes the response after it.
      if (this.#done) return this.#complete();
      if (this.#head < this.#queue.length) {
        this.#backlog += bytes.length;
        if (this.#backlog > BACKLOG_BYTES) this.body.pause();
      }
    } catch (err) {
      this.fail(err);
    }
  }

  end(): void {
    // A body that ends with a lone CR has ended its last line (and, after another line end, its
    // last event), but the parser keeps a trailing CR until it knows whether LF follows: tell it
    // none does, or a last event (the finish chunk of a server that sends no [DONE]) is lost.
    if (this.#trailingCR) this.data(LF);
    this.#complete();
  }

  fail(err: unknown): void {
    if (this.#over) return;
    this.#stop(failure(err, this.signal));
    if (!this.body.ended) this.body.destroy();
  }

  // --- parsing

  #onEvent(message: EventSourceMessage): void {
    if (this.#done || this.#streamError) return;
    if (message.data === '[DONE]') {
      this.#done = true;
      return;
    }
    let chunk: ChatCompletionChunk;
    try {
      chunk = JSON.parse(message.data) as ChatCompletionChunk;
    } catch {
      this.#streamError = new ProviderError(`upstream sent an event that is not JSON: ${message.data.slice(0, 200)}`, { retryable: true });
      return;
    }
    // Anything but an object (`null`, a number) is no chat.completion.chunk.
    if (typeof chunk !== 'object' || chunk === null) {
      this.#streamError = new ProviderError(`upstream sent an event that is not a chat.completion.chunk: ${message.data.slice(0, 200)}`, { retryable: true });
      return;
    }
    // OpenAI reports failures after the headers as an `error` object in the stream.
    if (chunk.error || message.event === 'error') {
      this.#streamError = new ProviderError(`upstream stream failed: ${chunk.error?.message ?? message.data.slice(0, 200)}`, { retryable: true });
      return;
    }
    // vLLM ends a request its engine failed or aborted with finish_reason "error" or "abort", and
    // OpenRouter and other gateways mark an in-band failure with "error" (with or without an `error`
    // object): an answer cut short, never a finished one.
    const finish = chunk.choices?.[0]?.finish_reason;
    if (finish === 'error' || finish === 'abort') {
      this.#streamError = new ProviderError(`upstream stream failed: finish_reason "${finish}"`, { retryable: true });
      return;
    }
    this.#pending.push(chunk);
  }

  #read(chunk: ChatCompletionChunk): void {
    const choice = chunk.choices?.[0];
    const delta = choice?.delta;
    const reasoning = delta?.reasoning_content ?? delta?.reasoning;
    if (typeof reasoning === 'string' && reasoning.length > 0) this.#push({ type: 'reasoning-delta', delta: reasoning });
    if (typeof delta?.content === 'string' && delta.content.length > 0) {
      const logprobs = choice?.logprobs?.content;
      this.#push(logprobs?.length ? { type: 'text-delta', delta: delta.content, logprobs } : { type: 'text-delta', delta: delta.content });
    }
    if (typeof delta?.refusal === 'string' && delta.refusal.length > 0) this.#push({ type: 'refusal-delta', delta: delta.refusal });
    for (const [k, call] of (delta?.tool_calls ?? []).entries()) {
      for (const part of this.#tools.fragment(call.index ?? k, { id: call.id, name: call.function?.name, arguments: call.function?.arguments })) this.#push(part);
    }
    if (choice?.finish_reason) this.#finishReason = choice.finish_reason;
    if (chunk.usage) this.#usage = usageOf(chunk.usage);
  }

  /** [DONE], or the body ended: the finish part, or why there is none. */
  #complete(): void {
    if (this.#over) return;
    if (!this.body.ended) {
      if (this.signal.aborted) this.body.destroy();
      else this.body.drain(64 * 1024, 1000);
    }
    if (this.signal.aborted) return this.#stop(failure(this.signal.reason, this.signal));
    // Servers that omit [DONE] still end a complete answer with a finish_reason chunk.
    if (this.#finishReason === null) return this.#stop(new ProviderError('upstream stream ended without a finish event'));
    for (const part of this.#tools.finish()) this.#push(part);
    this.#push({ type: 'finish', finishReason: unifiedFinishReason(this.#finishReason), usage: this.#usage });
    this.#stop(undefined);
  }

  // --- the queue

  #push(part: StreamPart): void {
    const reader = this.#reader;
    if (reader && this.#head === this.#queue.length) {
      this.#reader = undefined;
      return reader.resolve({ value: part, done: false });
    }
    this.#queue.push(part);
  }

  /** Nothing more is queued; a waiting reader gets the failure, or done. */
  #stop(failure: unknown): void {
    if (this.#over) return;
    this.#over = true;
    this.#failure = failure;
    const reader = this.#reader;
    if (!reader) return;
    this.#reader = undefined;
    this.#failure = undefined;
    if (failure === undefined) reader.resolve({ value: undefined, done: true });
    else reader.reject(failure);
  }

  /** The reader has read everything queued. */
  #caughtUp(): void {
    this.#queue.length = 0;
    this.#head = 0;
    this.#backlog = 0;
    if (!this.#over) this.body.resume();
  }
}

/** The same names the AI SDK gives (finish_reason in generation objects must not change). */
function unifiedFinishReason(raw: string): FinishReason {
  switch (raw) {
    case 'stop':
      return 'stop';
    case 'length':
      return 'length';
    case 'content_filter':
      return 'content-filter';
    case 'function_call':
    case 'tool_calls':
      return 'tool-calls';
    default:
      return 'other';
  }
}

/**
 * OpenAI counts reasoning tokens inside completion_tokens; xAI counts them beside it (its
 * total_tokens is prompt + completion + reasoning), which would report an answer of 103 tokens as 9.
 * Usage is given in OpenAI's meaning: where the upstream's total, or reasoning larger than the
 * whole completion, shows the reasoning was not in it, it is added (docs/api.md, Usage).
 */
function usageOf(u: OpenAIUsage): ProviderUsage | null {
  const input = u.prompt_tokens ?? null;
  const completion = u.completion_tokens ?? null;
  if (input === null && completion === null) return null;
  const reasoning = u.completion_tokens_details?.reasoning_tokens ?? null;
  const beside = reasoning !== null && reasoning > 0 && completion !== null && (typeof u.total_tokens === 'number' ? u.total_tokens === (input ?? 0) + completion + reasoning : reasoning > completion);
  const output = beside ? completion + reasoning : completion;
  return {
    input_tokens: input,
    output_tokens: output,
    total_tokens: input !== null && output !== null ? input + output : null,
    reasoning_tokens: reasoning,
    cached_input_tokens: u.prompt_tokens_details?.cached_tokens ?? u.prompt_cache_hit_tokens ?? null,
  };
}
