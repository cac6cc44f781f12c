// One claimed job, start to settlement: start the provider's job (or resume polling the one a dead
// worker started), poll it, store its files, charge the price for what was made (never above the
// hold). A failed attempt goes back to the queue with backoff until its attempts run out; then the
// generation fails and its hold is released. Exactly one settlement, guarded by the ledger.
import { setTimeout as delay } from 'node:timers/promises';
import type { JobSettings } from '../config/env.js';
import type { Generation, Job } from '../db/schema.js';
import { settleWithRetry } from '../billing/settle-retry.js';
import type { Settlement } from '../billing/ledger.js';
import { GatewayError } from '../core/errors.js';
import { configuredRoutes, describeFailure, type GenerationDeps } from '../generation/lifecycle.js';
import { priceOf } from '../generation/pricing.js';
import type { Route } from '../generation/routing.js';
import { findGeneration, mergeResultJson, setHoldExpiry } from '../generation/store.js';
import { generationObject, type ResultLinks } from '../generation/object.js';
import { ProviderError, type MediaInputFile, type MediaKind, type MediaProgress, type MediaProvider, type MediaRequest } from '../providers/spec.js';
import type { FileStore } from '../storage/files.js';
import { deleteOutputs, storeOutputs, type StoredOutput } from './outputs.js';
import { endJob, recordProviderJob, requeueJob } from './store.js';
import { inputResultFile, readInput, type JobInputFile } from './inputs.js';

export interface JobDeps extends GenerationDeps {
  files: FileStore;
  /** Signs the result URLs of webhook bodies (on LUMENGATE_PUBLIC_URL, else as /files/… paths). */
  links?: ResultLinks;
  jobs: JobSettings;
}

/** What a submitted job carries: the prompt and the Style C options it was priced for. */
export interface JobInput {
  prompt: string | null;
  options: Record<string, unknown>;
  /** Where the ended generation is reported (docs/api.md), checked when the job was submitted. */
  callbackUrl?: string;
  /** The job's input file (src/jobs/inputs.ts), stored under the generation. */
  input?: JobInputFile;
}

/** result_json of an ended job generation: its output files and its input file (both swept by retention). */
export function endedResultJson(generationId: number, input: JobInput, files?: StoredOutput[]): string | null {
  if (!files && !input.input) return null;
  return JSON.stringify({ ...(files ? { files } : {}), ...(input.input ? { input: inputResultFile(generationId, input.input) } : {}) });
}

/** Reports an ended job generation to its callback URL, if it has one (never throws). */
export async function reportEnded(deps: JobDeps, generationId: number, input: JobInput): Promise<void> {
  if (!input.callbackUrl || !deps.webhooks) return;
  const gen = await findGeneration(deps.db, generationId);
  if (!gen || gen.status === 'pending') return;
  await deps.webhooks.generationEnded({ generationId, accountId: gen.account_id, url: input.callbackUrl, generation: generationObject(gen, null, deps.links) });
}

/** Why a worker stops running a job without settling it. */
export class JobStop extends Error {
  constructor(readonly reason: 'lease_lost' | 'cancelled' | 'shutdown') {
    super(`job stopped: ${reason}`);
  }
}

const DEFAULT_POLL_MS = 2_000;
/** A job not started this long after its submission (queued behind its account's cap, or no worker) fails, released. */
export const QUEUE_WINDOW_MS = 24 * 3600_000;
/** A pending hold outlives the job's deadline by this much before the stale-hold sweeper may release it. */
export const HOLD_MARGIN_MS = 5 * 60_000;
/** How long a stopped run lets a provider call that is creating its job answer (Replicate's Prefer: wait is 5 s by default). */
export const START_GRACE_MS = 15_000;

