// One place that imports the vendored libraries (served by the gateway from node_modules).
import { h, render } from '/dashboard/vendor/preact.mjs';
import htm from '/dashboard/vendor/htm.mjs';

export { useCallback, useEffect, useMemo, useRef, useState } from '/dashboard/vendor/hooks.mjs';
export { render };
export const html = htm.bind(h);

export const fmt = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** The unit of balances and prices: prepaid request credits (not LLM tokens). API fields keep "token". */
export const credits = (n) => `${fmt(n)} credit${n === 1 ? '' : 's'}`;

/** Plans from lowest to highest, as the gateway orders them (src/config/catalog.ts). */
export const PLANS = ['free', 'basic', 'pro', 'vip', 'elite'];

/** Why `plan` cannot use model `m` right now, or null when it can. */
export function modelLock(m, plan) {
  if (PLANS.indexOf(plan) < PLANS.indexOf(m.min_plan)) return { kind: 'plan', reason: `needs the ${m.min_plan} plan` };
  if (!m.available) return { kind: 'unavailable', reason: m.unavailable_reason || 'not configured on this gateway' };
  return null;
}

/** The History label of a generation: status plus whether it was charged. */
export function outcome(g, finishReason) {
  if (g.status === 'failed') return { label: 'failed · not charged', kind: 'failed' };
  if (g.status === 'pending') return { label: 'pending', kind: 'pending' };
  const charged = `charged ${fmt(g.tokens_spent)}`;
  if (finishReason === 'client_disconnected') return { label: `stopped · ${charged}`, kind: 'stopped' };
  return { label: `completed · ${charged}`, kind: 'completed' };
}
