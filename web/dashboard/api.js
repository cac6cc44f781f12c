// Talks to the lumengate API. The key lives in sessionStorage (gone when the tab closes) and is
// sent only in the Authorization header, never in a URL.
import { createParser } from '/dashboard/vendor/eventsource-parser.mjs';

const STORAGE_KEY = 'lumengate.apiKey';

export const session = {
  key: () => sessionStorage.getItem(STORAGE_KEY),
  signIn: (key) => sessionStorage.setItem(STORAGE_KEY, key),
  signOut: () => sessionStorage.removeItem(STORAGE_KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error ?? 'http_error';
    this.body = body;
  }
}

/** Listeners told when the key stops working (401), so the app can return to sign-in. */
const unauthorizedListeners = new Set();
export const onUnauthorized = (fn) => {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
};

function headers(key, json) {
  return { authorization: `Bearer ${key}`, ...(json ? { 'content-type': 'application/json' } : {}) };
}

async function failure(res) {
  const body = await res.json().catch(() => null);
  const err = new ApiError(res.status, body);
  if (res.status === 401) unauthorizedListeners.forEach((fn) => fn(err));
  return err;
}

/** JSON request with the session key (or an explicit one, for signing in). */
export async function api(path, { method = 'GET', body, key = session.key(), signal } = {}) {
  const res = await fetch(path, { method, headers: headers(key, body !== undefined), body: body === undefined ? undefined : JSON.stringify(body), signal });
  if (!res.ok) throw await failure(res);
  return res.status === 204 ? null : res.json();
}

/** Public endpoints (the model catalog) need no key. */
export async function publicApi(path) {
  const res = await fetch(path);
  if (!res.ok) throw await failure(res);
  return res.json();
}

/**
 * POST /api/v2/generate/stream; calls onEvent for every `data:` event as it arrives. Aborting
 * `signal` cancels the fetch, which closes the connection; the gateway then cancels the upstream.
 */
export async function streamGeneration(body, { signal, onEvent }) {
  const res = await fetch('/api/v2/generate/stream', { method: 'POST', headers: headers(session.key(), true), body: JSON.stringify(body), signal });
  if (!res.ok) throw await failure(res);
  const parser = createParser({
    onEvent(ev) {
      if (ev.data !== '[DONE]') onEvent(JSON.parse(ev.data));
    },
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    parser.feed(value);
  }
}