export async function executeJob(deps: JobDeps, owner: string, job: Job, signal: AbortSignal): Promise<void> {
  const id = job.generation_id;
  const gen = await findGeneration(deps.db, id);
  if (!gen) return await endJob(deps.db, id, 'failed');
  const input = JSON.parse(job.input_json) as JobInput;
  const model = deps.catalog.get(gen.model_slug);
  // The job's deadline aborts whatever it is doing (a provider call that never answers, a poll, a
  // download) rather than being looked at between polls only: a hung upstream must not hold a
  // worker slot for good. `signal` (the runner's: cancelled, lease lost, shutdown) stops it too.
  // It counts from the first claim (time queued is not taken from the run), over every attempt.
  const startedAt = Date.parse(job.started_at ?? gen.created_at);
  const overtime = new AbortController();
  const deadline = setTimeout(
    () => overtime.abort(new ProviderError(`timed out: the job ran over ${deps.jobs.timeoutMs} ms`, { retryable: false })),
    Math.max(0, startedAt + deps.jobs.timeoutMs - Date.now()),
  );
  const run = AbortSignal.any([signal, overtime.signal]);
  // A stop (shutdown, a cancel, a lost lease) does not cut a provider call that is creating the
  // job: the provider has it already, and only the id it answers lets the next attempt resume it
  // (or a cancel reach it) instead of paying for a second one. It gets START_GRACE_MS to answer;
  // the job's deadline still cuts it at once.
  const startStop = new AbortController();
  let grace: NodeJS.Timeout | undefined;
  const onStop = () => {
    grace = setTimeout(() => startStop.abort(signal.reason), START_GRACE_MS);
  };
  if (signal.aborted) onStop();
  else signal.addEventListener('abort', onStop, { once: true });
  const starting = AbortSignal.any([overtime.signal, startStop.signal]);
  let route: Route | undefined;
  let providerJobId = job.provider_job_id;
  // Read from the store only when the provider's job is started (a resumed poll does not need it).
  let inputFile: MediaInputFile | undefined;
  const request = (r: Route): MediaRequest => ({
    kind: gen.category as MediaKind,
    upstreamModel: r.upstreamModel,
    options: input.options,
    maxOutputBytes: deps.jobs.maxOutputBytes,
    signal: run,
    ...(input.prompt !== null ? { prompt: input.prompt } : {}),
    ...(inputFile ? { input: inputFile } : {}),
  });
  // The gateway gives up on a job the provider may still be working on: stop it paying on (best
  // effort; a provider job that already ended ignores it).
  const stopAtProvider = async () => {
    const r = route ?? configuredRoutesOrNone(deps, model, job.route);
    if (r && providerJobId) await cancelAtProvider(deps, r, request, providerJobId);
  };
  // Stores the provider job's id on the row. A job that stopped being ours while the provider was
  // accepting it (a cancel on another instance, its lease taken over by another worker) records
  // nothing, and the cancel or the new worker never learns of this provider job: stop it paying on.
  const record = async (r: Route, jobId: string): Promise<string> => {
    if (await recordProviderJob(deps.db, id, owner, r.name, jobId)) return jobId;
    await cancelAtProvider(deps, r, request, jobId);
    throw new JobStop('lease_lost');
  };
  try {
    // Settled meanwhile (released by the stale-hold sweeper, cancelled): nothing left to run.
    if (gen.status !== 'pending') return await endSettledElsewhere(deps, gen, input, stopAtProvider);
    if (!model) throw new ProviderError(`model "${gen.model_slug}" is no longer in the catalog`, { retryable: false });
    if (job.attempts > job.max_attempts) throw new AttemptsExhausted(job.max_attempts, job.last_error);
    if (startedAt - Date.parse(gen.created_at) > QUEUE_WINDOW_MS) throw new ProviderError(`not started within ${QUEUE_WINDOW_MS / 3600_000} h of its submission`, { retryable: false });
    // The hold now lasts as long as the run may: the submission's covered the queue window.
    await setHoldExpiry(deps.db, id, new Date(startedAt + deps.jobs.timeoutMs + HOLD_MARGIN_MS).toISOString());
    const routes = configuredRoutes(deps, model);
    let progress: MediaProgress;
    if (providerJobId && job.route) {
      // A previous attempt started the provider's job: resume polling it, never start a second one.
      route = routes.find((r) => r.name === job.route);
      if (!route) throw new ProviderError(`route ${job.route} of provider job ${providerJobId} is no longer configured`, { retryable: false });
      progress = await pollOf(route)(request(route), providerJobId);
    } else {
      if (input.input) inputFile = await readInput(deps.files, id, input.input);
      ({ route, progress } = await startOnFirstRoute(routes, (r) => ({ ...request(r), signal: starting }), signal));
    }
    while (progress.state === 'running') {
      providerJobId ??= await record(route, progress.providerJobId);
      await delay(deps.jobs.providerPollMs ?? progress.pollAfterMs ?? DEFAULT_POLL_MS, undefined, { signal: run });
      // The stale-hold sweeper may have released it while it ran (its hold outlived): end it here.
      // A database blip is not a reason to give up the attempt: look again after the next poll.
      const now = await findGeneration(deps.db, id).catch(() => undefined);
      if (now && now.status !== 'pending') return await endSettledElsewhere(deps, now, input, stopAtProvider);
      progress = await pollOf(route)(request(route), providerJobId);
    }
    // Done within the create call (Replicate's Prefer: wait): its id is stored before the files
    // are downloaded, so a failed download is retried on the same provider job, never a new one.
    if (!providerJobId && progress.providerJobId) providerJobId = await record(route, progress.providerJobId);
    const result = progress.result;
    // A result made in the create call itself (a synchronous API: no provider job to resume) is
    // paid for once it is in hand. A stop other than a cancel (a shutdown, a lost lease) lets it be
    // stored and settled within the create call's grace, rather than giving the job back to be
    // made, and paid for, again.
    const inHand = !providerJobId;
    const stopsStoring = inHand ? starting : run;
    const files = await storeOutputs(deps.files, id, result.files, { signal: stopsStoring, providerOrigin: route.provider.media?.origin, maxBytes: deps.jobs.maxOutputBytes }).catch((err: unknown) => {
      // Made in the call itself (a synchronous API: no provider job to poll again), a result that
      // could not be stored is lost: a retry would make, and pay for, it again. Fail it instead.
      if (providerJobId || stopsStoring.aborted || (err instanceof ProviderError && !err.retryable)) throw err;
      throw new ProviderError(`storing the result failed: ${(err as Error).message} (not retried: the provider would make, and charge for, it again)`, { retryable: false, cause: err });
    });
    const settlement: Settlement = {
      status: 'completed',
      resultText: result.text ?? null,
      resultJson: endedResultJson(id, input, files),
      error: null,
      finishReason: null,
      usage: null,
      route: route.name,
      firstTokenAt: null,
      createdAt: gen.created_at,
      // The price of what was made (measured seconds or characters); the ledger caps it at the hold.
      charge: priceOf(model, { ...input.options, prompt: input.prompt }, result.measured),
    };
    // Cancelled after storing, or settled first by someone else (a cancel on another instance, the
    // stale-hold sweeper): the stored files are recorded nowhere, and the end is theirs to report.
    const keys = files.map((f) => f.key);
    const cancelled = signal.reason instanceof JobStop && signal.reason.reason === 'cancelled';
    if (signal.aborted && (cancelled || !inHand)) {
      if (cancelled) await deleteOutputs(deps.files, keys);
      throw signal.reason;
    }
    if (!(await settleWithRetry(deps.db, id, settlement)).applied) {
      await deleteOutputs(deps.files, keys);
      return await endSettledElsewhere(deps, (await findGeneration(deps.db, id)) ?? gen, input, async () => {}); // its provider job is done
    }
    await endJob(deps.db, id, 'done');
    await reportEnded(deps, id, input);
  } catch (caught) {
    const err: unknown = run.aborted ? (run.reason as unknown) : caught;
    if (err instanceof JobStop) {
      if (err.reason === 'shutdown') await requeueJob(deps.db, id, owner, { delayMs: 0, error: null, refundAttempt: true });
      if (err.reason === 'cancelled' && providerJobId && route) await cancelAtProvider(deps, route, request, providerJobId);
      return;
    }
    const failure = describeFailure(err);
    const retryable = !(err instanceof GatewayError) && !(err instanceof AttemptsExhausted) && (!(err instanceof ProviderError) || err.retryable);
    if (retryable && job.attempts < job.max_attempts) {
      deps.log?.warn({ generation_id: id, attempt: job.attempts, route: route?.name ?? null, error: (err as Error)?.message }, 'job attempt failed; retrying');
      // The provider's Retry-After (a 429 or 503) when it asks for longer than the backoff: an attempt sooner would be refused again.
      const backoff = deps.jobs.backoffMs * 2 ** (job.attempts - 1);
      const asked = err instanceof ProviderError && err.retryAfter !== undefined ? err.retryAfter * 1000 : 0;
      await requeueJob(deps.db, id, owner, { delayMs: Math.max(backoff, asked), error: failure.message });
      return;
    }
    const message = err instanceof AttemptsExhausted ? err.message : failure.message;
    deps.log?.warn({ generation_id: id, attempts: job.attempts, route: route?.name ?? null, error: message }, 'job failed');
    const settled = await settleWithRetry(deps.db, id, {
      status: 'failed',
      resultText: null,
      resultJson: endedResultJson(id, input),
      error: message,
      finishReason: null,
      usage: null,
      route: route?.name ?? job.route,
      firstTokenAt: null,
      createdAt: gen.created_at,
    });
    // Settled first by someone else (a cancel, the sweeper): ended and reported as that says.
    if (!settled.applied) return await endSettledElsewhere(deps, (await findGeneration(deps.db, id)) ?? gen, input, stopAtProvider);
    await endJob(deps.db, id, 'failed', message);
    await reportEnded(deps, id, input);
    // Timed out, out of attempts, a last poll that failed: the provider's job is not ours any more.
    await stopAtProvider();
  } finally {
    clearTimeout(deadline);
    clearTimeout(grace);
    signal.removeEventListener('abort', onStop);
  }
}

