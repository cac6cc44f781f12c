// Small fetch helper for the security tests: any method, bearer token, raw or JSON body.
export interface Reply {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

export async function call(base: string, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = {
    ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    ...opts.headers,
  };
  const res = await fetch(base + path, { method, headers, body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* empty or not JSON */
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** True when `body` is exactly the error envelope { error: string, message: string, details: object, ...extra }. */
/** The OpenAI-shaped error the /v1 surface answers with (docs/ecosystem.md), carrying our code. */
export function isOpenAIError(body: any): boolean {
  const e = body?.error;
  return e !== null && typeof e === 'object' && typeof e.message === 'string' && typeof e.type === 'string' && typeof e.code === 'string';
}

export function isEnvelope(body: any): boolean {
  return (
    body !== null &&
    typeof body === 'object' &&
    typeof body.error === 'string' &&
    typeof body.message === 'string' &&
    body.details !== null &&
    typeof body.details === 'object' &&
    !Array.isArray(body.details)
  );
}
