// Per-model input limits (catalog fields max_messages / max_prompt_chars) with defaults, checked
// before anything is held or sent upstream: an oversized conversation is a 422, never a provider bill.
import type { ModelEntry } from '../config/catalog.js';
import { validationError } from '../core/errors.js';
import type { GenerationInput } from './request.js';
import { messageText } from '../providers/spec.js';

/** Messages per request (system + history + prompt) unless the model says otherwise. */
export const DEFAULT_MAX_MESSAGES = 1000;
/** Characters (UTF-16 code units) over all messages: ~100k tokens, inside every current text model's context. */
export const DEFAULT_MAX_PROMPT_CHARS = 400_000;
/** Image, video, audio prompts are descriptions, not documents. */
export const DEFAULT_MAX_PROMPT_CHARS_MEDIA = 10_000;

export function inputLimits(model: ModelEntry): { maxMessages: number; maxPromptChars: number } {
  return {
    maxMessages: model.max_messages ?? DEFAULT_MAX_MESSAGES,
    maxPromptChars: model.max_prompt_chars ?? (model.category === 'text' ? DEFAULT_MAX_PROMPT_CHARS : DEFAULT_MAX_PROMPT_CHARS_MEDIA),
  };
}

export function enforceInputLimits(model: ModelEntry, input: GenerationInput): void {
  const { maxMessages, maxPromptChars } = inputLimits(model);
  if (input.messages.length > maxMessages) {
    // In the request's own words (GenerationInput.fieldPath): /v1/responses has no messages, it
    // counts its input items after its instructions and a previous response's.
    const field = input.fieldPath?.('messages') ?? 'messages';
    const counted = field === 'messages' ? 'messages' : `${field} items (instructions and a previous response's included)`;
    throw validationError([{ path: field, message: `at most ${maxMessages} ${counted} for model ${model.slug}, got ${input.messages.length}` }]);
  }
  const sizes = input.messages.map((m) => messageText(m).length + (m.role === 'assistant' ? (m.toolCalls ?? []).reduce((k, c) => k + c.arguments.length, 0) : 0));
  const chars = sizes.reduce((n, k) => n + k, 0);
  if (chars > maxPromptChars) {
    // The limit is over the whole conversation; the error names the field that holds most of it.
    const longest = sizes.indexOf(Math.max(...sizes));
    const path = input.messagePaths?.[longest] ?? `messages.${longest}`;
    throw validationError([{ path, message: `at most ${maxPromptChars} characters over the whole conversation for model ${model.slug}, got ${chars}` }]);
  }
}
