// The generation lifecycle, top to bottom: model -> plan -> price -> hold -> provider stream
// (retries, fallback before the first delta, timeouts) -> settle. HTTP routes only translate.
import type { Caller } from '../accounts/keys.js';
import type { Catalog, ModelEntry, PlanName } from '../config/catalog.js';
import { PLANS } from '../config/catalog.js';
import type { Db } from '../db/connect.js';
import { holdTokens, type Settlement } from '../billing/ledger.js';
import { settleWithRetry } from '../billing/settle-retry.js';
import { ApiError } from '../http/errors.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { RateLimits } from '../limits/rate-limits.js';
import { ProviderError, type ProviderEvent, type ProviderUsage } from '../providers/types.js';
import { GenerationAbort, UnreachableError, openFirstRoute, type OpenStream, type RouteHealth } from './routing.js';

export { GenerationAbort } from './routing.js';
import type { GenerationInput } from './request.js';
import { generationObject, type GenerationObject } from './object.js';
import type { GenerationObserver } from './observer.js';
import { enforceInputLimits } from './limits.js';

export interface GenerationDeps {
  db: Db;
  catalog: Catalog;
  providers: ProviderRegistry;
  /** Circuit breakers per route, shared by every request of this process. */
  routeHealth: RouteHealth;
  /** Metrics hooks (src/metrics/); optional. */
  observer?: GenerationObserver;
  /** Per-account request limits; counted just before the hold. */
  limits?: Pick<RateLimits, 'consume'>;
  instanceId?: string;
}

/** Where a running generation sends its output. Streams open SSE in `opened`. */
export interface GenerationSink {
  /** The upstream accepted the request; from here on failures are reported in-band. */
  opened(info: { id: number; model: string }): void;
  /** A text delta; a returned promise (socket backpressure) is awaited before reading on. */
  delta(text: string): void | Promise<void>;
}

export interface GenerationOutcome {
  generation: GenerationObject;
  /** Set when the generation failed: what the client is told. */
  failure?: { code: 'provider_error' | 'model_unavailable' | 'client_disconnected'; message: string };
}

export function checkAdmission(deps: GenerationDeps, caller: Caller, input: GenerationInput): ModelEntry {
  const model = deps.catalog.get(input.model);
  if (!model) throw new ApiError('not_found', `model "${input.model}" not found`, { model: input.model });
  const plan = caller.account.plan as PlanName;
  if (deps.catalog.plans[plan]?.api_access === false) {
    throw new ApiError('insufficient_plan', `API access is not included in the ${plan} plan`, { plan });
  }
  if (PLANS.indexOf(plan) < PLANS.indexOf(model.min_plan)) {
    throw new ApiError('insufficient_plan', `model "${model.slug}" needs the ${model.min_plan} plan or higher; this account is on ${plan}`, { model: model.slug, plan, required_plan: model.min_plan });
  }
  if (input.stream && !model.supports_streaming) {
    throw new ApiError('bad_request', `model "${model.slug}" does not support streaming`, { model: model.slug });
  }
  enforceInputLimits(model, input);
  return model;
}