/**
 * A job whose generation someone else settled while it was queued or running: the stale-hold
 * sweeper released it, a cancel, or a worker that died between settling and ending the row. Ends
 * the row as the generation ended and records the input file so that retention deletes it. Unless a
 * cancel did so already (it reports, ends the row and stops the provider's job itself), reports the
 * end (once: whoever ends the row reports) and stops a provider job that was given up on.
 */
async function endSettledElsewhere(deps: JobDeps, gen: Generation, input: JobInput, stopAtProvider: () => Promise<void>): Promise<void> {
  if (input.input && !gen.result_json) await mergeResultJson(deps.db, gen.id, JSON.parse(endedResultJson(gen.id, input)!) as Record<string, unknown>);
  const cancelled = gen.error === 'cancelled';
  await endJob(deps.db, gen.id, cancelled ? 'cancelled' : gen.status === 'completed' ? 'done' : 'failed', gen.error);
  if (cancelled) return;
  await reportEnded(deps, gen.id, input);
  if (gen.status === 'failed') await stopAtProvider();
}

/** The claim after the last allowed one: the previous worker died (lease expired) on its last attempt. */
class AttemptsExhausted extends Error {
  constructor(attempts: number, lastError: string | null) {
    super(`job failed after ${attempts} attempt${attempts === 1 ? '' : 's'}${lastError ? `: ${lastError}` : ' (the instance running it stopped)'}`);
  }
}

