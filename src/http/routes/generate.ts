// /api/v2/generate, /api/v2/generate/stream, status polling, and cancelling media jobs. Translation only: the work is in
// generation/lifecycle.ts; the stream is the shared skeleton with the v2 event encoder.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, clip } from '../../core/errors.js';
import { parseGenerateBody } from '../../generation/request.js';
import { runGeneration } from '../../generation/lifecycle.js';
import { generationObject } from '../../generation/object.js';
import { findGeneration, findOwnGeneration, findOwnGenerationWithBalance } from '../../generation/store.js';
import { cancelJob, isJobModel } from '../../jobs/submit.js';
import { resultLinks, submitJobRequest } from '../jobs.js';
import { balanceOf } from '../../jobs/store.js';
import { rateLimitHeaders } from '../../limits/rate-limits.js';
import { callerOf } from '../app.js';
import { isRowId, type Generation } from '../../db/schema.js';
import { followStream, parseLastEventId, runStreaming, runToCompletion, type Run, type StreamEncoder } from '../streaming.js';

/** The Elumenta v2 stream: generation_start, content_delta…, tool_call…, generation_end | error. */
export const v2Encoder: StreamEncoder = {
  start: ({ id, model }) => [{ data: { type: 'generation_start', id, model } }],
  sends: (p) => p.type === 'text-delta' || p.type === 'reasoning-delta' || p.type === 'refusal-delta' || p.type === 'tool-call',
  part(p) {
    switch (p.type) {
      case 'text-delta':
        return [{ data: { type: 'content_delta', delta: p.delta } }];
      case 'reasoning-delta':
        return [{ data: { type: 'reasoning_delta', delta: p.delta } }];
      case 'refusal-delta':
        return [{ data: { type: 'refusal_delta', delta: p.delta } }];
      // One event per complete call (docs/api.md); argument fragments are not sent on v2.
      case 'tool-call':
        return [{ data: { type: 'tool_call', index: p.index, id: p.id, name: p.name, arguments: p.arguments } }];
      default:
        return [];
    }
  },
  end: (g) => [{ data: { type: 'generation_end', id: g.id, tokens_spent: g.tokens_spent, tokens_used: g.tokens_used, balance_remaining: g.balance_remaining } }],
  failure: (f, g) => [{ data: { type: 'error', message: f.message, code: f.code, id: g.id } }],
  internal: (code, message) => [{ data: { type: 'error', message, code } }],
};

