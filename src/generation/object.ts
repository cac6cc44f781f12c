// The generation object of DECISIONS 6: a superset of every documented shape, explicit nulls.
import type { Generation } from '../db/schema.js';

export interface GenerationObject {
  id: number;
  status: Generation['status'];
  model_slug: string;
  model: string;
  result_text: string | null;
  content: string | null;
  /** Tool calls the model made, in OpenAI's shape (DECISIONS 26); null when there were none. */
  tool_calls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] | null;
  /** The model's reasoning summary where the provider returns one. */
  reasoning: string | null;
  result_url: string | null;
  thumbnail_url: string | null;
  error: string | null;
  tokens_spent: number;
  tokens_used: number;
  balance_remaining: number | null;
  processing_ms: number | null;
  result_metadata: Record<string, unknown> | null;
  usage: unknown;
  created_at: string;
  completed_at: string | null;
}

export function generationObject(
  g: Pick<Generation, 'id' | 'status' | 'model_slug' | 'result_text' | 'result_json' | 'error' | 'tokens_spent' | 'processing_ms' | 'usage_json' | 'finish_reason' | 'created_at' | 'completed_at'>,
  balanceRemaining: number | null,
): GenerationObject {
  const structured = g.result_json ? (JSON.parse(g.result_json) as { tool_calls?: { id: string; name: string; arguments: string }[]; reasoning?: string | null }) : {};
  return {
    id: g.id,
    status: g.status,
    model_slug: g.model_slug,
    model: g.model_slug,
    result_text: g.result_text,
    content: g.result_text,
    tool_calls: structured.tool_calls?.length ? structured.tool_calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) : null,
    reasoning: structured.reasoning ?? null,
    result_url: null,
    thumbnail_url: null,
    error: g.error,
    tokens_spent: g.tokens_spent,
    tokens_used: g.tokens_spent,
    balance_remaining: balanceRemaining,
    processing_ms: g.processing_ms,
    result_metadata: g.finish_reason ? { finish_reason: g.finish_reason } : null,
    usage: g.usage_json ? JSON.parse(g.usage_json) : null,
    created_at: g.created_at,
    completed_at: g.completed_at,
  };
}
