// The generation lifecycle, top to bottom: model -> plan -> input -> a place among the account's
// running generations -> price -> hold -> provider stream of typed parts (retries, fallback before
// the first part, timeouts) -> checks -> settle.
// API surfaces only encode: they hand a sink in and turn the outcome into their wire format.
import type { Caller } from '../accounts/keys.js';
import type { Catalog, ModelEntry, PlanName } from '../config/catalog.js';
import { PLANS } from '../config/catalog.js';
import type { Db } from '../db/connect.js';
import { holdTokens, type Hold, type HoldRequest, type Settlement } from '../billing/ledger.js';
import { settleWithRetry } from '../billing/settle-retry.js';
import { insufficientCredits } from '../billing/insufficient.js';
import { GatewayError, relocated, unsupportedField, validationError } from '../core/errors.js';
import type { Cancellation } from '../core/cancel.js';
import { heldChannel, holdingChannel } from '../core/trace.js';
import type { RunningGenerations } from './running.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { RateLimits } from '../limits/rate-limits.js';
import {
  ProviderError,
  RequestRefused,
  refusalPath,
  type ContentStreamPart,
  type ProviderRequest,
  type ModelCapabilities,
  type ProviderUsage,
  type StreamPart,
  type TokenLogprob,
  type ToolCall,
} from '../providers/spec.js';
import { GenerationAbort, UnreachableError, isRefusal, openFirstRoute, type OpenStream, type Route, type RouteHealth } from './routing.js';
import { TEXT_OPTION_NAMES, optionPath, type GenerationInput } from './request.js';
import { generationObject, type GenerationObject, type Segment, type SegmentKind } from './object.js';
import type { GenerationObserver } from './observer.js';
import { enforceInputLimits } from './limits.js';
import { compileOutputSchema, type OutputCheck } from './structured-output.js';
import { sanitizeUpstreamText } from './sanitize.js';
import { findGeneration } from './store.js';
import { keepToolCallStates, restoreToolCallStates } from './tool-call-state.js';
import { findModel } from './model-lookup.js';
import { admitCallbackUrl, type Webhooks } from '../webhooks/webhooks.js';

export { GenerationAbort } from './routing.js';

/** Where the lifecycle reports upstream failures for the operator (pino's shape). */
export interface OperatorLog {
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

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
  /** Upstream failures, with route, status, latency and generation id (never the prompt). */
  log?: OperatorLog;
  /** Deliveries to callback_url (docs/api.md); without it a callback_url is refused. */
  webhooks?: Webhooks;
  /** Generations in flight, waited for by a graceful shutdown and capped per account (running.ts). */
  running?: RunningGenerations;
}

/** Where a running generation sends its output. Streams open SSE in `opened`. */
export interface GenerationSink {
  /** True when parts reach the client as they come (SSE); false when the answer is sent at the end. */
  streaming: boolean;
  /** The upstream accepted the request; from here on failures are reported in-band. */
  opened(info: { id: number; model: string }): void;
  /** A typed part; a returned promise (socket backpressure) is awaited before reading on. */
  part(p: ContentStreamPart): void | Promise<void>;
  /**
   * Whether any part so far was sent to the client as an event of its own: a surface sends only
   * some kinds (v2 no tool argument fragments, /v1/responses no reasoning). A streaming client
   * that leaves after that is charged (docs/api.md); before it, it has had nothing of the answer.
   */
  sentPart?(): boolean;
  /** Whether the surface sends this kind of part as an event of its own (StreamEncoder.sends); all when absent. */
  sends?(p: ContentStreamPart): boolean;
}

/** Why a generation failed, for the surfaces' in-band error events. */
export type FailureCode = 'provider_error' | 'model_unavailable' | 'bad_request' | 'client_disconnected' | 'output_invalid';

export interface GenerationFailure {
  code: FailureCode;
  message: string;
  /** The same failure as an error answer (status by code), for a response not yet started. */
  error: GatewayError;
}

export interface GenerationOutcome {
  generation: GenerationObject;
  /** Set when the generation failed: what the client is told. */
  failure?: GenerationFailure;
}

/** The catalog model, if the caller's plan may use it (404, 403); shared with embeddings. */
export function admitModel(deps: GenerationDeps, caller: Caller, slug: string): ModelEntry {
  const model = findModel(deps.catalog, slug);
  const refused = planRefusal(deps.catalog, caller.account.plan, model);
  if (refused) throw refused;
  return model;
}