export async function generateRoutes(app: FastifyInstance): Promise<void> {
  const deps = app.services;

  app.post('/api/v2/generate', (req, reply) => generate(req, reply, false));
  app.post('/api/v2/generate/stream', (req, reply) => {
    // An EventSource reconnecting resends its request with Last-Event-ID: re-attach, never start
    // (and charge) a second generation (docs/api.md).
    const last = parseLastEventId(req.headers['last-event-id']);
    return last ? reattach(req, reply, last.id, last.seq) : generate(req, reply, true);
  });
  app.get<{ Params: { id: string } }>('/api/v2/generate/:id/stream', (req, reply) => {
    const id = generationIdOf(req.params.id);
    const last = parseLastEventId(req.headers['last-event-id']);
    if (last && last.id !== id) throw new GatewayError('bad_request', `Last-Event-ID ${last.id}:${last.seq} is not an event of generation ${req.params.id}`);
    return reattach(req, reply, id, last?.seq ?? 0);
  });

  async function generate(req: FastifyRequest, reply: FastifyReply, streamEndpoint: boolean) {
    const caller = callerOf(req);
    const input = parseGenerateBody(req.body, { forceStream: streamEndpoint, promptOptional: (slug) => deps.catalog.get(slug)?.prompt_optional === true });
    if (isJobModel(deps.catalog.get(input.model))) return generateMedia(req, reply, caller, input);
    const run: Run = (sink, cancel) => runGeneration(deps, caller, input, sink, cancel);
    if (!input.stream) return runToCompletion(reply, run);
    return runStreaming(req, reply, {
      heartbeatMs: deps.settings.heartbeatMs,
      headers: () => rateLimitHeaders(deps.limits.stateOf(caller)),
      encoder: v2Encoder,
      run,
      resumable: deps.events,
      detached: input.background === true,
    });
  }

  /** The caller's own generation's stream after sequence `after`; 404 for anyone else's. */
  async function reattach(req: FastifyRequest, reply: FastifyReply, id: number, after: number) {
    const caller = callerOf(req);
    const own = await ownGeneration(caller.account.id, id);
    // One of the account's places for followers, given back when the stream ends or its client leaves.
    const release = deps.followers?.claim(caller.account.id);
    try {
      return await followStream(req, reply, {
        log: deps.events,
        id,
        after,
        heartbeatMs: deps.settings.heartbeatMs,
        encoder: v2Encoder,
        headers: rateLimitHeaders(deps.limits.stateOf(caller)),
        // No log kept (over 5 minutes, or over its caps): a finished generation still answers its end.
        async ended() {
          const g = (await findOwnGeneration(deps.db, caller.account.id, id)) ?? own;
          return g.status === 'pending' ? undefined : endEvents(g, caller.account.plan_tokens + caller.account.package_tokens);
        },
      });
    } finally {
      release?.();
    }
  }

  async function ownGeneration(accountId: number, id: number, label: string | number = id): Promise<Generation> {
    const g = isRowId(id) ? await findOwnGeneration(deps.db, accountId, id) : undefined;
    if (!g) throw generationNotFound(label);
    return g;
  }

  /** Media (docs/api.md): a job; the answer is the generation when it ends within `wait`, else pending. */
  async function generateMedia(req: FastifyRequest, reply: FastifyReply, caller: ReturnType<typeof callerOf>, input: ReturnType<typeof parseGenerateBody>) {
    const g = await submitJobRequest(deps, reply, caller, input);
    return generationObject(g, await balanceOf(deps.db, caller.account.id), links(req));
  }

  const links = (req: FastifyRequest) => resultLinks(deps, req);

  // Polling: the generation and the balance in one statement, and the counters for the
  // X-RateLimit headers read beside it (the onSend hook then finds them): 2 sequential round trips
  // after the caller read (src/http/app.ts) instead of 3.
  const byId = async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const caller = callerOf(req);
    const id = generationIdOf(req.params.id);
    const [found] = await Promise.all([isRowId(id) ? findOwnGenerationWithBalance(deps.db, caller.account.id, id) : undefined, deps.limits.peek(caller)]);
    if (!found) throw generationNotFound(req.params.id);
    return generationObject(found.generation, found.balance, links(req));
  };
  app.get('/api/v2/generate/:id', byId);
  app.get('/api/v2/generate/status/:id', byId);
  app.post<{ Params: { id: string } }>('/api/v2/generate/:id/cancel', async (req) => {
    const caller = callerOf(req);
    const g = await ownGeneration(caller.account.id, generationIdOf(req.params.id), req.params.id);
    if (!deps.jobs) throw new GatewayError('service_unavailable', 'media jobs are not running on this server');
    await cancelJob(deps.jobs.deps, deps.jobs.runner, g);
    return generationObject((await findGeneration(deps.db, g.id))!, await balanceOf(deps.db, caller.account.id), links(req));
  });
}

const generationNotFound = (label: string | number) => new GatewayError('not_found', `generation ${clip(String(label))} not found`, { generation_id: clip(String(label)) });

const generationIdOf = (param: string): number => (/^\d{1,15}$/.test(param) ? Number(param) : NaN);

/** The v2 end events of a generation that is over, from its stored row. */
function endEvents(row: Generation, balance: number) {
  const g = generationObject(row, balance);
  if (row.status === 'completed') return v2Encoder.end(g);
  const message = row.error ?? 'generation failed';
  return [{ data: { type: 'error', message, code: message === 'client_disconnected' ? 'client_disconnected' : 'provider_error', id: g.id } }];
}
