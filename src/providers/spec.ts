// The typed contract between the generation lifecycle and every provider module, modelled on the
// AI SDK's LanguageModelV3: a prompt of messages made of content parts goes in, a stream of typed
// parts comes out (text, reasoning, tool input, tool calls, then one finish with usage).
// Providers translate this to their wire format and back; nothing above them knows a wire format.

/** A piece of user content (docs/api.md). Images are URLs (https or data:), files are base64. */
export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image'; url: string; detail?: 'auto' | 'low' | 'high' }
  | { type: 'file'; data: string; mediaType: string; filename?: string }
  | { type: 'audio'; data: string; format: string };

/** What a content part needs from the model, as named in a catalog model's `input_modalities`. */
export type InputModality = 'text' | 'image' | 'file' | 'audio';

/** A complete tool call: `arguments` is the JSON text the model produced. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
  /** What the provider needs back with this call on the next turn (docs/api.md, Reasoning in tool loops). */
  state?: ToolCallState;
}

/**
 * A provider's own data about a piece of its answer, by provider (`{ anthropic: { signature } }`,
 * `{ google: { thoughtSignature } }`): the AI SDK's provider metadata, kept as it came and only
 * ever given back to that provider.
 */
export type ProviderMetadata = Record<string, Record<string, unknown>>;

/** A block of reasoning as the provider needs it back: its whole text (empty for redacted thinking) and its metadata. */
export interface ReasoningBlock {
  text: string;
  metadata: ProviderMetadata;
}

/**
 * The reasoning state of a tool call, opaque above the provider modules: a reasoning model's
 * provider refuses or degrades the next turn of a tool loop without it (Claude's thinking blocks
 * with their signatures, Gemini's thought signatures). The gateway keeps it per account, keyed by
 * the call's id, and restores it when the call comes back (src/generation/tool-call-state.ts).
 */
export interface ToolCallState {
  /** The reasoning blocks that came since the previous call of the answer (or its start), in order, where the provider gave them metadata. */
  reasoning?: ReasoningBlock[];
  /** The call's own metadata (Gemini's thought signature). */
  metadata?: ProviderMetadata;
}

/** `name`: the participant's name (OpenAI's); on a tool result, the tool's (LangChain sends it). */
export type Message =
  | { role: 'system'; content: string; name?: string }
  | { role: 'user'; content: ContentPart[]; name?: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[]; name?: string }
  | { role: 'tool'; toolCallId: string; content: string; name?: string };

/** A function the model may call; `parameters` is a JSON Schema object. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
  strict?: boolean;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; name: string; schema: Record<string, unknown>; description?: string; strict?: boolean };

/** Sampling and output controls (docs/api.md). Providers map what they can; the rest is refused before a call. */
export interface CallSettings {
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string[];
  seed?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  reasoningEffort?: 'minimal' | 'low' | 'medium' | 'high';
  /** The caller's end-user id, forwarded where the provider takes one (abuse tracking). */
  user?: string;
  logprobs?: boolean;
  topLogprobs?: number;
}

/** What a catalog model says about the upstream's quirks, applied by the provider module. */
export interface ModelCapabilities {
  /** The upstream takes `max_completion_tokens` and refuses `max_tokens` (OpenAI gpt-5, o-series). */
  maxCompletionTokens?: boolean;
  /** The upstream accepts only this temperature (e.g. 1): other values are dropped, not sent. */
  fixedTemperature?: number;
  /** The upstream refuses sampling parameters (top_p, penalties) entirely: they are dropped. */
  noSampling?: boolean;
}