/** Why an account on `plan` may not use `model` (403), or undefined. */
export function planRefusal(catalog: Catalog, plan: string, model: ModelEntry): GatewayError | undefined {
  if (catalog.plans[plan as PlanName]?.api_access === false) {
    return new GatewayError('insufficient_plan', `API access is not included in the ${plan} plan`, { plan });
  }
  if (PLANS.indexOf(plan as PlanName) < PLANS.indexOf(model.min_plan)) {
    return new GatewayError('insufficient_plan', `model "${model.slug}" needs the ${model.min_plan} plan or higher; this account is on ${plan}`, {
      model: model.slug,
      plan,
      required_plan: model.min_plan,
    });
  }
  return undefined;
}

export function checkAdmission(deps: GenerationDeps, caller: Caller, input: GenerationInput): ModelEntry {
  const model = admitModel(deps, caller, input.model);
  if (input.stream && !model.supports_streaming) {
    throw new GatewayError('bad_request', `model "${model.slug}" does not support streaming`, { model: model.slug });
  }
  if (model.category === 'embedding') {
    throw new GatewayError('bad_request', `model "${model.slug}" is an embedding model: use POST /v1/embeddings`, { model: model.slug });
  }
  if (model.category === 'text') {
    // Nothing silently dropped (docs/api.md): an option a text generation does not use is refused
    // by name, where the body has it (params.temprature on /api/v2).
    const unused = Object.keys(input.options).find((k) => !TEXT_OPTION_NAMES.has(k));
    if (unused) throw unsupportedField(optionPath(input, unused), `not a text generation option (model "${model.slug}" is a text model)`);
  }
  enforceNonEmptyPrompt(input);
  enforceInputLimits(model, input);
  enforceInputModalities(model, input);
  // OpenAI refuses parallel_tool_calls without tools: the caller's mistake, named here (where the
  // body has it: params.parallel_tool_calls on /api/v2) rather than as an upstream 400.
  if (input.parallelToolCalls !== undefined && !input.tools) {
    const path = optionPath(input, 'parallel_tool_calls');
    throw new GatewayError('bad_request', `${path} needs tools`, { fields: [{ path, message: 'needs tools' }] });
  }
  if (input.tools && model.supports_tools === false) {
    const path = optionPath(input, 'tools');
    throw new GatewayError('bad_request', `${path}: model "${model.slug}" does not take tools`, { fields: [{ path, message: 'not supported by this model' }] });
  }
  return model;
}

/** A user message with nothing in it ("" or whitespace) is the caller's mistake: 400 before any charge. */
function enforceNonEmptyPrompt(input: GenerationInput): void {
  input.messages.forEach((m, i) => {
    if (m.role === 'user' && m.content.every((p) => p.type === 'text' && p.text.trim() === '')) {
      const path = input.messagePaths?.[i] ?? `messages.${i}`;
      throw new GatewayError('bad_request', `${path}: the prompt is empty`, { fields: [{ path, message: 'empty' }] });
    }
  });
}

/** Every content part must be one the model accepts (docs/api.md): 422 naming the part. */
function enforceInputModalities(model: ModelEntry, input: GenerationInput): void {
  const accepted = model.input_modalities;
  input.messages.forEach((m, i) => {
    if (m.role !== 'user') return;
    m.content.forEach((p, j) => {
      if (!accepted.includes(p.type)) {
        throw validationError([
          { path: `${input.messagePaths?.[i] ?? `messages.${i}`}.content.${j}`, message: `model ${model.slug} does not accept ${p.type} input (it accepts ${accepted.join(', ')})` },
        ]);
      }
    });
  });
}

function capabilitiesOf(model: ModelEntry): ModelCapabilities {
  const c = model.capabilities ?? {};
  return {
    ...(c.max_completion_tokens ? { maxCompletionTokens: true } : {}),
    ...(c.fixed_temperature !== undefined ? { fixedTemperature: c.fixed_temperature } : {}),
    ...(c.no_sampling ? { noSampling: true } : {}),
  };
}

