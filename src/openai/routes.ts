// The OpenAI-compatible surface (DECISIONS 21), registered under /v1: POST /chat/completions and
// GET /models. Same keys, balance, prices and generation rows as /api/v2: the work is runGeneration.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../http/errors.js';
import { toApiError } from '../http/app.js';
import { SseWriter } from '../http/sse.js';
import { runGeneration } from '../generation/lifecycle.js';
import { parseChatCompletionBody } from './request.js';
import { openAIError, openAIErrorType } from './errors.js';
import { chatCompletion, chunkFactory, lumengateExtension, openAIFinishReason, openAIUsage } from './responses.js';
import { openAIDocs } from './schemas.js';

export async function openAIRoutes(app: FastifyInstance): Promise<void> {
  const deps = app.services;

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    const apiError = toApiError(err);
    if (apiError.code === 'internal_error') req.log.error({ err }, 'unhandled error');
    void reply.code(apiError.status).headers(apiError.headers).send(openAIError(apiError));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(openAIError(new ApiError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`)));
  });

  const modelView = (m: { slug: string; provider: string }) => ({ id: m.slug, object: 'model' as const, created: 0, owned_by: m.provider || 'lumengate' });
  // Only chat-capable (text) models are served here.
  const chatModels = () => deps.catalog.models.filter((m) => m.category === 'text');

  app.get('/models', { schema: openAIDocs.listModels }, async (req) => {
    await app.authenticate(req);
    return { object: 'list', data: chatModels().map(modelView) };
  });

  app.get<{ Params: { model: string } }>('/models/:model', { schema: openAIDocs.getModel }, async (req) => {
    await app.authenticate(req);
    const m = chatModels().find((x) => x.slug === req.params.model);
    if (!m) throw new ApiError('not_found', `model "${req.params.model}" not found`, { model: req.params.model });
    return modelView(m);
  });

  app.post('/chat/completions', { schema: openAIDocs.chatCompletions }, async (req: FastifyRequest, reply: FastifyReply) => {
    const caller = await app.authenticate(req);
    const { input, includeUsage } = parseChatCompletionBody(req.body);
    const clientGone = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) clientGone.abort();
    });

    if (!input.stream) {
      const outcome = await runGeneration(deps, caller, input, { opened() {}, delta() {} }, clientGone.signal);
      const g = outcome.generation;
      if (outcome.failure) {
        const code = outcome.failure.code === 'model_unavailable' ? 'model_unavailable' : 'provider_error';
        throw new ApiError(code, outcome.failure.message, { generation_id: g.id }, {}, { 'x-generation-id': String(g.id) });
      }
      void reply.headers({ 'x-generation-id': String(g.id), 'x-lumengate-tokens-spent': String(g.tokens_spent) });
      return chatCompletion(g);
    }

    const sse = new SseWriter(reply.raw, deps.settings.heartbeatMs);
    let chunk: ReturnType<typeof chunkFactory> | undefined;
    try {
      const outcome = await runGeneration(deps, caller, input, {
        opened({ id, model }) {
          chunk = chunkFactory(id, model);
          reply.hijack();
          sse.open({ 'x-generation-id': id });
          void sse.send(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
        },
        delta: (content) => sse.send(chunk!([{ index: 0, delta: { content }, logprobs: null, finish_reason: null }])),
      }, clientGone.signal);
      const g = outcome.generation;
      if (!chunk) {
        // Failed before the upstream accepted: a plain JSON error, like /api/v2 (DECISIONS 11).
        const code = outcome.failure?.code === 'model_unavailable' ? 'model_unavailable' : 'provider_error';
        throw new ApiError(code, outcome.failure?.message ?? 'provider error', { generation_id: g.id }, {}, { 'x-generation-id': String(g.id) });
      }
      if (outcome.failure) {
        const { code, message } = outcome.failure;
        void sse.send(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'error' }], { error: { message, type: openAIErrorType(code === 'client_disconnected' ? 'bad_request' : code), code, param: null } }));
      } else {
        void sse.send(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: openAIFinishReason(g) }], { lumengate: lumengateExtension(g) }));
        if (includeUsage) void sse.send(chunk([], { usage: openAIUsage(g.usage) }));
      }
      sse.end();
    } catch (err) {
      sse.stop();
      if (!chunk) throw err;
      req.log.error({ err }, 'stream failed after open');
      void sse.send(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'error' }], { error: { message: 'internal server error', type: 'api_error', code: 'internal_error', param: null } }));
      sse.end();
    }
    return reply;
  });
}
