// The OpenAI-compatible surface (docs/api.md), registered under /v1: POST /chat/completions,
// POST /responses, POST /embeddings, POST /images/generations, POST /audio/speech,
// POST /audio/transcriptions and GET /models. Same keys, balance, prices and generation rows as
// /api/v2: the work is runGeneration, or a media job (src/jobs/) that the call waits for.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, clip } from '../core/errors.js';
import { toGatewayError } from '../http/app.js';
import { statusOf } from '../http/errors.js';
import { runGeneration } from '../generation/lifecycle.js';
import { callerOf } from '../http/app.js';
import { runStreaming, runToCompletion, type Run, type SseEvent, type StreamEncoder } from '../http/streaming.js';
import type { ErrorCode } from '../core/errors.js';
import { parseChatCompletionBody } from './request.js';
import { runEmbedding } from '../generation/embeddings.js';
import { clientGone } from '../http/streaming.js';
import { embeddingsResponse, parseEmbeddingsBody } from './embeddings.js';
import { parseResponsesBody, responseObject, responsesEncoder, responsesInput, saveConversation } from './responses-api.js';
import { openAIError, openAIErrorType } from './errors.js';
import { inResponsesTerms } from './responses-paths.js';
import { chatCompletion, chunkFactory, lumengateExtension, openAIFinishReason, openAIUsage } from './responses.js';
import { openAIDocs } from './schemas.js';
import type { Caller } from '../accounts/keys.js';
import type { TokenLogprob } from '../providers/spec.js';
import { modelAvailability } from '../generation/availability.js';
import { findModel } from '../generation/model-lookup.js';
import { submitJobRequest } from '../http/jobs.js';
import { balanceOf } from '../jobs/store.js';
import { generationObject } from '../generation/object.js';
import { jobError, mainFile, parseImagesBody, parseSpeechBody } from './media.js';
import type { GenerationInput } from '../generation/request.js';
import type { Generation } from '../db/schema.js';
import type { FileStore } from '../storage/files.js';
import { transcriptionRoutes } from './transcriptions.js';
import { obfuscation } from './obfuscation.js';

