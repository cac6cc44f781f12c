// Google Gemini API (POST {base_url}/models/{model}:streamGenerateContent?alt=sse, x-goog-api-key auth).
import { createGoogleGenerativeAI, type GoogleLanguageModelOptions } from '@ai-sdk/google';
import { aiSdkProvider, commonRefusal, neverSend, thinkingBudget, upstreamFetch, type Refusal } from './ai-sdk.js';
import type { ProviderConfig } from './config.js';
import type { Provider, ProviderRequest, RequestFields } from './spec.js';

export function googleProvider(id: string, cfg: ProviderConfig): Provider {
  const upstream = upstreamFetch();
  const sdk = createGoogleGenerativeAI({ baseURL: cfg.base_url, apiKey: cfg.api_key, headers: cfg.headers, fetch: upstream.fetch });
  // The same SDK converting calls without sending them: what it refuses in a schema is refused before the hold.
  const dry = createGoogleGenerativeAI({ baseURL: cfg.base_url, apiKey: 'not-sent', fetch: neverSend });
  return aiSdkProvider(id, (model) => sdk.chat(model), { unsupported: refusedByGoogle, providerOptions: googleOptions, dryRun: (model) => dry.chat(model), stateKey: 'google', close: upstream.close });
}

// The SDK drops penalties for Gemini 2.5 on the Developer API (the API refuses them there).
const gemini25 = /(^|\/)gemini-2\.5(?:[.-]|$)/i;
const gemini3 = /(^|\/)gemini-3/i;

/** What the Gemini API cannot take; `user` is accepted and not forwarded (Gemini has no such field). */
export function refusedByGoogle(req: RequestFields): Refusal {
  const common = commonRefusal(req);
  if (common) return common;
  // Gemini's system instruction comes before the conversation: a system message after the first
  // turn (which OpenAI takes) has no place there, and moving it would change what it means.
  const firstTurn = req.messages.findIndex((m) => m.role !== 'system');
  const late = firstTurn < 0 ? -1 : req.messages.findIndex((m, i) => i > firstTurn && m.role === 'system');
  if (late >= 0) return { field: 'messages', message: late, why: 'Gemini takes system messages only before the first turn of the conversation' };
  if (gemini25.test(req.upstreamModel)) {
    if (req.frequencyPenalty !== undefined) return { field: 'frequency_penalty', why: 'Gemini 2.5 has no frequency penalty' };
    if (req.presencePenalty !== undefined) return { field: 'presence_penalty', why: 'Gemini 2.5 has no presence penalty' };
  }
  if (req.parallelToolCalls === false) return { field: 'parallel_tool_calls', why: 'Gemini cannot be kept to one tool call per turn' };
  return undefined;
}

/** reasoning_effort -> thinkingConfig: a level on Gemini 3, a token budget before it; thoughts are streamed as reasoning. */
export function googleOptions(req: ProviderRequest): { google: Pick<GoogleLanguageModelOptions, 'thinkingConfig'> } | undefined {
  const effort = req.reasoningEffort;
  if (effort === undefined) return undefined;
  const level = gemini3.test(req.upstreamModel) ? { thinkingLevel: effort } : { thinkingBudget: thinkingBudget[effort] };
  return { google: { thinkingConfig: { ...level, includeThoughts: true } } };
}
