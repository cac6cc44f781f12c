// One price function for every model (docs/api.md): calculate-price, the hold and the settlement
// all call priceOf, so what a caller is quoted is what is held, and the charge never exceeds it.
import type { ModelEntry } from '../config/catalog.js';
import { validationError } from '../core/errors.js';

/** What is known only after the run (seconds of output, characters spoken). */
export interface Measured {
  seconds?: number;
  characters?: number;
}

/** The tokens one generation of `model` costs with these options (Style C fields, merged). */
export function priceOf(model: ModelEntry, options: Record<string, unknown>, measured: Measured = {}): number {
  const p = model.pricing ?? {};
  switch (model.pricing_type) {
    case 'fixed':
      return model.token_cost;
    case 'matrix':
      return lookup(model, options);
    case 'per_point':
      // MidJourney-style: the options select a number of points, each costing `rate` tokens.
      return clamp(model, Math.ceil(lookup(model, options) * (p.rate ?? 1)));
    case 'per_second': {
      const seconds = measured.seconds ?? secondsOf(model, options);
      return clamp(model, Math.ceil(seconds * (p.rate ?? 0)));
    }
    case 'per_char': {
      const chars = measured.characters ?? textOf(options).length;
      return clamp(model, Math.ceil(chars * (p.rate ?? 0)));
    }
  }
}

/** Seconds a per_second model is priced at when neither the request nor its table gives any. */
const DEFAULT_SECONDS = 5;

/**
 * The values priceOf assumes for the options a request leaves out: matrix and per_point `defaults`,
 * per_second `seconds.default`. A job asks its provider for them (src/jobs/options.ts), so what is
 * made is what was priced.
 */
export function pricedDefaults(model: ModelEntry): Record<string, unknown> {
  const p = model.pricing;
  if ((model.pricing_type === 'matrix' || model.pricing_type === 'per_point') && p?.by && p.defaults) {
    const defaults = p.defaults;
    return Object.fromEntries(p.by.filter((name) => defaults[name] !== undefined).map((name) => [name, defaults[name]]));
  }
  if (model.pricing_type === 'per_second') return { [p?.seconds?.option ?? 'duration']: p?.seconds?.default ?? DEFAULT_SECONDS };
  return {};
}

/** The seconds a per_second model will produce: the option (validated against the table's bounds) or its default. */
function secondsOf(model: ModelEntry, options: Record<string, unknown>): number {
  const s = model.pricing?.seconds;
  const name = s?.option ?? 'duration';
  const given = options[name];
  if (given === undefined || given === null) return s?.default ?? DEFAULT_SECONDS;
  if (typeof given !== 'number' || !Number.isFinite(given)) throw validationError([{ path: name, message: 'must be a number of seconds' }]);
  if (s?.allowed && !s.allowed.includes(given)) throw validationError([{ path: name, message: `model ${model.slug} takes ${s.allowed.join(' or ')} seconds` }]);
  if ((s?.min !== undefined && given < s.min) || (s?.max !== undefined && given > s.max)) {
    throw validationError([{ path: name, message: `model ${model.slug} takes ${s?.min ?? 0}–${s?.max ?? '∞'} seconds` }]);
  }
  return given;
}

/** The table entry for the options' values (defaults for those not given); 422 naming them otherwise. */
function lookup(model: ModelEntry, options: Record<string, unknown>): number {
  const p = model.pricing;
  if (!p?.table || !p.by) return model.token_cost;
  const values = p.by.map((name) => String((options[name] ?? p.defaults?.[name] ?? '') as string | number | boolean));
  const price = p.table[values.join('|')];
  if (price === undefined) {
    const known = Object.keys(p.table).join(', ');
    throw validationError(p.by.map((name, i) => ({ path: name, message: `model ${model.slug} has no price for ${p.by!.join(' × ')} = ${values.join(' × ')} (one of: ${known}); value ${values[i]}` })));
  }
  return price;
}

/** The text a TTS model speaks: `text`, else el-dialogue's `inputs[].text`, else the prompt. */
function textOf(options: Record<string, unknown>): string {
  if (typeof options.text === 'string') return options.text;
  if (Array.isArray(options.inputs)) return dialogueText(options.inputs);
  return typeof options.prompt === 'string' ? options.prompt : '';
}

/** The text el-dialogue's `inputs` speak: their `text`s, in order (an entry without one speaks nothing). */
export function dialogueText(inputs: readonly unknown[]): string {
  return inputs.map((i) => (typeof (i as { text?: unknown } | null)?.text === 'string' ? (i as { text: string }).text : '')).join('');
}

/** Rates are never below the model's minimum (a 1-second clip still costs min_token_cost). */
function clamp(model: ModelEntry, n: number): number {
  return Math.max(model.min_token_cost, n);
}
