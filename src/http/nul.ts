// NUL (U+0000) in request input is refused with 400 before any route runs. PostgreSQL cannot store
// it in a text column ("invalid byte sequence 0x00"): a prompt or a query filter with NUL used to
// end in a 500, and nothing legitimate needs it. One generic check covers the JSON body (every
// string and every key, at any depth), the query string and the path parameters.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../core/errors.js';

/** The path (`messages.1.content`) of the first string or key holding NUL in `value`, or null. */
export function findNul(value: unknown): string | null {
  // Iterative: a body nested 100,000 levels deep must not overflow the stack.
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) return path || '(body)';
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], path ? `${path}.${i}` : String(i)]);
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i]!;
        const childPath = path ? `${path}.${k}` : k;
        if (k.includes('\0')) return childPath;
        stack.push([child, childPath]);
      }
    }
  }
  return null;
}

function refuseNul(req: FastifyRequest): void {
  const where = (
    [
      ['query', req.query],
      ['path', req.params],
      ['body', req.body],
    ] as const
  )
    .map(([part, v]) => [part, findNul(v)] as const)
    .find(([, path]) => path !== null);
  if (!where) return;
  const [part, path] = where;
  const field = part === 'body' ? path! : `${part} ${path}`;
  throw badRequest(`${field} must not contain the NUL character (U+0000)`, { fields: [{ path: part === 'body' ? path! : `${part}.${path}`, message: 'must not contain the NUL character (U+0000)' }] });
}

/** Installed on the root instance before the routes, so every route (and /v1) is covered. */
export function installNulCheck(app: FastifyInstance): void {
  // preValidation: after the body is parsed, before any handler reads it. Synchronous (`done`):
  // no promise or microtask turn per request.
  app.addHook('preValidation', (req, _reply, done) => {
    try {
      refuseNul(req);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });
}
