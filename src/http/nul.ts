// Request input that no route may see, refused with 400 before any route runs. NUL (U+0000):
// PostgreSQL cannot store it in a text column ("invalid byte sequence 0x00"): a prompt or a query
// filter with NUL used to end in a 500, and nothing legitimate needs it. Nesting deeper than
// MAX_JSON_DEPTH: what reads a body after the parser (JSON.stringify of the upstream request, the
// SDKs' schema conversions) recurses, so a tool schema nested 20,000 levels deep overflowed the
// stack inside the provider, a failure that counted against the route and opened its circuit
// breaker for every account. One generic check covers the JSON body (every string and every key,
// at any depth), the query string and the path parameters.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { unsupportedField } from '../core/errors.js';

/** Levels of arrays and objects a JSON body may nest (the body is level 1): far beyond any real schema or conversation. */
export const MAX_JSON_DEPTH = 128;

type Refused = { path: string; why: 'nul' | 'depth' };

/** The path (`messages.1.content`) of the first string or key holding NUL in `value`, or of the first array or object nested deeper than MAX_JSON_DEPTH; null when there is none. */
export function findRefused(value: unknown): Refused | null {
  // Iterative: a body nested 100,000 levels deep must not overflow the stack here either.
  const stack: Array<[unknown, string, number]> = [[value, '', 1]];
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) return { path: path || '(body)', why: 'nul' };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) return { path: path || '(body)', why: 'depth' };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], path ? `${path}.${i}` : String(i), depth + 1]);
    } else {
      const entries = Object.entries(v as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i]!;
        const childPath = path ? `${path}.${k}` : k;
        if (k.includes('\0')) return { path: childPath, why: 'nul' };
        stack.push([child, childPath, depth + 1]);
      }
    }
  }
  return null;
}

/**
 * Whether findRefused would name something in `value`: the same walk without building a path for
 * every node (a 1 MB schema of 27,000 properties took 27 ms with the paths, and almost no body
 * has anything to name). Own enumerable keys, as Object.entries gives them.
 */
export function anyRefused(value: unknown): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) return true;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) return true;
    if (Array.isArray(v)) {
      for (const child of v) {
        values.push(child);
        depths.push(depth + 1);
      }
    } else {
      for (const k of Object.keys(v)) {
        if (k.includes('\0')) return true;
        values.push((v as Record<string, unknown>)[k]);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

function refuseInput(req: FastifyRequest): void {
  const where = (
    [
      ['query', req.query],
      ['path', req.params],
      ['body', req.body],
    ] as const
  )
    .map(([part, v]) => [part, anyRefused(v) ? findRefused(v) : null] as const)
    .find(([, found]) => found !== null);
  if (!where) return;
  const [part, { path, why }] = where as [string, Refused];
  // Named as the field, clipped like every echoed path (a key may be 900 KB long).
  throw unsupportedField(
    part === 'body' ? path : `${part}.${path}`,
    why === 'nul' ? 'must not contain the NUL character (U+0000)' : `nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`,
  );
}

/** Installed on the root instance before the routes, so every route (and /v1) is covered. */
export function installNulCheck(app: FastifyInstance): void {
  // preValidation: after the body is parsed, before any handler reads it. Synchronous (`done`):
  // no promise or microtask turn per request.
  app.addHook('preValidation', (req, _reply, done) => {
    try {
      refuseInput(req);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });
}