export async function openAIRoutes(app: FastifyInstance): Promise<void> {
  const deps = app.services;

  app.setErrorHandler((err: FastifyError | GatewayError, req, reply) => {
    const apiError = toGatewayError(err);
    if (apiError.code === 'internal_error') req.log.error({ err }, 'unhandled error');
    void reply.code(statusOf(apiError)).headers(apiError.headers).send(openAIError(apiError));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(openAIError(new GatewayError('not_found', `no route ${clip(req.method)} ${clip(req.url.split('?')[0]!)}`)));
  });

  const modelView = (m: { slug: string; provider: string }) => ({ id: m.slug, object: 'model' as const, created: 0, owned_by: m.provider || 'lumengate' });
  // Only the models this surface serves (chat and embedding) that this caller can use now:
  // OpenAI clients pick from this list and have no field to read a reason from.
  const usableModels = async (caller: Caller) => {
    const served = deps.catalog.models.filter((m) => m.category === 'text' || m.category === 'embedding');
    const usable = await Promise.all(served.map(async (m) => (await modelAvailability(deps, m, caller)).available));
    return served.filter((_, i) => usable[i]);
  };

  app.get('/models', { schema: openAIDocs.listModels }, async (req) => {
    return { object: 'list', data: (await usableModels(await app.authenticate(req))).map(modelView) };
  });

  app.get<{ Params: { model: string } }>('/models/:model', { schema: openAIDocs.getModel }, async (req) => {
    const caller = await app.authenticate(req);
    const m = findModel(deps.catalog, req.params.model);
    const availability = await modelAvailability(deps, m, caller);
    if (m.category !== 'text' && m.category !== 'embedding') throw new GatewayError('not_found', `model "${m.slug}" is a ${m.category} model: use /api/v2/generate`, { model: m.slug });
    if (!availability.available)
      throw new GatewayError('model_unavailable', `model "${m.slug}" is unavailable: ${availability.unavailable_reason}`, { model: m.slug, unavailable_reason: availability.unavailable_reason });
    return modelView(m);
  });

  app.post('/chat/completions', { schema: openAIDocs.chatCompletions }, async (req: FastifyRequest, reply: FastifyReply) => {
    const caller = callerOf(req);
    const { input, includeUsage, includeObfuscation } = parseChatCompletionBody(req.body);
    const run: Run = (sink, cancel) => runGeneration(deps, caller, input, sink, cancel);
    if (!input.stream) {
      const g = await runToCompletion(reply, run);
      void reply.headers({ 'x-generation-id': String(g.id), 'x-lumengate-tokens-spent': String(g.tokens_spent) });
      return chatCompletion(g);
    }
    return runStreaming(req, reply, { heartbeatMs: deps.settings.heartbeatMs, encoder: chatChunkEncoder(includeUsage, includeObfuscation), run });
  });

  app.post('/responses', { schema: openAIDocs.responses }, async (req: FastifyRequest, reply: FastifyReply) => {
    const caller = callerOf(req);
    const request = parseResponsesBody(req.body);
    const { input, conversation, origins } = await responsesInput(deps.db, caller, request);
    const run: Run = async (sink, cancel) => {
      // What the generation refuses before it runs it names in chat's terms; the client is told the
      // fields it sent (responses-paths.ts). A failure once it runs is already (input.fieldPath).
      const outcome = await runGeneration(deps, caller, input, sink, cancel).catch((err: unknown) => {
        throw inResponsesTerms(err, origins);
      });
      if (outcome.failure) return outcome;
      // Kept before the answer ends, so a previous_response_id sent right after finds it.
      await saveConversation(deps.db, outcome.generation.id, conversation).catch((err: unknown) => req.log.warn({ err }, 'conversation not kept'));
      return outcome;
    };
    if (!input.stream) {
      const g = await runToCompletion(reply, run);
      void reply.headers({ 'x-generation-id': String(g.id), 'x-lumengate-tokens-spent': String(g.tokens_spent) });
      return responseObject(g, request.echo);
    }
    return runStreaming(req, reply, { heartbeatMs: deps.settings.heartbeatMs, encoder: responsesEncoder(request.echo, request.body.stream_options?.include_obfuscation === true), run });
  });

  // Multipart, in its own context (docs/api.md, "Transcriptions").
  await app.register(transcriptionRoutes);

  app.post('/embeddings', { schema: openAIDocs.embeddings }, async (req: FastifyRequest, reply: FastifyReply) => {
    const caller = callerOf(req);
    const { input, encoding } = parseEmbeddingsBody(req.body);
    const outcome = await runEmbedding(deps, caller, input, clientGone(reply));
    void reply.headers({ 'x-generation-id': String(outcome.generation.id), 'x-lumengate-tokens-spent': String(outcome.generation.tokens_spent) });
    return embeddingsResponse(outcome, encoding);
  });

  /** A media job on the same path as POST /api/v2/generate (hold, job row, settlement), waited for; a job that did not complete is an error. */
  async function runMediaJob(req: FastifyRequest, reply: FastifyReply, input: GenerationInput): Promise<{ g: Generation; files: FileStore }> {
    const g = await submitJobRequest(deps, reply, callerOf(req), input);
    if (g.status !== 'completed') throw jobError(g);
    void reply.headers({ 'x-generation-id': String(g.id), 'x-lumengate-tokens-spent': String(g.tokens_spent) });
    return { g, files: deps.jobs!.deps.files };
  }

  app.post('/images/generations', { schema: openAIDocs.images }, async (req: FastifyRequest, reply: FastifyReply) => {
    const { input, responseFormat } = parseImagesBody(deps.catalog, req.body);
    const { g, files } = await runMediaJob(req, reply, input);
    const file = mainFile(g);
    // `url`: the signed result_url on the origin the client called (docs/api.md).
    const links = deps.files && { signer: deps.files.signer, baseUrl: `${req.protocol}://${req.host}` };
    const obj = generationObject(g, await balanceOf(deps.db, callerOf(req).account.id), links);
    const image = responseFormat === 'b64_json' ? { b64_json: (await readFile(files, file.key)).toString('base64') } : { url: obj.result_url };
    return {
      created: Math.floor(Date.parse(g.created_at) / 1000),
      data: [image],
      ...(file.format ? { output_format: file.format } : {}),
      ...(file.width && file.height ? { size: `${file.width}x${file.height}` } : {}),
      lumengate: lumengateExtension(obj),
    };
  });

  app.post('/audio/speech', { schema: openAIDocs.speech }, async (req: FastifyRequest, reply: FastifyReply) => {
    const { input } = parseSpeechBody(deps.catalog, req.body);
    const { g, files } = await runMediaJob(req, reply, input);
    const file = mainFile(g);
    const stored = await files.get(file.key);
    if (!stored) throw new GatewayError('internal_error', `generation ${g.id}: its file is missing`);
    return reply.header('content-type', file.media_type).header('content-length', String(stored.bytes)).send(stored.body);
  });
}