/** The model's routes that have a configured provider, or 503 naming what to set. */
export function configuredRoutes(deps: GenerationDeps, model: ModelEntry): Route[] {
  const routes = model.routes.flatMap((r) => {
    const provider = deps.providers.get(r.provider);
    return provider ? [{ provider, upstreamModel: r.model, name: `${r.provider}:${r.model}` }] : [];
  });
  if (routes.length === 0) {
    const enable = model.routes.map((r) => deps.providers.unavailableReason(r.provider));
    const message = enable.length
      ? `model "${model.slug}" is unavailable: no provider configured (${enable.join(' or ')})`
      : `model "${model.slug}" is unavailable: no provider for ${model.category} models is configured`;
    throw new GatewayError('model_unavailable', message, { model: model.slug, enable });
  }
  return routes;
}

/**
 * The routes whose provider takes every field of the request: a route that refuses one is not
 * tried. A field that no route takes is the caller's mistake, refused with 400 naming it (the
 * first route's reason) before anything is counted or held (docs/api.md).
 */
async function routesTaking(routes: Route[], request: Omit<ProviderRequest, 'signal' | 'upstreamModel'>, input: GenerationInput): Promise<Route[]> {
  const refusals = await Promise.all(routes.map(async (r) => r.provider.refuse?.({ ...request, upstreamModel: r.upstreamModel })));
  const taking = routes.filter((_, i) => !refusals[i]);
  if (taking.length > 0) return taking;
  const refused = refusals[0]!;
  const paths = { messages: input.messagePaths, tools: input.toolPaths, option: (name: string) => optionPath(input, name) };
  throw unsupportedField(refusalPath(refused, paths), refused.why);
}

/**
 * Runs one generation. `cancel` is the request's: the surface cancels it with a
 * GenerationAbort('client_disconnected') when the client leaves (never, for a background one), and
 * from here on the lifecycle also cancels it when the total time is up.
 */
export async function runGeneration(deps: GenerationDeps, caller: Caller, input: GenerationInput, sink: GenerationSink, cancel: Cancellation): Promise<GenerationOutcome> {
  // A refused callback_url is refused before anything is held; a generation that ends reports to it.
  const callbackUrl = await admitCallbackUrl(deps.webhooks, caller.account.id, input.callbackUrl);
  const work = generate(deps, caller, input, sink, cancel, callbackUrl);
  const outcome = await (deps.running ? deps.running.track(work) : work);
  if (callbackUrl) await deps.webhooks!.generationEnded({ generationId: outcome.generation.id, accountId: caller.account.id, url: callbackUrl, generation: outcome.generation });
  return outcome;
}

async function generate(deps: GenerationDeps, caller: Caller, input: GenerationInput, sink: GenerationSink, cancel: Cancellation, callbackUrl?: string): Promise<GenerationOutcome> {
  const startedAt = performance.now();
  // 1. Model, plan, streaming support, input, and a usable schema for strict structured output.
  const model = checkAdmission(deps, caller, input);
  const outputCheck: OutputCheck | undefined = await compileOutputSchema(input.responseFormat, optionPath(input, 'response_format'), caller.account.id);

  // 2. Routes that have a configured provider and take every field of the request.
  const request: Omit<ProviderRequest, 'signal' | 'upstreamModel'> = {
    messages: input.messages,
    ...input.settings,
    ...(input.tools ? { tools: input.tools } : {}),
    ...(input.toolChoice ? { toolChoice: input.toolChoice } : {}),
    ...(input.parallelToolCalls !== undefined ? { parallelToolCalls: input.parallelToolCalls } : {}),
    ...(input.responseFormat ? { responseFormat: input.responseFormat } : {}),
    capabilities: capabilitiesOf(model),
    tenant: String(caller.account.id),
  };
  const configured = configuredRoutes(deps, model);
  const routes = configured.some((r) => r.provider.refuse) ? await routesTaking(configured, request, input) : configured;
  // The reasoning state of the calls the conversation brings back (docs/api.md), looked up only
  // for a provider that needs it, among this account's calls.
  if (routes.some((r) => r.provider.keepsToolCallState)) request.messages = await restoreToolCallStates(deps.db, caller.account.id, request.messages);

  // 3. One of the account's places among the generations running in this process (429 when it has
  // them all, before anything is counted or held), kept until the generation has settled: a
  // background stream whose client left still holds memory and an upstream connection until it ends.
  const release = deps.running?.claim(caller.account.id);
  try {
    return await holdAndRun(deps, caller, input, sink, cancel, { model, outputCheck, request, routes, startedAt, callbackUrl });
  } finally {
    release?.();
  }
}

