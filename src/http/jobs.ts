// What every route that starts a media job shares (POST /api/v2/generate for media models, POST
// /api/v2/stt, POST /v1/audio/transcriptions): submit the job, wait up to its `wait` for it to end
// (less if the client leaves; the job runs on regardless), and the generation row as it is then.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../accounts/keys.js';
import { GatewayError } from '../core/errors.js';
import type { Generation } from '../db/schema.js';
import type { ResultLinks } from '../generation/object.js';
import type { GenerationInput } from '../generation/request.js';
import { findGeneration } from '../generation/store.js';
import { submitJob } from '../jobs/submit.js';
import type { Services } from './app.js';

export async function submitAndWait(deps: Services, reply: FastifyReply, caller: Caller, input: GenerationInput, opts: Parameters<typeof submitJob>[4] = {}): Promise<Generation> {
  const jobs = deps.jobs;
  if (!jobs) throw new GatewayError('service_unavailable', 'media jobs are not running on this server');
  const { generationId, waitMs } = await submitJob(jobs.deps, jobs.runner, caller, input, opts);
  // Waiting ends early if the client leaves (the response closes before it was sent).
  const gone = new AbortController();
  const onClose = () => gone.abort();
  reply.raw.once('close', onClose);
  await jobs.runner.waitFor(generationId, waitMs, gone.signal);
  reply.raw.off('close', onClose);
  return (await findGeneration(deps.db, generationId))!;
}

/** Signed result URLs (docs/api.md) on the origin the client called. */
export const resultLinks = (deps: Services, req: FastifyRequest): ResultLinks | undefined => deps.files && { signer: deps.files.signer, baseUrl: `${req.protocol}://${req.host}` };
