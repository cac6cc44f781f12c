// Kysely table types. One schema for SQLite and PostgreSQL; timestamps are ISO-8601 UTC strings
// so that both engines compare and return them the same way.
import type { Generated, Insertable, Selectable } from 'kysely';

/**
 * The largest id a row can have: ids are `integer` columns, and PostgreSQL refuses a larger number
 * given for one (an error, where SQLite finds no row). An id a client sends above it is no row.
 */
export const MAX_ROW_ID = 2_147_483_647;

/** True when `n` can be the id of a row (a positive integer up to MAX_ROW_ID). */
export const isRowId = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= MAX_ROW_ID;

export interface AccountTable {
  id: Generated<number>;
  name: string;
  plan: string;
  plan_tokens: number;
  package_tokens: number;
  status: 'active' | 'suspended';
  plan_expires_at: string | null;
  created_at: string;
}

export interface ApiKeyTable {
  id: Generated<number>;
  account_id: number;
  name: string;
  key_hash: string;
  /** Short, non-secret start of the key shown in listings ("nb_AbC4…"). */
  display_prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export type GenerationStatus = 'pending' | 'completed' | 'failed';

export interface GenerationTable {
  id: Generated<number>;
  account_id: number;
  api_key_id: number | null;
  model_slug: string;
  category: string;
  status: GenerationStatus;
  prompt: string | null;
  result_text: string | null;
  /** The structured result beside result_text: { tool_calls, reasoning } as JSON, null when there is none. */
  result_json: string | null;
  error: string | null;
  /** Price held for this generation, split the way it was taken from the balance. */
  held_plan: number;
  held_package: number;
  tokens_spent: number;
  route: string | null;
  usage_json: string | null;
  finish_reason: string | null;
  created_at: string;
  first_token_at: string | null;
  completed_at: string | null;
  processing_ms: number | null;
  /** After this instant a still-pending hold is stale (server died) and is released by the sweeper. */
  hold_expires_at: string;
  deleted_at: string | null;
  /** The instance that runs this generation (LUMENGATE_INSTANCE_ID); its restart releases the hold. */
  instance_id: string | null;
  /** Where its end is reported (callback_url), until its delivery row is queued; then null (the row has it). */
  callback_url: string | null;
}

export type LedgerKind = 'grant' | 'hold' | 'charge' | 'release';

export interface LedgerTable {
  id: Generated<number>;
  account_id: number;
  generation_id: number | null;
  kind: LedgerKind;
  /** Change to the account's plan / package tokens; their sums over the ledger equal the balance. */
  plan_delta: number;
  package_delta: number;
  /** Tokens this row is about (the hold, the charge, the grant), always >= 0. */
  amount: number;
  note: string | null;
  created_at: string;
}

/** Generated once, shared by every instance (e.g. url_secret: src/storage/signed-urls.ts). */
export interface GatewaySettingTable {
  name: string;
  value: string;
  created_at: string;
}

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** A media generation's durable job (docs/api.md); its generation row holds the money and the result. */
export interface JobTable {
  generation_id: number;
  /** The generation's account (set on every row; the column was added by a migration that filled it in). */
  account_id: number;
  state: JobState;
  /** Claims so far (a claim after a lost lease counts: bounded by max_attempts). */
  attempts: number;
  max_attempts: number;
  /** The worker running it (instance id + process nonce) and until when, unless renewed. */
  lease_owner: string | null;
  lease_expires_at: string | null;
  /** Not claimed before this instant (backoff after a failed attempt). */
  run_after: string;
  /** Its first claim: the job's deadline counts from here (null while it has never run). */
  started_at: string | null;
  /** The route (provider:model) the provider job runs on, and the provider's job id once started. */
  route: string | null;
  provider_job_id: string | null;
  /** { prompt, options } as submitted. */
  input_json: string;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/** The secret that signs an account's webhooks (src/webhooks/secret.ts). */
export interface WebhookSecretTable {
  account_id: number;
  secret: string;
  created_at: string;
}

export type WebhookDeliveryState = 'pending' | 'delivered' | 'failed';

/** One POST of a generation object to its callback URL, retried until delivered or 24 h (src/webhooks/). */
export interface WebhookDeliveryTable {
  id: Generated<number>;
  generation_id: number;
  account_id: number;
  url: string;
  /** The exact bytes sent (the generation object as JSON); emptied once the delivery is final. */
  body: string | null;
  state: WebhookDeliveryState;
  /** Attempts started (counted at the claim, so one cut short by a crash counts too). */
  attempts: number;
  next_attempt_at: string;
  /** Set by the first attempt: retries stop 24 h after it. */
  first_attempt_at: string | null;
  /** A worker holds the row until then; an expired lease (dead process) lets another take it. */
  lease_until: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  completed_at: string | null;
}

/** A tool call's reasoning state (ToolCallState as JSON), by the account and the call's id (src/generation/tool-call-state.ts). */
export interface ToolCallStateTable {
  account_id: number;
  call_id: string;
  /** The generation that made the call: its deletion deletes the state. */
  generation_id: number;
  state_json: string;
  created_at: string;
}

/** An ended stream's re-attach log on SQLite (src/generation/sqlite-ended-logs.ts). */
export interface StreamLogTable {
  generation_id: number;
  ended_at: string;
  /** The frames, packed (src/generation/event-log.ts, `packLog`). */
  frames: Buffer;
}

export interface Database {
  accounts: AccountTable;
  jobs: JobTable;
  api_keys: ApiKeyTable;
  generations: GenerationTable;
  ledger: LedgerTable;
  gateway_settings: GatewaySettingTable;
  webhook_secrets: WebhookSecretTable;
  webhook_deliveries: WebhookDeliveryTable;
  tool_call_states: ToolCallStateTable;
  stream_logs: StreamLogTable;
}

export type Account = Selectable<AccountTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;
export type Generation = Selectable<GenerationTable>;
export type NewGeneration = Insertable<GenerationTable>;
export type Job = Selectable<JobTable>;
export type WebhookDelivery = Selectable<WebhookDeliveryTable>;
