// The one interface every provider module implements. Narrow on purpose: the generation
// lifecycle only needs "open a stream of text deltas, then a finish with usage".

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ProviderRequest {
  /** The model id the upstream knows (e.g. "gpt-5-nano", "claude-haiku-4-5"). */
  upstreamModel: string;
  /** Conversation, system messages first. */
  messages: ChatMessage[];
  temperature?: number;
  maxTokens?: number;
  /** Aborted when the client leaves or a timeout fires; the upstream request must stop at once. */
  signal: AbortSignal;
}

/** Provider token counts, informational only (billing is flat per request). */
export interface ProviderUsage {
  input_tokens: number | null;
  output_tokens: number | null;
  total_tokens: number | null;
}

export type ProviderEvent =
  | { type: 'delta'; text: string }
  | { type: 'finish'; finishReason: string; usage: ProviderUsage | null };

/**
 * A running upstream stream. `open()` resolves once the upstream accepted the request (HTTP
 * headers received), so failures that happen before that can still become a plain JSON error
 * or a fallback to the next route.
 */
export interface ProviderStream {
  events: AsyncIterable<ProviderEvent>;
}

export interface Provider {
  /** Provider id from the catalog, e.g. "openai", "anthropic", "local". */
  readonly id: string;
  /** Rejects with ProviderError when the upstream refuses the request. */
  open(req: ProviderRequest): Promise<ProviderStream>;
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
  constructor(message: string, opts: { status?: number; retryable?: boolean; code?: string; unavailable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'ProviderError';
    this.status = opts.status;
    this.retryable = opts.retryable ?? (opts.status === undefined || opts.status === 429 || opts.status >= 500);
    this.code = opts.code ?? 'provider_error';
    this.unavailable = opts.unavailable ?? false;
  }
}
