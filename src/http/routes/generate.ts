// /api/v2/generate, /api/v2/generate/stream, and status polling. Translation only: the work is in
// generation/lifecycle.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { SseWriter } from '../sse.js';
import { parseGenerateBody } from '../../generation/request.js';
import { runGeneration } from '../../generation/lifecycle.js';
import { generationObject } from '../../generation/object.js';
import { rateLimitHeaders } from '../../limits/rate-limits.js';
import { isDatabaseUnavailable } from '../../db/unavailable.js';

export async function generateRoutes(app: FastifyInstance): Promise<void> {
  const deps = app.services;

  app.post('/api/v2/generate', (req, reply) => generate(req, reply, false));
  app.post('/api/v2/generate/stream', (req, reply) => generate(req, reply, true));

  async function generate(req: FastifyRequest, reply: FastifyReply, streamEndpoint: boolean) {
    const caller = await app.authenticate(req);
    const input = parseGenerateBody(req.body, { forceStream: streamEndpoint });
    const clientGone = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) clientGone.abort();
    });

    if (!input.stream) {
      const text: string[] = [];
      const outcome = await runGeneration(deps, caller, input, { opened() {}, delta: (t) => void text.push(t) }, clientGone.signal);
      if (outcome.failure) {
        const status = outcome.failure.code === 'model_unavailable' ? 'model_unavailable' : 'provider_error';
        throw new ApiError(status, outcome.failure.message, { generation_id: outcome.generation.id });
      }
      return outcome.generation;
    }

    const sse = new SseWriter(reply.raw, deps.settings.heartbeatMs);
    let opened = false;
    try {
      const outcome = await runGeneration(deps, caller, input, {
        opened({ id, model }) {
          opened = true;
          reply.hijack();
          sse.open({ 'x-generation-id': id, ...rateLimitHeaders(deps.limits.stateOf(caller)) });
          void sse.send({ type: 'generation_start', id, model });
        },
        delta: (delta) => sse.send({ type: 'content_delta', delta }),
      }, clientGone.signal);
      const g = outcome.generation;
      if (!opened) {
        // Failed before the upstream ever accepted: a plain JSON error (DECISIONS 11).
        const code = outcome.failure?.code === 'model_unavailable' ? 'model_unavailable' : 'provider_error';
        throw new ApiError(code, outcome.failure?.message ?? 'provider error', { generation_id: g.id });
      }
      if (outcome.failure) {
        void sse.send({ type: 'error', message: outcome.failure.message, code: outcome.failure.code, id: g.id });
      } else {
        void sse.send({ type: 'generation_end', id: g.id, tokens_spent: g.tokens_spent, tokens_used: g.tokens_used, balance_remaining: g.balance_remaining });
      }
      sse.end();
    } catch (err) {
      sse.stop();
      if (!opened) throw err;
      // A bug after the stream opened: still never a silent close.
      req.log.error({ err }, 'stream failed after open');
      void sse.send(isDatabaseUnavailable(err)
        ? { type: 'error', message: 'database unavailable, retry shortly', code: 'service_unavailable' }
        : { type: 'error', message: 'internal server error', code: 'internal_error' });
      sse.end();
    }
    return reply;
  }

  const byId = async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const caller = await app.authenticate(req);
    const id = /^\d{1,15}$/.test(req.params.id) ? Number(req.params.id) : NaN;
    const g = Number.isSafeInteger(id)
      ? await deps.db.kysely.selectFrom('generations').selectAll().where('id', '=', id).where('account_id', '=', caller.account.id).where('deleted_at', 'is', null).executeTakeFirst()
      : undefined;
    if (!g) throw new ApiError('not_found', `generation ${req.params.id} not found`, { generation_id: req.params.id });
    const balance = caller.account.plan_tokens + caller.account.package_tokens;
    return generationObject(g, balance);
  };
  app.get('/api/v2/generate/:id', byId);
  app.get('/api/v2/generate/status/:id', byId);
}