/** What admission settled for a generation that may run. */
interface Admitted {
  model: ModelEntry;
  outputCheck: OutputCheck | undefined;
  request: Omit<ProviderRequest, 'signal' | 'upstreamModel'>;
  routes: Route[];
  /** performance.now() when the request reached the lifecycle. */
  startedAt: number;
  /** The admitted callback_url: stored with the generation, so that its end is reported even after a crash. */
  callbackUrl: string | undefined;
}

/** An admitted generation, from its hold to its settlement. */
async function holdAndRun(deps: GenerationDeps, caller: Caller, input: GenerationInput, sink: GenerationSink, cancel: Cancellation, admitted: Admitted): Promise<GenerationOutcome> {
  const { model, outputCheck, request, routes, startedAt, callbackUrl } = admitted;
  const observer = deps.observer;
  // 4. Count the request against the account's limits (429), then price and hold.
  const { hold, timeouts } = await holdFlatPrice(deps, caller, model, input.promptText, callbackUrl);
  if (heldChannel.hasSubscribers) heldChannel.publish({ generationId: hold.generationId });

  // 5. Run the provider stream. Everything below ends in exactly one settlement.
  const totalTimer = cancelOnTotalTimeout(cancel, timeouts.total_ms);

  let opened = false;
  /** When the upstream's first part came, on the wall clock (ms); stored as an ISO time at settlement. */
  let firstTokenMs: number | null = null;
  let route: string | null = null;
  const text: string[] = [];
  const reasoning: string[] = [];
  const toolCalls: ToolCall[] = [];
  // The calls that came with reasoning state, kept once the answer is charged (tool-call-state.ts).
  const stateful: ToolCall[] = [];
  const logprobs: TokenLogprob[] = [];
  const refusal: string[] = [];
  // The answer's order, recorded only where its kind of part changes (result_json.segments): the
  // runs before the current one, their ends in chunks (text, refusal) or tool calls started.
  const runs: Segment[] = [];
  let kind: SegmentKind | null = null;
  let callsStarted = 0;
  const runEnd = (k: SegmentKind): Segment => [k, k === 'text' ? text.length : k === 'refusal' ? refusal.length : callsStarted];
  const enter = (next: SegmentKind) => {
    if (kind !== null) runs.push(runEnd(kind));
    kind = next;
  };
  const callStarted = (index: number) => {
    if (kind !== 'tool_calls') enter('tool_calls');
    callsStarted = index + 1;
  };
  let usage: ProviderUsage | null = null;
  let finishReason: string | null = null;
  let settlement: Settlement;
  let failure: GenerationFailure | undefined;
  let stream: OpenStream | undefined;
  const structured = () =>
    toolCalls.length || reasoning.length || logprobs.length || refusal.length
      ? JSON.stringify({
          tool_calls: toolCalls,
          reasoning: reasoning.join('') || null,
          ...(logprobs.length ? { logprobs } : {}),
          ...(refusal.length ? { refusal: refusal.join('') } : {}),
          ...(runs.length && kind ? { segments: segmentsOf([...runs, runEnd(kind)], text, refusal) } : {}),
        })
      : null;
  try {
    // Routes in order with retries and circuit breakers, until one produces its first part.
    stream = await openFirstRoute(routes, request, {
      cancel,
      timeouts,
      health: deps.routeHealth,
      onAccepted() {
        if (opened) return;
        opened = true;
        sink.opened({ id: hold.generationId, model: model.slug });
        observer?.onOpened?.({ model: model.slug, stream: input.stream });
      },
      // A part the client is not sent does not commit the request to its route (docs/api.md, Streaming).
      ...(sink.sends ? { unsent: (p: StreamPart) => p.type !== 'finish' && p.type !== 'error' && !sink.sends!(p) } : {}),
      onAttemptFailed: (r, err) => {
        observer?.onProviderError?.({ provider: r.provider.id, model: model.slug });
        logUpstreamFailure(deps, r.name, hold.generationId, startedAt, err);
      },
    });
    route = stream.route.name;
    for (let part: StreamPart | undefined = stream.first; part; part = await stream.next()) {
      if (part.type === 'finish') {
        usage = part.usage;
        finishReason = part.finishReason;
        break;
      }
      if (part.type === 'error') throw part.error instanceof Error ? part.error : new ProviderError(String(part.error));
      if (firstTokenMs === null) {
        // When the upstream's first part came, even if it was held until one the client is sent (routing.ts).
        firstTokenMs = Date.now() - (performance.now() - stream.firstAt);
        // Observed once this turn's writes are out: the metric is not on the first token's way to the
        // client (a histogram with labels took ~40 µs of it on a machine idle 20 ms, bench/NOTES.md).
        const seconds = (stream.firstAt - startedAt) / 1000;
        if (observer?.onFirstToken) setImmediate(() => observer.onFirstToken?.({ model: model.slug, seconds }));
      }
      if (part.type === 'text-delta') {
        if (kind !== 'text') enter('text');
        text.push(part.delta);
        if (part.logprobs) logprobs.push(...part.logprobs);
      } else if (part.type === 'reasoning-delta') reasoning.push(part.delta);
      else if (part.type === 'tool-call') {
        // A call starts at its tool-input-start, or here for providers that deliver whole calls.
        if (part.index >= callsStarted) callStarted(part.index);
        toolCalls.push({ id: part.id, name: part.name, arguments: part.arguments });
        if (part.state) stateful.push({ id: part.id, name: part.name, arguments: part.arguments, state: part.state });
      } else if (part.type === 'refusal-delta') {
        if (kind !== 'refusal') enter('refusal');
        refusal.push(part.delta);
      } else if (part.type === 'tool-input-start') callStarted(part.index);
      const pending = sink.part(part);
      if (pending) {
        // Time spent waiting for a slow reader is not upstream silence; but a reader that stops
        // reading does not keep the generation (its hold, its place among the account's running
        // ones) past its total time: the wait ends when it is cancelled, and the next read fails.
        stream.pause();
        await drainedOrCancelled(pending, cancel);
        stream.resume();
      }
    }
    if (finishReason === null) throw new ProviderError('upstream stream ended without a finish event');
    // response_format shapes the text answer (as OpenAI's does): an answer that ends in tool calls
    // is not that answer yet, and a refusal answers instead of the schema (OpenAI's structured-output
    // refusals), so neither is checked (both are completed and charged, docs/api.md).
    const invalid = toolCalls.length === 0 && refusal.length === 0 ? await outputCheck?.(text.join('')) : undefined;
    if (invalid) {
      // The field by the request's own name: text.format on /v1/responses (GenerationInput.fieldPath).
      const format = input.fieldPath?.('response_format') ?? 'response_format';
      failure = failed('output_invalid', `the answer does not match the ${format} schema: ${invalid}`);
      settlement = {
        status: 'failed',
        resultText: text.join(''),
        resultJson: structured(),
        error: failure.message,
        finishReason,
        usage,
        route,
        firstTokenAt: isoTime(firstTokenMs),
        createdAt: hold.createdAt,
      };
    } else {
      settlement = {
        status: 'completed',
        resultText: text.join(''),
        resultJson: structured(),
        error: null,
        finishReason,
        usage,
        route,
        firstTokenAt: isoTime(firstTokenMs),
        createdAt: hold.createdAt,
      };
    }
  } catch (caught) {
    // An abort can surface as the SDK's or the timer's own AbortError; the cancellation knows the cause.
    const err: unknown = cancel.aborted ? cancel.reason : caught;
    const reason = err instanceof GenerationAbort ? err.reason : null;
    // Usage is recorded for aborted and failed streams too, as far as the provider counted (docs/api.md).
    usage ??= stream?.usageSoFar() ?? null;
    // Something of the answer was streamed to the client: it counts as delivered (docs/api.md).
    const delivered = sink.streaming && firstTokenMs !== null && (sink.sentPart?.() ?? true);
    if (reason === 'client_disconnected' && delivered) {
      // Content reached the client: the answer was delivered, so it is charged (docs/api.md).
      settlement = {
        status: 'completed',
        resultText: text.join(''),
        resultJson: structured(),
        error: null,
        finishReason: 'client_disconnected',
        usage,
        route,
        firstTokenAt: isoTime(firstTokenMs),
        createdAt: hold.createdAt,
      };
    } else {
      // In the client's terms before it is stored: the stored error is the one the client was told.
      failure = describeFailure(err, input.fieldPath);
      // Failures before the first part were reported per attempt by openFirstRoute.
      if (failure.code === 'provider_error' && stream) {
        observer?.onProviderError?.({ provider: stream.route.provider.id, model: model.slug });
        logUpstreamFailure(deps, stream.route.name, hold.generationId, startedAt, err);
      }
      settlement = {
        status: 'failed',
        resultText: text.length ? text.join('') : null,
        resultJson: structured(),
        error: failure.message,
        finishReason: null,
        usage,
        route,
        firstTokenAt: isoTime(firstTokenMs),
        createdAt: hold.createdAt,
      };
    }
  } finally {
    stream?.close();
    clearTimeout(totalTimer);
  }

  // 6. Settle: charge a completed generation, release a failed one. Exactly once, retried through a database outage.
  const settled = await settleWithRetry(deps.db, hold.generationId, settlement, {
    ...(deps.log ? { log: deps.log } : {}),
    context: { route, model: model.slug },
    onDataError: (err) => deps.log?.warn({ err, generation_id: hold.generationId }, 'settlement stored without its text (the database refused it)'),
  });
  observer?.onSettled?.({ model: model.slug, stream: input.stream, opened, status: settlement.status, tokensSpent: settled.tokensSpent, seconds: (performance.now() - startedAt) / 1000 });
  if (settled.applied && settlement.status === 'completed' && stateful.length > 0) {
    // Before the answer ends, so the client's next turn finds it. Without it that turn loses its
    // reasoning (docs/api.md), never the answer: a failure here is only logged.
    try {
      await keepToolCallStates(deps.db, caller.account.id, hold.generationId, stateful);
    } catch (err) {
      deps.log?.warn({ err, generation_id: hold.generationId }, 'the reasoning state of the tool calls was not kept');
    }
  }
  if (!settled.applied) {
    // Someone else settled it first (a sweeper, or a restarted instance releasing holds): report
    // what the database says, never what this run hoped for.
    const row = await findGeneration(deps.db, hold.generationId);
    const generation = generationObject(row!, settled.balance);
    return row!.status === 'completed' ? { generation } : { generation, failure: failed('provider_error', row!.error ?? 'generation was interrupted') };
  }
  const generation = generationObject(
    {
      id: hold.generationId,
      status: settlement.status,
      model_slug: model.slug,
      result_text: settlement.resultText,
      result_json: settlement.resultJson ?? null,
      error: settlement.error,
      tokens_spent: settled.tokensSpent,
      processing_ms: Date.parse(settled.completedAt) - Date.parse(hold.createdAt),
      usage_json: usage ? JSON.stringify(usage) : null,
      finish_reason: settlement.finishReason,
      created_at: hold.createdAt,
      completed_at: settled.completedAt,
    },
    settled.balance,
  );
  if (!failure) return { generation };
  const headers = { 'x-generation-id': String(generation.id) };
  return { generation, failure: { ...failure, error: failure.error.with({ generation_id: generation.id }, headers) } };
}