export interface ProviderRequest extends CallSettings {
  /** The model id the upstream knows (e.g. "gpt-5-nano", "claude-haiku-4-5"). */
  upstreamModel: string;
  /** Conversation, system messages first. */
  messages: Message[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  capabilities?: ModelCapabilities;
  /**
   * Who the request is for (the account), as an opaque key: a provider that shares a scarce
   * resource between requests shares it fairly between tenants (the local provider's sequences).
   * Never sent upstream.
   */
  tenant?: string;
  /** Aborted when the client leaves or a timeout fires; the upstream request must stop at once. */
  signal: AbortSignal;
}

/** A request as its fields, before it has a signal: what a provider's refusals look at. */
export type RequestFields = Omit<ProviderRequest, 'signal'>;

/**
 * A request field a provider cannot take, by the name the client used (`temperature`, `seed`);
 * `message` is the index of the message concerned, for a refusal of one message (`field` is then
 * `messages`, or the message's own field that is refused, e.g. `name`); `tool` the index of the
 * tool concerned (`field` is then the path in its function, e.g. `parameters.properties.unit`).
 */
export interface FieldRefusal {
  field: string;
  why: string;
  message?: number;
  tool?: number;
}

/**
 * Where a refusal points in the request body (`seed`, `messages.1.name`,
 * `tools.0.function.parameters.properties.unit`): `paths` give a message's or a tool's own place
 * where the body has it elsewhere (GenerationInput.messagePaths, toolPaths), and `option` an
 * option's (/api/v2's params.seed, params.response_format: optionPath).
 */
export function refusalPath(r: FieldRefusal, paths: { messages?: string[]; tools?: string[]; option?: (name: string) => string } = {}): string {
  if (r.tool !== undefined) return `${paths.tools?.[r.tool] ?? `tools.${r.tool}.function`}.${r.field}`;
  if (r.message === undefined) return optionField(r.field, paths.option);
  const at = paths.messages?.[r.message] ?? `messages.${r.message}`;
  return r.field === 'messages' ? at : `${at}.${r.field}`;
}

/**
 * An option's path (`seed`, `response_format.json_schema.schema`) where the body has it: its first
 * name mapped by `option` (`params.seed`, `params.response_format.json_schema.schema`); as it is
 * without one.
 */
export function optionField(path: string, option?: (name: string) => string): string {
  if (option === undefined) return path;
  const dot = path.indexOf('.');
  return dot < 0 ? option(path) : option(path.slice(0, dot)) + path.slice(dot);
}

/** Provider token counts, informational only (billing is flat per request). docs/api.md. */
export interface ProviderUsage {
  input_tokens: number | null;
  output_tokens: number | null;
  total_tokens: number | null;
  reasoning_tokens?: number | null;
  cached_input_tokens?: number | null;
}

/** One generated token's log probability, in OpenAI's shape (asked for with `logprobs`, docs/api.md). */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
  top_logprobs: { token: string; logprob: number; bytes: number[] | null }[];
}

export type FinishReason = 'stop' | 'length' | 'content-filter' | 'tool-calls' | 'other';

/**
 * One typed piece of a running generation. Tool calls stream as tool-input-start, -delta… and
 * -end, then one complete tool-call; `index` is the call's position in this answer (0, 1, …).
 * A stream ends with exactly one finish; failures are thrown as ProviderError (or yielded as an
 * error part, which the lifecycle treats the same).
 */
export type StreamPart =
  /** `logprobs`: the delta's tokens, where they were asked for and the provider returns them. */
  | { type: 'text-delta'; delta: string; logprobs?: TokenLogprob[] }
  | { type: 'reasoning-delta'; delta: string }
  /** The model declined, in its words, instead of answering (OpenAI's `refusal`, docs/api.md). */
  | { type: 'refusal-delta'; delta: string }
  | { type: 'tool-input-start'; index: number; id: string; name: string }
  | { type: 'tool-input-delta'; index: number; delta: string }
  | { type: 'tool-input-end'; index: number }
  /** `state`: what the provider needs back with the call (ToolCall.state); never sent to clients. */
  | { type: 'tool-call'; index: number; id: string; name: string; arguments: string; state?: ToolCallState }
  | { type: 'finish'; finishReason: FinishReason; usage: ProviderUsage | null }
  | { type: 'error'; error: unknown };

/** The parts a lifecycle hands to its sink: everything but finish and error. */
export type ContentStreamPart = Exclude<StreamPart, { type: 'finish' } | { type: 'error' }>;

/**
 * A running upstream stream. `open()` resolves once the upstream accepted the request (HTTP
 * headers received), so failures that happen before that can still become a plain JSON error
 * or a fallback to the next route.
 */
export interface ProviderStream {
  parts: AsyncIterable<StreamPart>;
  /** What the provider counted so far, for a stream that ends without its finish (aborted). docs/api.md. */
  usageSoFar?(): ProviderUsage | null;
}

/** An embedding request (docs/api.md). */
export interface EmbeddingRequest {
  upstreamModel: string;
  input: string[];
  dimensions?: number;
  /** The caller's end-user id, for upstreams that take one (OpenAI: abuse monitoring). */
  user?: string;
  signal: AbortSignal;
}

export interface EmbeddingResult {
  embeddings: number[][];
  usage: ProviderUsage | null;
}

// ---- Media (docs/api.md): image, video, audio (music), tts, stt and tool models ------------
// One small interface for every media kind: a job that may run at the provider asynchronously.
// `start` answers `done` at once for synchronous APIs (OpenAI images, ElevenLabs speech) or a
// provider job id to poll (Replicate predictions, Luma generations, Google operations). The id is
// stored by the gateway at once, so after a crash another instance resumes polling that job
// instead of starting (and paying for) a second one.

export type MediaKind = 'image' | 'video' | 'audio' | 'tts' | 'stt' | 'tool';