export async function runGeneration(deps: GenerationDeps, caller: Caller, input: GenerationInput, sink: GenerationSink, clientSignal: AbortSignal): Promise<GenerationOutcome> {
  const startedAt = performance.now();
  const observer = deps.observer;
  // 1. Model, plan, streaming support.
  const model = checkAdmission(deps, caller, input);

  // 2. Routes that have a configured provider.
  const routes = model.routes.flatMap((r) => {
    const provider = deps.providers.get(r.provider);
    return provider ? [{ provider, upstreamModel: r.model, name: `${r.provider}:${r.model}` }] : [];
  });
  if (routes.length === 0) {
    const enable = model.routes.map((r) => deps.providers.unavailableReason(r.provider));
    const message = enable.length
      ? `model "${model.slug}" is unavailable: no provider configured (${enable.join(' or ')})`
      : `model "${model.slug}" is unavailable: no provider for ${model.category} models is configured`;
    throw new ApiError('model_unavailable', message, { model: model.slug, enable });
  }

  // 3. Count the request against the account's limits (429), then price and hold.
  await deps.limits?.consume(caller);
  const timeouts = deps.catalog.timeoutsFor(model);
  const price = model.token_cost;
  const hold = await holdTokens(deps.db, {
    accountId: caller.account.id, apiKeyId: caller.key.id, modelSlug: model.slug, category: model.category,
    price, prompt: input.promptText, holdTtlMs: timeouts.total_ms + 60_000, instanceId: deps.instanceId ?? null,
  });
  if (!hold) {
    throw new ApiError('insufficient_tokens', `insufficient tokens: ${model.slug} costs ${price}`, { required: price, model: model.slug });
  }

  // 4. Run the provider stream. Everything below ends in exactly one settlement.
  const abort = new AbortController();
  const onClientGone = () => abort.abort(new GenerationAbort('client_disconnected', 'client disconnected'));
  if (clientSignal.aborted) onClientGone();
  else clientSignal.addEventListener('abort', onClientGone, { once: true });
  const totalTimer = setTimeout(() => abort.abort(new GenerationAbort('timeout', `upstream timed out: total time over ${timeouts.total_ms} ms`)), timeouts.total_ms);

  let opened = false;
  let firstTokenAt: string | null = null;
  let route: string | null = null;
  const text: string[] = [];
  let usage: ProviderUsage | null = null;
  let finishReason: string | null = null;
  let settlement: Settlement;
  let failure: GenerationOutcome['failure'];
  let stream: OpenStream | undefined;
  try {
    // Routes in order with retries and circuit breakers, until one produces its first event.
    stream = await openFirstRoute(routes, { messages: input.messages, temperature: input.temperature, maxTokens: input.maxTokens }, {
      signal: abort.signal, timeouts, health: deps.routeHealth,
      onAccepted() {
        if (opened) return;
        opened = true;
        sink.opened({ id: hold.generationId, model: model.slug });
        observer?.onOpened?.({ model: model.slug, stream: input.stream });
      },
      onAttemptFailed: (r) => observer?.onProviderError?.({ provider: r.provider.id, model: model.slug }),
    });
    route = stream.route.name;
    for (let ev: ProviderEvent | undefined = stream.first; ev; ev = await stream.next()) {
      if (ev.type === 'finish') {
        usage = ev.usage;
        finishReason = ev.finishReason;
        break;
      }
      if (firstTokenAt === null) {
        firstTokenAt = new Date().toISOString();
        observer?.onFirstToken?.({ model: model.slug, seconds: (performance.now() - startedAt) / 1000 });
      }
      text.push(ev.text);
      const pending = sink.delta(ev.text);
      if (pending) await pending;
    }
    if (finishReason === null) throw new ProviderError('upstream stream ended without a finish event');
    settlement = { status: 'completed', resultText: text.join(''), error: null, finishReason, usage, route, firstTokenAt, createdAt: hold.createdAt };
  } catch (caught) {
    // An abort can surface as the SDK's or the timer's own AbortError; the signal knows the cause.
    const err = abort.signal.aborted ? abort.signal.reason : caught;
    const reason = err instanceof GenerationAbort ? err.reason : null;
    if (reason === 'client_disconnected' && text.length > 0) {
      // Content reached the client: the answer was delivered, so it is charged (DECISIONS 16).
      settlement = { status: 'completed', resultText: text.join(''), error: null, finishReason: 'client_disconnected', usage, route, firstTokenAt, createdAt: hold.createdAt };
    } else {
      const message = reason === 'client_disconnected' ? 'client_disconnected' : describeFailure(err);
      const code = reason === 'client_disconnected' ? 'client_disconnected' : err instanceof UnreachableError ? 'model_unavailable' : 'provider_error';
      failure = { code, message };
      // Failures before the first event were reported per attempt by openFirstRoute.
      if (code === 'provider_error' && stream) observer?.onProviderError?.({ provider: stream.route.provider.id, model: model.slug });
      settlement = { status: 'failed', resultText: text.length ? text.join('') : null, error: message, finishReason: null, usage, route, firstTokenAt, createdAt: hold.createdAt };
    }
  } finally {
    stream?.close();
    clearTimeout(totalTimer);
    clientSignal.removeEventListener('abort', onClientGone);
  }

  // 5. Settle: charge a completed generation, release a failed one. Exactly once, retried through a database outage.
  const settled = await settleWithRetry(deps.db, hold.generationId, settlement);
  observer?.onSettled?.({ model: model.slug, stream: input.stream, opened, status: settlement.status, tokensSpent: settled.tokensSpent, seconds: (performance.now() - startedAt) / 1000 });
  if (!settled.applied) {
    // Someone else settled it first (a sweeper, or a restarted instance releasing holds): report
    // what the database says, never what this run hoped for.
    const row = await deps.db.kysely.selectFrom('generations').selectAll().where('id', '=', hold.generationId).executeTakeFirstOrThrow();
    const generation = generationObject(row, settled.balance);
    return row.status === 'completed' ? { generation } : { generation, failure: { code: 'provider_error', message: row.error ?? 'generation was interrupted' } };
  }
  const generation = generationObject({
    id: hold.generationId, status: settlement.status, model_slug: model.slug, result_text: settlement.resultText, error: settlement.error,
    tokens_spent: settled.tokensSpent, processing_ms: Date.parse(settled.completedAt) - Date.parse(hold.createdAt),
    usage_json: usage ? JSON.stringify(usage) : null, finish_reason: settlement.finishReason, created_at: hold.createdAt, completed_at: settled.completedAt,
  }, settled.balance);
  return failure ? { generation, failure } : { generation };
}

function describeFailure(err: unknown): string {
  if (err instanceof GenerationAbort) return err.message;
  if (err instanceof ProviderError) return `provider error${err.status ? ` (HTTP ${err.status})` : ''}: ${err.message}`;
  if (err instanceof UnreachableError) return `provider unreachable: ${err.message}`;
  if (err instanceof Error) return `provider error: ${err.message}`;
  return 'provider error';
}
