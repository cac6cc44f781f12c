// POST /api/v2/generate for media models (docs/api.md): admission, the price for the options, and
// the hold + pending generation + job row in one transaction. The job runs on whichever instance
// claims it first; the caller gets the generation at once (`wait: 0`) or when it ends.
import type { Caller } from '../accounts/keys.js';
import type { ModelEntry } from '../config/catalog.js';
import { holdTokens } from '../billing/ledger.js';
import { settleWithRetry } from '../billing/settle-retry.js';
import { GatewayError, validationError } from '../core/errors.js';
import type { Generation } from '../db/schema.js';
import { checkAdmission, configuredRoutes } from '../generation/lifecycle.js';
import type { GenerationInput } from '../generation/request.js';
import { priceOf } from '../generation/pricing.js';
import { enforceRequiredOptions } from '../generation/required-options.js';
import { cancelAtProvider, configuredRoutesOrNone, reportEnded, type JobDeps, type JobInput } from './execute.js';
import { admitCallbackUrl } from '../webhooks/webhooks.js';
import type { JobRunner } from './runner.js';
import { endJob, findJob } from './store.js';
import { findGeneration } from '../generation/store.js';
import type { MediaKind } from '../providers/spec.js';

export const JOB_CATEGORIES: ReadonlySet<string> = new Set(['image', 'video', 'audio', 'tts', 'stt', 'tool']);

/** Seconds POST /api/v2/generate waits for the job by default: long-running kinds answer pending at once. */
const DEFAULT_WAIT: Record<string, number> = { image: 60, tts: 60, stt: 60, tool: 60, video: 0, audio: 0 };
const MAX_WAIT_SECONDS = 120;
/** A pending hold outlives the job's deadline by this much before the stale-hold sweeper may release it. */
const HOLD_MARGIN_MS = 5 * 60_000;

export function isJobModel(model: ModelEntry | undefined): boolean {
  return model !== undefined && JOB_CATEGORIES.has(model.category);
}

/** Holds the price and queues the job; returns the generation id and how long to wait for it. */
export async function submitJob(deps: JobDeps, runner: JobRunner, caller: Caller, input: GenerationInput): Promise<{ generationId: number; waitMs: number }> {
  const model = checkAdmission(deps, caller, input);
  const { wait, callback_url: _callback, ...options } = input.options;
  const waitSeconds = wait === undefined ? (DEFAULT_WAIT[model.category] ?? 0) : wait;
  if (typeof waitSeconds !== 'number' || !Number.isFinite(waitSeconds) || waitSeconds < 0 || waitSeconds > MAX_WAIT_SECONDS) {
    throw validationError([{ path: 'wait', message: `seconds to wait for the result, 0–${MAX_WAIT_SECONDS}` }]);
  }
  enforceRequiredOptions(model, { options, prompt: input.promptText }); // a tool's input image, mask, … named when missing
  configuredRoutes(deps, model); // 503 naming the provider to configure, before any money moves
  const callbackUrl = await admitCallbackUrl(deps.webhooks, caller.account.id, input.callbackUrl);
  const jobInput: JobInput = { prompt: input.promptText, options, ...(callbackUrl ? { callbackUrl } : {}) };
  const price = priceOf(model, { ...options, prompt: input.promptText });
  await deps.limits?.consume(caller);
  const hold = await holdTokens(deps.db, {
    accountId: caller.account.id,
    apiKeyId: caller.key.id,
    modelSlug: model.slug,
    category: model.category,
    price,
    prompt: input.promptText,
    holdTtlMs: deps.jobs.timeoutMs + HOLD_MARGIN_MS,
    // No instance id: a job outlives the instance that took the request (its restart must not release it).
    instanceId: null,
    job: { inputJson: JSON.stringify(jobInput), maxAttempts: deps.jobs.maxAttempts },
  });
  if (!hold) throw new GatewayError('insufficient_tokens', `insufficient tokens: ${model.slug} costs ${price}`, { required: price, model: model.slug });
  runner.wake();
  return { generationId: hold.generationId, waitMs: waitSeconds * 1000 };
}

/**
 * Submits a job and waits for it: up to its `wait`, or until `gone` aborts (the client left; the
 * job runs on regardless). Resolves with the generation row as it is then (pending, completed or failed).
 */
export async function submitAndWait(deps: JobDeps, runner: JobRunner, caller: Caller, input: GenerationInput, gone: AbortSignal): Promise<Generation> {
  const { generationId, waitMs } = await submitJob(deps, runner, caller, input);
  await runner.waitFor(generationId, waitMs, gone);
  return (await findGeneration(deps.db, generationId))!;
}

/**
 * Cancels a pending job generation (docs/api.md): failed with error `cancelled`, hold released,
 * the running worker stopped and the provider's job cancelled where the provider can.
 */
export async function cancelJob(deps: JobDeps, runner: JobRunner | undefined, gen: Generation): Promise<void> {
  if (!JOB_CATEGORIES.has(gen.category)) {
    throw new GatewayError('bad_request', `generation ${gen.id} is not a media job and cannot be cancelled`, { generation_id: gen.id });
  }
  if (gen.status !== 'pending') {
    throw new GatewayError('bad_request', `generation ${gen.id} is already ${gen.status}`, { generation_id: gen.id, status: gen.status });
  }
  const settled = await settleWithRetry(deps.db, gen.id, {
    status: 'failed',
    resultText: null,
    error: 'cancelled',
    finishReason: null,
    usage: null,
    route: null,
    firstTokenAt: null,
    createdAt: gen.created_at,
  });
  if (!settled.applied) return; // it ended first: the caller sees how
  const job = await findJob(deps.db, gen.id);
  if (job) await reportEnded(deps, gen.id, JSON.parse(job.input_json) as JobInput);
  await endJob(deps.db, gen.id, 'cancelled', 'cancelled');
  runner?.abortRun(gen.id);
  runner?.notifySettled(gen.id);
  const route = job?.provider_job_id ? configuredRoutesOrNone(deps, deps.catalog.get(gen.model_slug), job.route) : undefined;
  if (route && job?.provider_job_id) {
    const input = JSON.parse(job.input_json) as JobInput;
    await cancelAtProvider(
      deps,
      route,
      (r) => ({
        kind: gen.category as MediaKind,
        upstreamModel: r.upstreamModel,
        options: input.options,
        signal: AbortSignal.timeout(10_000),
        ...(input.prompt !== null ? { prompt: input.prompt } : {}),
      }),
      job.provider_job_id,
    );
  }
}