/** An input file (speech to transcribe, an image to upscale), already stored by the gateway. */
export interface MediaInputFile {
  data: Uint8Array;
  mediaType: string;
  filename?: string;
}

export interface MediaRequest {
  kind: MediaKind;
  upstreamModel: string;
  /** The description (image, video, music), the text to speak (tts), the wording hint of a transcription (stt, optional). */
  prompt?: string;
  /** Style C options, validated by the gateway: size, format, quality, style, seed, negative_prompt,
   * image_url, duration, aspect_ratio, voice_id, speed, language, … */
  options: Record<string, unknown>;
  input?: MediaInputFile;
  /** The most bytes one output file may have (LUMENGATE_MAX_OUTPUT_BYTES, set by the job runner; its default when unset). */
  maxOutputBytes?: number;
  signal: AbortSignal;
}

/** One result file: bytes, or a URL the gateway downloads at once (provider URLs expire). */
export interface MediaOutputFile {
  data?: Uint8Array;
  url?: string;
  /**
   * The file as a stream that the store writes as it reads (a video is never whole in memory),
   * opened only when the file is stored, with the storing's signal; for a file behind the
   * provider's key (Sora's content, Veo's download). The media type its answer names wins.
   */
  open?: (signal: AbortSignal) => Promise<OpenedOutput>;
  mediaType: string;
  /** What the provider says of it (width, height, duration in seconds, format). */
  metadata?: { width?: number; height?: number; duration?: number; format?: string };
}

/** An output file's answer, being read (MediaOutputFile.open). */
export interface OpenedOutput {
  /** Bounded by the output cap as it is read. */
  body: AsyncIterable<Uint8Array>;
  mediaType?: string;
  /** Stops reading it, closing the connection (nothing once it was read to its end). */
  close(): void;
}

export interface MediaResult {
  files: MediaOutputFile[];
  /** Transcription text (stt), or a text answer of a tool. */
  text?: string;
  /** What the price depends on when it is known only afterwards (seconds of audio or video, characters). */
  measured?: { seconds?: number; characters?: number };
}

export type MediaProgress =
  | { state: 'running'; providerJobId: string; /** Suggested wait before the next poll. */ pollAfterMs?: number }
  | {
      state: 'done';
      result: MediaResult;
      /**
       * The provider's job when there is one (a prediction that finished within Replicate's
       * `Prefer: wait`): stored before the result's files are downloaded, so an attempt that fails
       * while storing them is retried by polling the same job, not by starting (and paying for) another.
       */
      providerJobId?: string;
    };

export interface MediaProvider {
  /**
   * The origin (scheme, host, port) of the provider's API, which the operator configured: output
   * URLs there are downloaded whatever its address; any other output URL must be on a public
   * address (src/jobs/outputs.ts).
   */
  readonly origin?: string;
  /** Starts the work. Rejects with ProviderError when the upstream refuses (status 4xx) or fails. */
  start(req: MediaRequest): Promise<MediaProgress>;
  /** One look at a provider job started earlier (by this process or one that died). */
  poll?(req: MediaRequest, providerJobId: string): Promise<MediaProgress>;
  /** Cancels a provider job where the provider can (best effort). */
  cancel?(req: MediaRequest, providerJobId: string): Promise<void>;
}

export interface Provider {
  /** Provider id from the catalog, e.g. "openai", "anthropic", "local". */
  readonly id: string;
  /** Rejects with ProviderError when the upstream refuses the request. */
  open(req: ProviderRequest): Promise<ProviderStream>;
  /**
   * Its tool calls carry state (ToolCallState) it needs back with them: the lifecycle keeps it and
   * restores it into the assistant messages of a later request that brings those calls back.
   */
  readonly keepsToolCallState?: boolean;
  /**
   * The first field of the request this provider cannot take (docs/api.md), checked by the
   * lifecycle before anything is held; `open` refuses the same request with RequestRefused. A
   * promise where the provider's module is loaded on first use.
   */
  refuse?(req: RequestFields): FieldRefusal | undefined | Promise<FieldRefusal | undefined>;
  /** Media generation, where the provider has it (the job runner calls it). */
  media?: MediaProvider;
  /** Text embeddings, where the provider has them. */
  embed?(req: EmbeddingRequest): Promise<EmbeddingResult>;
  /** Whether the model can be served without setup (e.g. a local model file is present). */
  isReady?(upstreamModel: string): Promise<boolean>;
  /** Frees resources (local models, pools) at shutdown. */
  close?(): Promise<void>;
}