/** A stored result file, whole (an image, for b64_json). */
async function readFile(files: FileStore, key: string): Promise<Buffer> {
  const stored = await files.get(key);
  if (!stored) throw new GatewayError('internal_error', `result file ${key} is missing`);
  const chunks: Buffer[] = [];
  for await (const c of stored.body) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * chat.completion.chunk events. Tool calls stream as OpenAI does (docs/api.md): the first
 * fragment of call i carries index, id and name; later ones pieces of arguments. A failure after
 * the stream opened is a bare {"error": …} event, then [DONE], so OpenAI clients raise it.
 */
export function chatChunkEncoder(includeUsage: boolean, includeObfuscation: boolean): StreamEncoder {
  let chunk: ReturnType<typeof chunkFactory>;
  const started = new Set<number>();
  const sentArgs = new Map<number, number>();
  const delta = (d: Record<string, unknown>, logprobs?: TokenLogprob[]): SseEvent => ({
    data: chunk([{ index: 0, delta: d, logprobs: logprobs ? { content: logprobs, refusal: null } : null, finish_reason: null }], includeObfuscation ? { obfuscation: obfuscation(d) } : undefined),
  });
  const errorEvent = (code: string, message: string): SseEvent[] => [
    { data: { error: { message, type: openAIErrorType(code === 'client_disconnected' || code === 'output_invalid' ? 'provider_error' : (code as ErrorCode)), code, param: null } } },
  ];
  return {
    sends: (p) => p.type !== 'tool-input-end',
    start({ id, model }) {
      chunk = chunkFactory(id, model);
      return [delta({ role: 'assistant', content: '' })];
    },
    part(p) {
      switch (p.type) {
        case 'text-delta':
          return [delta({ content: p.delta }, p.logprobs)];
        case 'reasoning-delta':
          return [delta({ reasoning_content: p.delta })];
        case 'refusal-delta':
          return [delta({ refusal: p.delta })];
        case 'tool-input-start':
          started.add(p.index);
          return [delta({ tool_calls: [{ index: p.index, id: p.id, type: 'function', function: { name: p.name, arguments: '' } }] })];
        case 'tool-input-delta':
          sentArgs.set(p.index, (sentArgs.get(p.index) ?? 0) + p.delta.length);
          return [delta({ tool_calls: [{ index: p.index, function: { arguments: p.delta } }] })];
        case 'tool-call': {
          // Providers that deliver whole calls: send what the client has not seen yet.
          const out: SseEvent[] = [];
          if (!started.has(p.index)) out.push(delta({ tool_calls: [{ index: p.index, id: p.id, type: 'function', function: { name: p.name, arguments: '' } }] }));
          const rest = p.arguments.slice(sentArgs.get(p.index) ?? 0);
          if (rest) out.push(delta({ tool_calls: [{ index: p.index, function: { arguments: rest } }] }));
          return out;
        }
        default:
          return [];
      }
    },
    end(g) {
      const out: SseEvent[] = [{ data: chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: openAIFinishReason(g) }], { lumengate: lumengateExtension(g) }) }];
      if (includeUsage) out.push({ data: chunk([], { usage: openAIUsage(g.usage) }) });
      return out;
    },
    failure: (f) => errorEvent(f.code, f.message),
    internal: (code, message) => errorEvent(code, message),
  };
}
