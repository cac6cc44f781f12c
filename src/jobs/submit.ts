// POST /api/v2/generate for media models (docs/api.md): admission, the price for the options, and
// the hold + pending generation + job row in one transaction. The job runs on whichever instance
// claims it first; the caller gets the generation at once (`wait: 0`) or when it ends.
import type { Caller } from '../accounts/keys.js';
import type { ModelEntry } from '../config/catalog.js';
import { settleWithRetry } from '../billing/settle-retry.js';
import { GatewayError, unsupportedField, validationError } from '../core/errors.js';
import type { Generation } from '../db/schema.js';
import { checkAdmission, configuredRoutes, holdPrice } from '../generation/lifecycle.js';
import { optionPath, type GenerationInput } from '../generation/request.js';
import { priceOf } from '../generation/pricing.js';
import { enforceSpokenTextLimit } from '../generation/limits.js';
import { enforceRequiredOptions } from '../generation/required-options.js';
import { findGeneration } from '../generation/store.js';
import { cancelAtProvider, configuredRoutesOrNone, endedResultJson, HOLD_MARGIN_MS, QUEUE_WINDOW_MS, reportEnded, type JobDeps, type JobInput } from './execute.js';
import { admitCallbackUrl } from '../webhooks/webhooks.js';
import type { JobRunner } from './runner.js';
import { countOpenJobs, endJob, findJob, makeJobDue } from './store.js';
import { checkTakesInput, INPUT_MAX_BYTES, inputKey, inputName, takeInputUrls, type InputUpload, type JobInputFile } from './inputs.js';
import type { MediaKind } from '../providers/spec.js';
import { checkMediaOptions, withPricedDefaults } from './options.js';
import type { Cancellation } from '../core/cancel.js';

export const JOB_CATEGORIES: ReadonlySet<string> = new Set(['image', 'video', 'audio', 'tts', 'stt', 'tool']);

/** Seconds POST /api/v2/generate waits for the job by default: long-running kinds answer pending at once. */
const DEFAULT_WAIT: Record<string, number> = { image: 60, tts: 60, stt: 60, tool: 60, video: 0, audio: 0 };
const MAX_WAIT_SECONDS = 120;
/**
 * A job with an input file is created not yet due and made due once the file is stored, so no
 * worker starts it on a missing file. If the instance dies in between, the job becomes due after
 * this long anyway and fails on the missing (or incomplete) file: released, nothing charged.
 */
const INPUT_STORE_GRACE_MS = 10 * 60_000;

export function isJobModel(model: ModelEntry | undefined): boolean {
  return model !== undefined && JOB_CATEGORIES.has(model.category);
}

/**
 * Holds the price and queues the job; returns the generation id and how long to wait for it.
 * `upload` is the job's input file (an upload); a data: URL in `image_url` / `audio_url` becomes
 * one too (src/jobs/inputs.ts). It is stored after the hold and before the job is due.
 */
export async function submitJob(
  deps: JobDeps,
  runner: JobRunner,
  caller: Caller,
  input: GenerationInput,
  opts: { upload?: InputUpload & { bytes: number } } = {},
): Promise<{ generationId: number; waitMs: number }> {
  const model = checkAdmission(deps, caller, input);
  const { wait, callback_url: _callback, ...given } = input.options;
  // Named where they were sent: params.image_url, params.wait where params gave them (params wins on a clash).
  const at = (name: string) => optionPath(input, name);
  enforceRequiredOptions(model, { options: given, prompt: input.promptText }, at); // a tool's input image, mask, … named when missing
  enforceSpokenTextLimit(model, input, given, at); // text to speak beside the prompt (MiniMax's text, el-dialogue's inputs) counts too
  const { options, upload: fromUrl } = takeInputUrls(given, INPUT_MAX_BYTES, at);
  if (fromUrl && opts.upload) throw unsupportedField(fromUrl.field, `this request already uploads its input file (${opts.upload.field})`);
  const upload = opts.upload ?? (fromUrl && { ...fromUrl, bytes: (fromUrl.body() as Uint8Array).byteLength });
  if (fromUrl) checkTakesInput(deps.catalog, model, fromUrl.field, fromUrl.mediaType);
  checkMediaOptions(deps.catalog, model, options, input.promptText, input.messages, input, fromUrl?.field.replace(/^params\./, '')); // nothing silently dropped: 400 naming an option a route would not forward, where it was sent
  const waitSeconds = wait === undefined ? (DEFAULT_WAIT[model.category] ?? 0) : wait;
  if (typeof waitSeconds !== 'number' || !Number.isFinite(waitSeconds) || waitSeconds < 0 || waitSeconds > MAX_WAIT_SECONDS) {
    throw validationError([{ path: at('wait'), message: `seconds to wait for the result, 0–${MAX_WAIT_SECONDS}` }]);
  }
  configuredRoutes(deps, model); // 503 naming the provider to configure, before any money moves
  const callbackUrl = await admitCallbackUrl(deps.webhooks, caller.account.id, input.callbackUrl);
  const inputFile: JobInputFile | undefined = upload && {
    name: inputName(upload.ext),
    media_type: upload.mediaType,
    bytes: upload.bytes,
    ...(upload.filename ? { filename: upload.filename } : {}),
  };
  const price = priceOf(model, { ...options, prompt: input.promptText });
  // The provider is asked for what was priced, its defaults included (Veo's duration, gpt-image's quality).
  const priced = withPricedDefaults(deps.catalog, model, options);
  const jobInput: JobInput = { prompt: input.promptText, options: priced, ...(callbackUrl ? { callbackUrl } : {}), ...(inputFile ? { input: inputFile } : {}) };
  await checkQueueRoom(deps, caller.account.id);
  const hold = await holdPrice(deps, caller, model, price, {
    prompt: input.promptText,
    // Until it starts, a job may wait its queue window; its first claim sets the hold to its own deadline (execute.ts).
    holdTtlMs: QUEUE_WINDOW_MS + deps.jobs.timeoutMs + HOLD_MARGIN_MS,
    // No instance id: a job outlives the instance that took the request (its restart must not release it).
    instanceId: null,
    ...(callbackUrl ? { callbackUrl } : {}),
    job: {
      inputJson: JSON.stringify(jobInput),
      maxAttempts: deps.jobs.maxAttempts,
      ...(inputFile ? { runAfter: new Date(Date.now() + INPUT_STORE_GRACE_MS).toISOString() } : {}),
    },
  });
  if (upload && inputFile) await storeInput(deps, hold, jobInput, upload, inputFile);
  runner.wake();
  return { generationId: hold.generationId, waitMs: waitSeconds * 1000 };
}

