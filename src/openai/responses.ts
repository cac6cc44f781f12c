// Builders for the OpenAI response objects: chat.completion, chat.completion.chunk, the model list.
import type { GenerationObject } from '../generation/object.js';
import type { ProviderUsage } from '../providers/spec.js';

/** The /v1 id of a generation: "gen-<id>", the integer id of /api/v2/generate/{id}. */
export const completionId = (generationId: number): string => `gen-${generationId}`;

/** Our extension on /v1 responses: what the request cost and which generation row it is. */
export const lumengateExtension = (g: GenerationObject) => ({ generation_id: g.id, tokens_spent: g.tokens_spent, balance_remaining: g.balance_remaining });

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}

/** Provider token counts in OpenAI's names (docs/api.md); counts the provider did not report are 0. */
export function openAIUsage(usage: unknown): OpenAIUsage {
  const u = (usage ?? {}) as Partial<ProviderUsage>;
  const prompt = u.input_tokens ?? 0;
  const completion = u.output_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: u.total_tokens ?? prompt + completion,
    prompt_tokens_details: { cached_tokens: u.cached_input_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens ?? 0 },
  };
}

/** The AI SDK's unified finish reasons -> OpenAI's. */
export function openAIFinishReason(g: GenerationObject): string {
  const reason = g.result_metadata?.finish_reason;
  switch (reason) {
    case 'length':
      return 'length';
    case 'content-filter':
      return 'content_filter';
    case 'tool-calls':
      return 'tool_calls';
    default:
      return 'stop';
  }
}

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

export function chatCompletion(g: GenerationObject) {
  return {
    id: completionId(g.id),
    object: 'chat.completion' as const,
    created: seconds(g.created_at),
    model: g.model_slug,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          // OpenAI sends null content beside tool calls or a refusal when the model wrote no text.
          content: (g.tool_calls || g.refusal) && !g.result_text ? null : (g.result_text ?? ''),
          refusal: g.refusal,
          ...(g.tool_calls ? { tool_calls: g.tool_calls } : {}),
          ...(g.reasoning ? { reasoning_content: g.reasoning } : {}),
        },
        logprobs: g.logprobs ? { content: g.logprobs, refusal: null } : null,
        finish_reason: openAIFinishReason(g),
      },
    ],
    usage: openAIUsage(g.usage),
    lumengate: lumengateExtension(g),
  };
}

/** A chat.completion.chunk factory for one stream (same id, created and model on every chunk). */
export function chunkFactory(generationId: number, model: string) {
  const head = { id: completionId(generationId), object: 'chat.completion.chunk' as const, created: Math.floor(Date.now() / 1000), model };
  return (choices: unknown[], extra: Record<string, unknown> = {}) => ({ ...head, choices, ...extra });
}