/** A wall-clock time in ms as the ISO text the generation row stores, or null. */
const isoTime = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Runs as result_json.segments: text and refusal ends in characters instead of chunks. */
function segmentsOf(runs: Segment[], text: string[], refusal: string[]): Segment[] {
  // Per kind of chunked part: its chunks, how many of them were counted, and their characters.
  const read = { text: { chunks: text, counted: 0, chars: 0 }, refusal: { chunks: refusal, counted: 0, chars: 0 } };
  return runs.map(([kind, end]): Segment => {
    if (kind === 'tool_calls') return [kind, end];
    const r = read[kind];
    while (r.counted < end) r.chars += r.chunks[r.counted++]!.length;
    return [kind, r.chars];
  });
}

function failed(code: FailureCode, message: string, error?: GatewayError): GenerationFailure {
  const details = code === 'output_invalid' ? { reason: 'output_invalid' } : {};
  return { code, message, error: error ?? new GatewayError(code === 'client_disconnected' || code === 'output_invalid' ? 'provider_error' : code, message, details) };
}

/**
 * A caught failure -> what the client is told (sanitised, docs/api.md) and with which status (22).
 * `fieldPath` (GenerationInput.fieldPath) names a refused field where the request's body has it.
 */
export function describeFailure(err: unknown, fieldPath?: (path: string) => string): GenerationFailure {
  if (err instanceof GenerationAbort) return err.reason === 'client_disconnected' ? failed('client_disconnected', 'client_disconnected') : failed('provider_error', err.message);
  if (err instanceof RequestRefused) {
    // Refused by the provider module itself: no upstream was asked, so no upstream status.
    const why = sanitizeUpstreamText(err.why);
    const refused = err.field ? unsupportedField(err.field, why) : new GatewayError('bad_request', why);
    const error = fieldPath ? relocated(refused, fieldPath) : refused;
    return failed('bad_request', error.message, error);
  }
  if (isRefusal(err)) {
    const message = `the upstream refused the request (HTTP ${err.status}): ${sanitizeUpstreamText(err.message)}`;
    return failed('bad_request', message, new GatewayError('bad_request', message, { upstream_status: err.status }));
  }
  if (err instanceof UnreachableError) {
    const message = `provider unreachable: ${sanitizeUpstreamText(err.message)}`;
    const retry: Record<string, string> = err.retryAfter !== undefined ? { 'retry-after': String(err.retryAfter) } : {};
    return failed('model_unavailable', message, new GatewayError('model_unavailable', message, err.retryAfter !== undefined ? { retry_after: err.retryAfter } : {}, {}, retry));
  }
  if (err instanceof ProviderError) return failed('provider_error', `provider error${err.status ? ` (HTTP ${err.status})` : ''}: ${sanitizeUpstreamText(err.message)}`);
  if (err instanceof Error) return failed('provider_error', `provider error: ${sanitizeUpstreamText(err.message)}`);
  return failed('provider_error', 'provider error');
}