/** Any failure of an upstream. `status` is the upstream HTTP status when there was one. */
export class ProviderError extends Error {
  readonly status: number | undefined;
  /** True for failures worth retrying on the same route (429, 5xx, network). */
  readonly retryable: boolean;
  readonly code: string;
  /** The provider cannot take requests now (capacity exhausted, model missing): the gateway answers 503. */
  readonly unavailable: boolean;
  /** Seconds the upstream asked to wait (Retry-After of a 429 or 503). */
  readonly retryAfter: number | undefined;
  constructor(message: string, opts: { status?: number; retryable?: boolean; code?: string; unavailable?: boolean; retryAfter?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'ProviderError';
    this.status = opts.status;
    this.retryable = opts.retryable ?? (opts.status === undefined || opts.status === 429 || opts.status >= 500);
    this.code = opts.code ?? 'provider_error';
    this.unavailable = opts.unavailable ?? false;
    this.retryAfter = opts.retryAfter;
  }
}

/**
 * The provider module refused the request before sending anything (docs/api.md): a field it
 * cannot take, or a prompt its SDK cannot convert. Status 400 like an upstream refusal, so it is
 * never retried and never counted against the route; `field` names the request field when known.
 */
export class RequestRefused extends ProviderError {
  constructor(
    readonly why: string,
    readonly field?: string,
  ) {
    super(field ? `${field}: ${why}` : why, { status: 400, retryable: false, code: 'unsupported_parameter' });
    this.name = 'RequestRefused';
  }
}

/** The text of a message's content, for limits, history and providers that take plain strings. */
export function messageText(m: Message): string {
  if (m.role === 'user') return m.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
  return m.content;
}

/**
 * The index of the first message with a participant name (system, user or assistant `name`), or -1,
 * for providers that have no such field and refuse it (docs/api.md). A tool result's name is its
 * tool's, which every provider already has from the call.
 */
export function participantIndex(messages: Message[]): number {
  return messages.findIndex((m) => m.role !== 'tool' && m.name !== undefined);
}

/**
 * Turns streamed tool-call fragments (OpenAI's `delta.tool_calls[i]`: id and name first, then
 * pieces of arguments) into typed parts. `finish()` closes every open call and yields the complete
 * tool-call parts in index order.
 */
export class ToolCallAssembler {
  /** By the call's place in this answer (0, 1, …: its index in the parts), in the order the calls began. */
  private calls = new Map<number, { id: string; idGiven: boolean; name: string; args: string[]; started: boolean; ended: boolean }>();
  /** The upstream's index -> the place of the call its fragments continue. */
  private places = new Map<number, number>();

  /**
   * One fragment at the upstream's `at` (its index); returns the parts it produces. A call starts
   * once its name is known: clients take a call's id and name from its first fragment, and some
   * servers send the name after the id. Arguments that came before are sent then, in one delta.
   * A fragment with another id and a name, at the index of a call that has its id, is a new call:
   * servers that omit `index` (Gemini's OpenAI endpoint, some local servers) or give every call 0
   * would otherwise make one call of several, their arguments run together. (A new call's first
   * fragment names its function; one with only another id and arguments continues its call.)
   */
  fragment(at: number, f: { id?: string | null; name?: string | null; arguments?: string | null }): StreamPart[] {
    let index = this.places.get(at);
    let call = index === undefined ? undefined : this.calls.get(index);
    if (call && f.id && f.name && call.idGiven && f.id !== call.id) call = undefined;
    if (!call || index === undefined) {
      index = this.calls.size;
      call = { id: f.id || `call_${index}`, idGiven: Boolean(f.id), name: '', args: [], started: false, ended: false };
      this.calls.set(index, call);
      this.places.set(at, index);
    } else if (f.id) {
      call.id = f.id;
      call.idGiven = true;
    }
    if (f.name) call.name = f.name;
    if (f.arguments) call.args.push(f.arguments);
    if (call.started) return f.arguments ? [{ type: 'tool-input-delta', index, delta: f.arguments }] : [];
    if (!call.name) return [];
    call.started = true;
    const out: StreamPart[] = [{ type: 'tool-input-start', index, id: call.id, name: call.name }];
    if (call.args.length) out.push({ type: 'tool-input-delta', index, delta: call.args.join('') });
    return out;
  }

  get size(): number {
    return this.calls.size;
  }

  finish(): StreamPart[] {
    const out: StreamPart[] = [];
    for (const [index, c] of [...this.calls.entries()].sort((a, b) => a[0] - b[0])) {
      // A call that never got a name was never started: its tool-call part is all there is of it.
      if (c.started && !c.ended) out.push({ type: 'tool-input-end', index });
      c.ended = true;
      out.push({ type: 'tool-call', index, id: c.id, name: c.name, arguments: c.args.join('') || '{}' });
    }
    this.calls.clear();
    this.places.clear();
    return out;
  }
}
