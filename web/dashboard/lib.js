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
