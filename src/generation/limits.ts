// Per-model input limits (catalog fields max_messages / max_prompt_chars) with defaults, checked
// before anything is held or sent upstream: an oversized conversation is a 422, never a provider bill.
import type { ModelEntry } from '../config/catalog.js';
import { validationError } from '../core/errors.js';
import type { GenerationInput } from './request.js';
import { messageText } from '../providers/spec.js';
import { dialogueText } from './pricing.js';

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

/**
 * The text a media job speaks from its options, beside its prompt: a `text` of its own (MiniMax
 * speech reads it before the prompt) and el-dialogue's `inputs[].text`. Each is an option name with
 * its characters (UTF-16 code units, as the prompt is counted).
 */
export function spokenOptionText(options: Record<string, unknown>, prompt: string | null): { name: string; chars: number }[] {
  const found: { name: string; chars: number }[] = [];
  if (typeof options.text === 'string' && options.text !== prompt) found.push({ name: 'text', chars: options.text.length });
  if (Array.isArray(options.inputs)) found.push({ name: 'inputs', chars: dialogueText(options.inputs).length });
  return found;
}

/**
 * A media job's spoken text counts against the model's prompt limit wherever it is sent, so a
 * fixed-price speech model never speaks more than the prompt limit allows (422 naming the option
 * that holds most of it, at `at(name)`: params.text where params gave it).
 */
export function enforceSpokenTextLimit(model: ModelEntry, input: GenerationInput, options: Record<string, unknown>, at: (name: string) => string): void {
  const extra = spokenOptionText(options, input.promptText);
  if (extra.length === 0) return;
  const { maxPromptChars } = inputLimits(model);
  const chars = input.messages.reduce((n, m) => n + messageText(m).length, 0) + extra.reduce((n, e) => n + e.chars, 0);
  if (chars <= maxPromptChars) return;
  const most = extra.reduce((a, b) => (b.chars > a.chars ? b : a));
  throw validationError([{ path: at(most.name), message: `at most ${maxPromptChars} characters of prompt and text to speak for model ${model.slug}, got ${chars}` }]);
}

/**
 * /v1/embeddings: the catalog's input limits where the model sets them (no defaults here), as
 * chat's above: `max_messages` inputs, `max_prompt_chars` characters over all of them. One flat
 * price covers the request, so they bound what it may send upstream: 422 naming the input holding
 * most of the text (`input` when it was one string), before anything is counted or held. Unset,
 * the body limit and the 2048 inputs bound it.
 */
export function enforceEmbeddingLimits(model: ModelEntry, texts: readonly string[], single: boolean): void {
  if (model.max_messages !== undefined && texts.length > model.max_messages) {
    throw validationError([{ path: 'input', message: `at most ${model.max_messages} inputs for model ${model.slug}, got ${texts.length}` }]);
  }
  if (model.max_prompt_chars === undefined) return;
  const sizes = texts.map((t) => t.length);
  const chars = sizes.reduce((n, k) => n + k, 0);
  if (chars <= model.max_prompt_chars) return;
  const path = single ? 'input' : `input.${sizes.indexOf(Math.max(...sizes))}`;
  throw validationError([{ path, message: `at most ${model.max_prompt_chars} characters over all inputs for model ${model.slug}, got ${chars}` }]);
}
