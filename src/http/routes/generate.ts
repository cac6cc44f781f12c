// /api/v2/generate, /api/v2/generate/stream, status polling, and cancelling media jobs. Translation only: the work is in
// generation/lifecycle.ts; the stream is the shared skeleton with the v2 event encoder.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import { parseGenerateBody } from '../../generation/request.js';
import { runGeneration } from '../../generation/lifecycle.js';
import { generationObject } from '../../generation/object.js';
import { findGeneration, findOwnGeneration } from '../../generation/store.js';
import { cancelJob, isJobModel, submitJob } from '../../jobs/submit.js';
import { balanceOf } from '../../jobs/store.js';
import { rateLimitHeaders } from '../../limits/rate-limits.js';
import { callerOf } from '../app.js';
import { runStreaming, runToCompletion, type StreamEncoder } from '../streaming.js';

/** The Elumenta v2 stream: generation_start, content_delta…, tool_call…, generation_end | error. */
export const v2Encoder: StreamEncoder = {
  start: ({ id, model }) => [{ data: { type: 'generation_start', id, model } }],
  part(p) {
    switch (p.type) {
      case 'text-delta': return [{ data: { type: 'content_delta', delta: p.delta } }];
      case 'reasoning-delta': return [{ data: { type: 'reasoning_delta', delta: p.delta } }];
      // One event per complete call (DECISIONS 26); argument fragments are not sent on v2.
      case 'tool-call': return [{ data: { type: 'tool_call', index: p.index, id: p.id, name: p.name, arguments: p.arguments } }];
      default: return [];
    }
  },
  end: (g) => [{ data: { type: 'generation_end', id: g.id, tokens_spent: g.tokens_spent, tokens_used: g.tokens_used, balance_remaining: g.balance_remaining } }],
  failure: (f, g) => [{ data: { type: 'error', message: f.message, code: f.code, id: g.id } }],
  internal: (code, message) => [{ data: { type: 'error', message, code } }],
};

export async function generateRoutes(app: FastifyInstance): Promise<void> {
  const deps = app.services;

  app.post('/api/v2/generate', (req, reply) => generate(req, reply, false));
  app.post('/api/v2/generate/stream', (req, reply) => generate(req, reply, true));

  async function generate(req: FastifyRequest, reply: FastifyReply, streamEndpoint: boolean) {
    const caller = callerOf(req);
    const input = parseGenerateBody(req.body, { forceStream: streamEndpoint });
    if (isJobModel(deps.catalog.get(input.model))) return generateMedia(reply, caller, input);
    const run = (sink: Parameters<typeof runGeneration>[3], signal: AbortSignal) => runGeneration(deps, caller, input, sink, signal);
    if (!input.stream) return runToCompletion(reply, run);
    return runStreaming(req, reply, {
      heartbeatMs: deps.settings.heartbeatMs,
      headers: () => rateLimitHeaders(deps.limits.stateOf(caller)),
      encoder: v2Encoder,
      run,
    });
  }

  /** Media (DECISIONS 31): a job; the answer is the generation when it ends within `wait`, else pending. */
  async function generateMedia(reply: FastifyReply, caller: ReturnType<typeof callerOf>, input: ReturnType<typeof parseGenerateBody>) {
    const jobs = deps.jobs;
    if (!jobs) throw new GatewayError('service_unavailable', 'media jobs are not running on this server');
    const { generationId, waitMs } = await submitJob(jobs.deps, jobs.runner, caller, input);
    // Waiting ends early if the client leaves (the response closes before it was sent); the job runs on regardless.
    const gone = new AbortController();
    const onClose = () => gone.abort();
    reply.raw.once('close', onClose);
    await jobs.runner.waitFor(generationId, waitMs, gone.signal);
    reply.raw.off('close', onClose);
    const g = (await findGeneration(deps.db, generationId))!;
    return generationObject(g, await balanceOf(deps.db, caller.account.id));
  }

  const ownGeneration = async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const caller = callerOf(req);
    const id = /^\d{1,15}$/.test(req.params.id) ? Number(req.params.id) : NaN;
    const g = Number.isSafeInteger(id) ? await findOwnGeneration(deps.db, caller.account.id, id) : undefined;
    if (!g) throw new GatewayError('not_found', `generation ${req.params.id} not found`, { generation_id: req.params.id });
    return { caller, g };
  };
  const byId = async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const { caller, g } = await ownGeneration(req);
    return generationObject(g, await balanceOf(deps.db, caller.account.id));
  };
  app.get('/api/v2/generate/:id', byId);
  app.get('/api/v2/generate/status/:id', byId);
  app.post<{ Params: { id: string } }>('/api/v2/generate/:id/cancel', async (req) => {
    const { caller, g } = await ownGeneration(req);
    if (!deps.jobs) throw new GatewayError('service_unavailable', 'media jobs are not running on this server');
    await cancelJob(deps.jobs.deps, deps.jobs.runner, g);
    return generationObject((await findGeneration(deps.db, g.id))!, await balanceOf(deps.db, caller.account.id));
  });
}
