// The embedding lifecycle (docs/api.md): the same admission, limits, hold and settlement as a
// generation (a generations row of category "embedding", flat price, failed = 0), but one
// request/response call to `provider.embed` instead of a stream.
import type { Caller } from '../accounts/keys.js';
import type { ModelEntry } from '../config/catalog.js';
import type { Settlement } from '../billing/ledger.js';
import { settleWithRetry } from '../billing/settle-retry.js';
import { GatewayError } from '../core/errors.js';
import { BrokenCircuitError } from 'cockatiel';
import type { ProviderUsage } from '../providers/spec.js';
import type { Cancellation } from '../core/cancel.js';
import { admitModel, cancelOnTotalTimeout, configuredRoutes, describeFailure, holdFlatPrice, type GenerationDeps } from './lifecycle.js';
import { isRefusal, UnreachableError, type Route } from './routing.js';
import { generationObject, type GenerationObject } from './object.js';
import { enforceEmbeddingLimits } from './limits.js';

export interface EmbeddingInput {
  model: string;
  input: string[];
  /** `input` was one string (errors name `input`), not a list (`input.N`). */
  single?: boolean;
  dimensions?: number;
  /** The caller's end-user id, forwarded (docs/api.md). */
  user?: string;
}

export interface EmbeddingOutcome {
  generation: GenerationObject;
  embeddings: number[][];
  usage: ProviderUsage | null;
}

/** One embedding request; `cancel` as for runGeneration (the client leaving; the total time from here on). */
export function runEmbedding(deps: GenerationDeps, caller: Caller, input: EmbeddingInput, cancel: Cancellation): Promise<EmbeddingOutcome> {
  const work = embed(deps, caller, input, cancel);
  return deps.running ? deps.running.track(work) : work;
}

async function embed(deps: GenerationDeps, caller: Caller, input: EmbeddingInput, cancel: Cancellation): Promise<EmbeddingOutcome> {
  const model = admitModel(deps, caller, input.model);
  if (model.category !== 'embedding') {
    throw new GatewayError('bad_request', `model "${model.slug}" is not an embedding model (it is a ${model.category} model)`, { model: model.slug });
  }
  enforceEmbeddingLimits(model, input.input, input.single === true);
  // Providers without embeddings (Anthropic, local models today) cannot serve this route.
  const routes = configuredRoutes(deps, model).filter((r) => r.provider.embed);
  if (routes.length === 0) {
    throw new GatewayError('model_unavailable', `model "${model.slug}" is unavailable: its provider has no embeddings API`, { model: model.slug });
  }

  // One of the account's places among the generations running in this process, as a text
  // generation takes (lifecycle.ts, running.ts): 429 before anything is counted or held.
  const release = deps.running?.claim(caller.account.id);
  try {
    return await holdAndEmbed(deps, caller, input, cancel, model, routes);
  } finally {
    release?.();
  }
}

/** An admitted embedding request, from its hold to its settlement. */
async function holdAndEmbed(deps: GenerationDeps, caller: Caller, input: EmbeddingInput, cancel: Cancellation, model: ModelEntry, routes: Route[]): Promise<EmbeddingOutcome> {
  const { hold, timeouts } = await holdFlatPrice(deps, caller, model, input.input.join('\n'));

  // Everything below ends in exactly one settlement.
  const totalTimer = cancelOnTotalTimeout(cancel, timeouts.total_ms);
  const { controller: abort, unlink } = cancel.linkedController();
  let embeddings: number[][] = [];
  let usage: ProviderUsage | null = null;
  let settlement: Settlement;
  let error: GatewayError | undefined;
  try {
    const r = await embedFirstRoute(deps, routes, input, abort.signal);
    ({ embeddings, usage } = r);
    const dims = embeddings[0]?.length ?? 0;
    settlement = {
      status: 'completed',
      resultText: null,
      resultJson: JSON.stringify({ embeddings: embeddings.length, dimensions: dims }),
      error: null,
      finishReason: 'stop',
      usage,
      route: r.route,
      firstTokenAt: null,
      createdAt: hold.createdAt,
    };
  } catch (caught) {
    const failure = describeFailure(abort.signal.aborted ? abort.signal.reason : caught);
    error = failure.error;
    settlement = { status: 'failed', resultText: null, error: failure.message, finishReason: null, usage: null, route: null, firstTokenAt: null, createdAt: hold.createdAt };
  } finally {
    clearTimeout(totalTimer);
    unlink();
  }

  const settled = await settleWithRetry(deps.db, hold.generationId, settlement, { ...(deps.log ? { log: deps.log } : {}), context: { route: settlement.route, model: model.slug } });
  deps.observer?.onSettled?.({
    model: model.slug,
    stream: false,
    opened: !error,
    status: settlement.status,
    tokensSpent: settled.tokensSpent,
    seconds: (Date.parse(settled.completedAt) - Date.parse(hold.createdAt)) / 1000,
  });
  if (error || !settled.applied) {
    // Failed, or a sweeper settled it first: the client is answered with an error and not charged.
    throw (error ?? new GatewayError('provider_error', 'embedding was interrupted')).with({ generation_id: hold.generationId }, { 'x-generation-id': String(hold.generationId) });
  }
  const generation = generationObject(
    {
      id: hold.generationId,
      status: 'completed',
      model_slug: model.slug,
      result_text: null,
      result_json: null,
      error: null,
      tokens_spent: settled.tokensSpent,
      processing_ms: Date.parse(settled.completedAt) - Date.parse(hold.createdAt),
      usage_json: usage ? JSON.stringify(usage) : null,
      finish_reason: 'stop',
      created_at: hold.createdAt,
      completed_at: settled.completedAt,
    },
    settled.balance,
  );
  return { generation, embeddings, usage };
}

/** Routes in order behind their circuit breakers; a refusal of the request is final (docs/api.md). */
async function embedFirstRoute(deps: GenerationDeps, routes: Route[], input: EmbeddingInput, signal: AbortSignal) {
  let last: unknown;
  for (const route of routes) {
    try {
      const r = await deps.routeHealth.breaker(route.name).execute(() =>
        route.provider.embed!({
          upstreamModel: route.upstreamModel,
          input: input.input,
          signal,
          ...(input.dimensions ? { dimensions: input.dimensions } : {}),
          ...(input.user !== undefined ? { user: input.user } : {}),
        }),
      );
      return { ...r, route: route.name };
    } catch (err) {
      if (signal.aborted || isRefusal(err)) throw err;
      deps.observer?.onProviderError?.({ provider: route.provider.id, model: input.model });
      last = err instanceof BrokenCircuitError ? new UnreachableError(`route ${route.name} is cooling down after repeated failures`) : err;
    }
  }
  throw last;
}