function mediaOf(route: Route): MediaProvider {
  const media = route.provider.media;
  if (!media) throw new ProviderError(`provider ${route.provider.id} has no media generation`, { retryable: false, unavailable: true });
  return media;
}

function pollOf(route: Route): NonNullable<MediaProvider['poll']> {
  const media = mediaOf(route);
  if (!media.poll) throw new ProviderError(`provider ${route.provider.id} cannot poll its jobs`, { retryable: false });
  return media.poll.bind(media);
}

/** Routes in order until one accepts; a refusal (4xx) is the caller's and ends the attempt at once, and so does a stop. */
async function startOnFirstRoute(routes: Route[], request: (r: Route) => MediaRequest, stop: AbortSignal): Promise<{ route: Route; progress: MediaProgress }> {
  let last: unknown;
  for (const route of routes) {
    try {
      return { route, progress: await mediaOf(route).start(request(route)) };
    } catch (err) {
      last = err;
      if (stop.aborted || (err instanceof ProviderError && !err.retryable && !err.unavailable)) throw err;
    }
  }
  throw last;
}

export async function cancelAtProvider(deps: GenerationDeps, route: Route, request: (r: Route) => MediaRequest, providerJobId: string): Promise<void> {
  const media = route.provider.media;
  if (!media?.cancel) return;
  try {
    // Best effort, bounded: the caller's cancel is already settled.
    await media.cancel({ ...request(route), signal: AbortSignal.timeout(10_000) }, providerJobId);
  } catch (err) {
    deps.log?.warn({ route: route.name, provider_job_id: providerJobId, error: (err as Error).message }, 'cancelling the provider job failed');
  }
}

/** The route named `name` if its provider is still configured. */
export function configuredRoutesOrNone(deps: GenerationDeps, model: Parameters<typeof configuredRoutes>[1] | undefined, name: string | null): Route | undefined {
  if (!model || !name) return undefined;
  try {
    return configuredRoutes(deps, model).find((r) => r.name === name);
  } catch {
    return undefined;
  }
}
