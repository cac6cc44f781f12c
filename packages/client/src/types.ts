// Wire types of the Elumenta v2 API as lumengate serves it (spec: docs/api.md).
// Hand-written on purpose: the client must not depend on the server's code.

export type GenerationStatus = 'pending' | 'completed' | 'failed';

export type Plan = 'free' | 'basic' | 'pro' | 'vip' | 'elite';

export type ModelCategory = 'text' | 'image' | 'video' | 'tts' | 'stt' | 'audio' | 'tool';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  /** Plain text, or OpenAI-style content parts (vision models). */
  content: string | Array<Record<string, unknown>>;
}

/**
 * Body of `POST /api/v2/generate` and `/api/v2/generate/stream`. The server accepts all three
 * documented styles: `prompt` + `params`, OpenAI-like `messages`, and category options at the
 * top level (`size`, `format`, `duration`, `text`, ...). `params` wins over the top level.
 */
export interface GenerateRequest {
  model: string;
  prompt?: string;
  messages?: ChatMessage[];
  system?: string;
  temperature?: number;
  max_tokens?: number | null;
  params?: Record<string, unknown>;
  /** Category options at the top level (image `size`, TTS `text`, video `duration`, ...). */
  [option: string]: unknown;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

/** The generation object: a superset of every documented shape, with explicit nulls. */
export interface Generation {
  id: number;
  status: GenerationStatus;
  model_slug: string;
  /** Same as `model_slug`. */
  model: string;
  result_text: string | null;
  /** Same as `result_text`. */
  content: string | null;
  result_url: string | null;
  thumbnail_url: string | null;
  error: string | null;
  tokens_spent: number;
  /** Same as `tokens_spent`. */
  tokens_used: number;
  balance_remaining: number | null;
  processing_ms: number | null;
  result_metadata: Record<string, unknown> | null;
  usage: Usage | null;
  created_at: string;
  completed_at: string | null;
}

// --- SSE events (discriminated on `type`) ---

export interface GenerationStartEvent {
  type: 'generation_start';
  id: number;
  model: string;
}

export interface ContentDeltaEvent {
  type: 'content_delta';
  delta: string;
}

export interface GenerationEndEvent {
  type: 'generation_end';
  id: number;
  tokens_spent: number;
  tokens_used: number;
  balance_remaining: number;
}

/** Sent by the server on a failure after the stream opened; the client throws it, never yields it. */
export interface StreamErrorEvent {
  type: 'error';
  message: string;
  code: string;
}

/** What `client.stream()` yields. An `error` event is thrown as a `LumengateStreamError`. */
export type StreamEvent = GenerationStartEvent | ContentDeltaEvent | GenerationEndEvent;

/** Everything the server may put on the wire. */
export type WireStreamEvent = StreamEvent | StreamErrorEvent;

// --- Models ---

export interface Model {
  slug: string;
  name: string;
  category: ModelCategory | (string & {});
  provider: string;
  min_plan: Plan;
  token_cost: number;
  min_token_cost: number;
  max_token_cost: number;
  supports_streaming: boolean;
  description_en?: string | null;
  description_ru?: string | null;
  config?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface ListModelsQuery {
  category?: ModelCategory | (string & {});
}

export interface PriceRequest {
  params?: Record<string, unknown>;
  count?: number;
}

export interface Price {
  token_cost: number;
  min_token_cost: number;
  max_token_cost: number;
  pricing_type: 'fixed' | 'matrix' | 'per_second' | 'per_point';
}

// --- Account ---

export interface Balance {
  token_balance: number;
  plan: Plan;
  plan_expires_at: string | null;
}

export interface UserBalance extends Balance {
  plan_tokens_remaining?: number;
  bonus_tokens?: number;
  next_refill_at?: string | null;
  [field: string]: unknown;
}

export interface UserProfile {
  id: number;
  plan: Plan;
  plan_expires_at: string | null;
  token_balance: number;
  name?: string | null;
  email?: string | null;
  [field: string]: unknown;
}

export interface HistoryQuery {
  page?: number;
  limit?: number;
  category?: ModelCategory | (string & {});
  model_slug?: string;
  status?: GenerationStatus;
  cursor?: string;
}

export interface HistoryItem {
  id: number;
  model_slug: string;
  status: GenerationStatus;
  tokens_spent: number;
  created_at: string;
  category?: string;
  prompt?: string | null;
  result_text?: string | null;
  result_url?: string | null;
  [field: string]: unknown;
}

export interface HistoryPage {
  items: HistoryItem[];
  total?: number;
  page?: number;
  limit?: number;
  next_cursor?: string | null;
  [field: string]: unknown;
}

// --- API keys ---

/** Returned once, by `POST /api/v2/keys`: the only time the full key is visible. */
export interface CreatedApiKey {
  id: number;
  name: string;
  key: string;
  created_at: string;
}

export interface ApiKey {
  id: number;
  name: string;
  created_at: string;
  /** Short display prefix of the key (the key itself is stored hashed). */
  prefix?: string;
  last_used_at?: string | null;
  [field: string]: unknown;
}
