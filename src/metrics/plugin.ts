// GET /metrics (Prometheus), GET /healthz (process up), GET /readyz (database reachable), the
// x-request-id response header, and request counting. Not encapsulated: hooks see every route.
import fp from 'fastify-plugin';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../core/errors.js';
import { docsOnly } from '../docs/schemas.js';
import { createMetrics } from './metrics.js';

const READY_TIMEOUT_MS = 2000;

export const observabilityPlugin = fp(
  async (app: FastifyInstance) => {
    const metrics = createMetrics();
    // The lifecycle reads deps.observer at call time; routes pass app.services as deps.
    app.services.observer = metrics.observer;

    // Synchronous (`done`), as every per-request hook: no promise or microtask turn per request.
    app.addHook('onRequest', (req, reply, done) => {
      // On the raw response so hijacked SSE replies carry it too.
      reply.raw.setHeader('x-request-id', req.id);
      reply.raw.once('close', () => {
        const status = reply.raw.headersSent ? String(reply.raw.statusCode) : '499';
        metrics.httpRequests.inc({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status });
      });
      done();
    });

    // Outside the API scope: no key (probes and scrapers).
    const ops = (summary: string, response: Record<string, unknown>) => docsOnly({ summary, tags: ['operations'], security: [], response });
    const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });
    const status = { type: 'object', properties: { status: { type: 'string' } } };

    app.get('/metrics', { schema: ops('Prometheus metrics', { 200: text('Prometheus text format') }) }, async (_req, reply) => {
      void reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });

    app.get('/healthz', { schema: ops('Liveness: the process is up', { 200: { description: 'Up', content: { 'application/json': { schema: status } } } }) }, async () => ({ status: 'ok' }));

    app.get(
      '/readyz',
      {
        schema: ops('Readiness: the database answers', {
          200: { description: 'Ready', content: { 'application/json': { schema: status } } },
          503: { description: 'Database unreachable', content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } } },
        }),
      },
      async () => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            sql`select 1`.execute(app.services.db.kysely),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
            }),
          ]);
        } catch (err) {
          throw new GatewayError('service_unavailable', `database unreachable: ${err instanceof Error ? err.message : String(err)}`, { database: 'unreachable' });
        } finally {
          clearTimeout(timer);
        }
        return { status: 'ok', database: 'ok' };
      },
    );
  },
  { name: 'lumengate-observability' },
);