/**
 * One account's open jobs (queued or running) are capped, so its backlog cannot slow the claims
 * every instance makes for all accounts (each ranks the due jobs). Counted before the hold, not in
 * its transaction: submissions in flight at the same moment can each pass, so the cap can be
 * exceeded by those, never by more. 429 before any money moves.
 */
async function checkQueueRoom(deps: JobDeps, accountId: number): Promise<void> {
  const max = deps.jobs.queuePerAccount;
  const open = await countOpenJobs(deps.db, accountId, max);
  if (open < max) return;
  throw new GatewayError('rate_limit_exceeded', `this account already has ${max} media jobs queued or running, the most it may have at once; submit more as they end`, {
    reason: 'open_jobs',
    open_jobs: open,
    max_open_jobs: max,
  });
}

/** Stores the job's input file and makes the job due; if the store fails, the generation fails (released) and the caller gets a 503. */
async function storeInput(deps: JobDeps, hold: { generationId: number; createdAt: string }, jobInput: JobInput, upload: InputUpload, file: JobInputFile): Promise<void> {
  const key = inputKey(hold.generationId, file);
  try {
    await deps.files.put(key, upload.body(), file.media_type);
    await makeJobDue(deps.db, hold.generationId);
  } catch (err) {
    deps.log?.error({ generation_id: hold.generationId, error: (err as Error).message }, 'storing the input file failed');
    await settleWithRetry(deps.db, hold.generationId, {
      status: 'failed',
      resultText: null,
      resultJson: endedResultJson(hold.generationId, jobInput),
      error: 'storing the input file failed',
      finishReason: null,
      usage: null,
      route: null,
      firstTokenAt: null,
      createdAt: hold.createdAt,
    });
    await endJob(deps.db, hold.generationId, 'failed', 'storing the input file failed');
    await deps.files.delete(key).catch(() => undefined);
    throw new GatewayError('service_unavailable', 'storing the input file failed; nothing was charged', { generation_id: hold.generationId });
  }
}

/**
 * Submits a job and waits for it: up to its `wait`, or until `gone` is cancelled (the client left; the
 * job runs on regardless). Resolves with the generation row as it is then (pending, completed or failed).
 */
export async function submitAndWait(deps: JobDeps, runner: JobRunner, caller: Caller, input: GenerationInput, gone: Cancellation, opts: Parameters<typeof submitJob>[4] = {}): Promise<Generation> {
  const { generationId, waitMs } = await submitJob(deps, runner, caller, input, opts);
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
  const job = await findJob(deps.db, gen.id);
  const jobInput = job ? (JSON.parse(job.input_json) as JobInput) : undefined;
  const settled = await settleWithRetry(deps.db, gen.id, {
    status: 'failed',
    resultText: null,
    resultJson: jobInput ? endedResultJson(gen.id, jobInput) : null,
    error: 'cancelled',
    finishReason: null,
    usage: null,
    route: null,
    firstTokenAt: null,
    createdAt: gen.created_at,
  });
  if (!settled.applied) return; // it ended first: the caller sees how
  if (jobInput) await reportEnded(deps, gen.id, jobInput);
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
