// Anthropic Messages API (POST {base_url}/messages, x-api-key auth).
import { createAnthropic, type AnthropicLanguageModelOptions } from '@ai-sdk/anthropic';
import { aiSdkProvider, commonRefusal, thinkingBudget, upstreamFetch, type Refusal } from './ai-sdk.js';
import type { ProviderConfig } from './config.js';
import type { Message, Provider, ProviderRequest, RequestFields } from './spec.js';

export function anthropicProvider(id: string, cfg: ProviderConfig): Provider {
  const upstream = upstreamFetch();
  const sdk = createAnthropic({ baseURL: cfg.base_url, apiKey: cfg.api_key, headers: cfg.headers, fetch: upstream.fetch });
  // No dryRun (ai-sdk.ts): the SDK sends tool and response_format schemas to Claude as given, refusing none.
  return aiSdkProvider(id, (model) => sdk.messages(model), { unsupported: refusedByAnthropic, providerOptions: anthropicOptions, stateKey: 'anthropic', close: upstream.close });
}

// Claude documents PDFs and plain text as document blocks; anything else the SDK would throw on.
const documentTypes = new Set(['application/pdf', 'text/plain']);

/**
 * What the Messages API cannot take; the SDK would otherwise drop it with a warning (penalties,
 * seed, a schema-less json_object, top_p next to temperature, sampling with thinking) or clamp it
 * (temperature above 1).
 */
export function refusedByAnthropic(req: RequestFields): Refusal {
  const common = commonRefusal(req);
  if (common) return common;
  if (req.seed !== undefined) return { field: 'seed', why: 'Anthropic has no seed' };
  if (req.frequencyPenalty !== undefined) return { field: 'frequency_penalty', why: 'Anthropic has no frequency penalty' };
  if (req.presencePenalty !== undefined) return { field: 'presence_penalty', why: 'Anthropic has no presence penalty' };
  if (req.temperature !== undefined && req.temperature > 1) return { field: 'temperature', why: 'Anthropic takes 0 to 1' };
  if (req.reasoningEffort !== undefined && (req.temperature !== undefined || req.topP !== undefined)) {
    // Said without naming the effort's field: chat's reasoning_effort is reasoning.effort on /v1/responses.
    return { field: req.temperature !== undefined ? 'temperature' : 'top_p', why: 'Anthropic takes no sampling parameters with a reasoning effort (extended thinking)' };
  }
  if (req.temperature !== undefined && req.topP !== undefined) return { field: 'top_p', why: 'Anthropic takes temperature or top_p, not both' };
  if (req.responseFormat?.type === 'json_object') return { field: 'response_format', why: 'Anthropic needs a schema: use json_schema' };
  // The part itself is named (messages.0.content.1), not the whole conversation.
  for (const [i, m] of req.messages.entries()) {
    if (m.role !== 'user') continue;
    for (const [j, p] of m.content.entries()) {
      if (p.type === 'audio') return { field: `content.${j}`, message: i, why: 'Anthropic takes no audio input' };
      if (p.type === 'file' && !documentTypes.has(p.mediaType)) return { field: `content.${j}`, message: i, why: `Anthropic takes PDF and text/plain files, not ${p.mediaType}` };
    }
  }
  return undefined;
}

/**
 * user -> metadata.user_id, reasoning_effort -> a thinking budget, parallel_tool_calls: false ->
 * disable_parallel_tool_use. With thinking on, Claude refuses a conversation whose last assistant
 * turn made calls without opening with the thinking that led to them; where the gateway has not
 * kept that thinking (a call id it does not know, docs/api.md), the request goes without thinking,
 * which Claude takes, instead of failing.
 */
export function anthropicOptions(req: ProviderRequest): { anthropic: Pick<AnthropicLanguageModelOptions, 'metadata' | 'thinking' | 'disableParallelToolUse'> } | undefined {
  const o: Pick<AnthropicLanguageModelOptions, 'metadata' | 'thinking' | 'disableParallelToolUse'> = {
    ...(req.user !== undefined ? { metadata: { userId: req.user } } : {}),
    ...(req.reasoningEffort !== undefined && !thinkingLost(req.messages) ? { thinking: { type: 'enabled', budgetTokens: thinkingBudget[req.reasoningEffort] } } : {}),
    ...(req.parallelToolCalls === false ? { disableParallelToolUse: true } : {}),
  };
  return Object.keys(o).length > 0 ? { anthropic: o } : undefined;
}

/** Whether the last assistant turn (consecutive assistant messages, one turn to Claude) made calls and has no thinking to open with. */
export function thinkingLost(messages: Message[]): boolean {
  let end = messages.length;
  while (end > 0 && messages[end - 1]!.role !== 'assistant') end--;
  let start = end;
  while (start > 0 && messages[start - 1]!.role === 'assistant') start--;
  const first = messages.slice(start, end).flatMap((m) => (m.role === 'assistant' ? (m.toolCalls ?? []) : []))[0];
  return first !== undefined && !first.state?.reasoning?.some((b) => b.metadata.anthropic !== undefined);
}