/** The operator's full view of a failed attempt (the client sees a sanitised one). */
function logUpstreamFailure(deps: GenerationDeps, route: string, generationId: number, startedAt: number, err: unknown): void {
  if (!deps.log || (err instanceof GenerationAbort && err.reason === 'client_disconnected')) return;
  const status = err instanceof ProviderError ? err.status : undefined;
  const entry = {
    route,
    generation_id: generationId,
    upstream_status: status ?? null,
    latency_ms: Math.round(performance.now() - startedAt),
    error: err instanceof Error ? err.message : String(err),
  };
  if (status === 401 || status === 403) deps.log.error(entry, 'upstream rejected the provider credentials');
  else deps.log.warn(entry, 'upstream attempt failed');
}

/** Resolves when the sink's backpressure clears (`pending`) or the generation is cancelled, whichever comes first. */
function drainedOrCancelled(pending: Promise<void>, cancel: Cancellation): Promise<void> {
  if (cancel.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const off = cancel.onAbort(() => resolve());
    pending.then(
      () => {
        off();
        resolve();
      },
      (err: unknown) => {
        off();
        reject(err);
      },
    );
  });
}

/** The total timeout cancels the request the way a client leaving does, with its own reason; clear it when the request is over. */
export function cancelOnTotalTimeout(cancel: Cancellation, totalMs: number): NodeJS.Timeout {
  return setTimeout(() => cancel.abort(new GenerationAbort('timeout', `upstream timed out: total time over ${totalMs} ms`)), totalMs);
}

