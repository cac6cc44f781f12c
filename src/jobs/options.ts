// "Options a model does not take are refused" (docs/api.md): every option of a media job, and its
// prompt, must be taken by EVERY route of the model (src/providers/media-options.ts), or the
// request is refused with 400 naming it before anything is held. A model with two routes accepts
// only what both forward, so a fallback never drops what the caller asked for.
import type { Catalog, ModelEntry } from '../config/catalog.js';
import { unsupportedField, validationError } from '../core/errors.js';
import { TEXT_OPTION_NAMES, optionPath, type GenerationInput } from '../generation/request.js';
import { pricedDefaults } from '../generation/pricing.js';
import { mediaOneOf, mediaOptions } from '../providers/media-options.js';
import { unreadableOption } from '../providers/media-http.js';
import type { MediaKind, Message } from '../providers/spec.js';
import { providerType } from './inputs.js';

const takes = (catalog: Pick<Catalog, 'providers'>, model: ModelEntry, r: ModelEntry['routes'][number], name: string): boolean =>
  mediaOptions(providerType(catalog, r.provider), model.category as MediaKind, r.model).has(name);

const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');

/** The first route of `model` that would drop `name`, if any. */
function droppingRoute(catalog: Pick<Catalog, 'providers'>, model: ModelEntry, name: string): string | undefined {
  return model.routes.find((r) => !takes(catalog, model, r, name))?.provider;
}

/**
 * 400 naming `name` as the option `model` does not take (the same words on every media surface),
 * by `path` where the body has it elsewhere (/api/v2's params.<name>).
 */
export function refuseOption(catalog: Pick<Catalog, 'providers'>, model: ModelEntry, name: string, path = name): void {
  const route = droppingRoute(catalog, model, name);
  if (route === undefined) return;
  // Text generation controls (temperature, max_tokens, tools, …) mean nothing to a media model.
  const textOnly = TEXT_OPTION_NAMES.has(name) && name !== 'seed' && name !== 'text' && !model.routes.some((r) => takes(catalog, model, r, name));
  const why = textOnly ? `a text generation option; model "${model.slug}" is ${article(model.category)} ${model.category} model` : `model "${model.slug}" does not take it`;
  throw unsupportedField(path, `${why} (its ${route} route has no such option)`);
}

/**
 * Checks a media job's options (the gateway's own `wait` and `callback_url` removed, an input
 * file's data: URL already taken out) and its prompt against every route of the model. Each is
 * named where the body has it (`at`: params.bar, params.system_prompt, params.messages,
 * params.text as the prompt on /api/v2), else by its own name.
 */
export function checkMediaOptions(
  catalog: Pick<Catalog, 'providers'>,
  model: ModelEntry,
  options: Record<string, unknown>,
  prompt: string | null,
  messages: readonly Message[] = [],
  at: Pick<GenerationInput, 'paramsOptions' | 'messagePaths'> = {},
  /** The option whose data: URL became the job's input file (taken out of `options`): given too. */
  inputFrom?: string,
): void {
  // A media job takes one prompt: a system prompt or a conversation would be dropped.
  const system = messages.findIndex((m) => m.role === 'system');
  if (system >= 0) throw unsupportedField(at.messagePaths?.[system] ?? 'system', `model "${model.slug}" takes no system prompt (it is ${article(model.category)} ${model.category} model)`);
  if (messages.some((m) => m.role !== 'user') || messages.length > 1) {
    // The conversation's field: params.messages where it starts there, else messages.
    const conversation = at.messagePaths?.map((p) => /^((?:params\.)?messages)\.\d+$/.exec(p)?.[1]).find((p) => p !== undefined) ?? 'messages';
    throw unsupportedField(conversation, `model "${model.slug}" takes one prompt, not a conversation (it is ${article(model.category)} ${model.category} model)`);
  }
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    // Style C's `text` is the prompt (docs/api.md) unless the model takes a text of its own.
    if (name === 'text' && value === prompt && droppingRoute(catalog, model, 'text') !== undefined) continue;
    refuseOption(catalog, model, name, optionPath(at, name));
    // Taken by name, but of a type its module would read as absent (`face_enhance: "yes"`): 422, never dropped.
    const must = value === null ? undefined : unreadableOption(name, value);
    if (must) throw validationError([{ path: optionPath(at, name), message: `model "${model.slug}" takes ${must} here` }]);
  }
  // The prompt where it was sent: prompt, text or params.text (/api/v2), input (/v1/audio/speech).
  const promptPath = at.messagePaths?.[messages.length - 1] ?? 'prompt';
  if (prompt !== null && prompt !== '') refuseOption(catalog, model, 'prompt', promptPath);
  // Two options of which a route reads only one: the other would be dropped.
  const given = (name: string) =>
    name === 'prompt' ? prompt !== null && prompt !== '' : name === inputFrom || (options[name] !== undefined && options[name] !== null && !(name === 'text' && options.text === prompt));
  for (const r of model.routes) {
    for (const [read, dropped] of mediaOneOf(providerType(catalog, r.provider), model.category as MediaKind, r.model)) {
      if (given(read) && given(dropped)) {
        throw unsupportedField(
          dropped === 'prompt' ? promptPath : optionPath(at, dropped),
          `model "${model.slug}" reads ${read} instead when both are given (its ${r.provider} route); send one of them`,
        );
      }
    }
  }
}

/**
 * The options with the price table's defaults filled in where the request left them out (matrix and
 * per_point `defaults`, per_second `seconds.default`), for each option every route of the model
 * forwards. priceOf prices a request by those defaults, so the provider is asked for exactly them,
 * not for its own: Veo makes 8 s when no duration is given, gpt-image picks its quality ("auto").
 * What is made is what was held, and the charge (capped at the hold) pays for it.
 */
export function withPricedDefaults(catalog: Pick<Catalog, 'providers'>, model: ModelEntry, options: Record<string, unknown>): Record<string, unknown> {
  const out = { ...options };
  for (const [name, value] of Object.entries(pricedDefaults(model))) {
    if (out[name] == null && model.routes.every((r) => takes(catalog, model, r, name))) out[name] = value;
  }
  return out;
}