/**
 * Counts the request against the account's limits, then holds `price` for the model: the pending
 * generation (and a media job's row) in one transaction. 402 when the balance cannot cover it.
 */
export async function holdPrice(
  deps: Pick<GenerationDeps, 'db' | 'limits'>,
  caller: Caller,
  model: ModelEntry,
  price: number,
  rest: Pick<HoldRequest, 'prompt' | 'holdTtlMs' | 'instanceId' | 'job' | 'callbackUrl'>,
): Promise<Hold> {
  await deps.limits?.consume(caller);
  if (holdingChannel.hasSubscribers) holdingChannel.publish({ accountId: caller.account.id });
  const hold = await holdTokens(deps.db, { accountId: caller.account.id, apiKeyId: caller.key.id, modelSlug: model.slug, category: model.category, price, ...rest });
  if (!hold) throw await insufficientCredits(deps.db, caller.account.id, model.slug, price);
  return hold;
}

/** The flat-priced text and embedding path: the model's price, held for its total timeout. */
export async function holdFlatPrice(deps: GenerationDeps, caller: Caller, model: ModelEntry, prompt: string | null, callbackUrl?: string) {
  const timeouts = deps.catalog.timeoutsFor(model);
  const hold = await holdPrice(deps, caller, model, model.token_cost, {
    prompt,
    holdTtlMs: timeouts.total_ms + 60_000,
    instanceId: deps.instanceId ?? null,
    ...(callbackUrl ? { callbackUrl } : {}),
  });
  return { hold, timeouts };
}
