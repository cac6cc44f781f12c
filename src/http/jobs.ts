// What every route that starts a media job shares (POST /api/v2/generate for media models, POST
// /api/v2/stt, /v1/images/generations, /v1/audio/speech, /v1/audio/transcriptions): the job
// runner of this server, and the wait that ends early when the client leaves (the job runs on
// regardless). The job itself is src/jobs/submit.ts.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../accounts/keys.js';
import { GatewayError } from '../core/errors.js';
import type { Generation } from '../db/schema.js';
import type { ResultLinks } from '../generation/object.js';
import type { GenerationInput } from '../generation/request.js';
import { submitAndWait } from '../jobs/submit.js';
import type { Services } from './app.js';
import { clientGone } from './streaming.js';

/** Submits the job and waits for it (its `wait`, or until the client leaves); the generation row as it is then. */
export async function submitJobRequest(deps: Services, reply: FastifyReply, caller: Caller, input: GenerationInput, opts: Parameters<typeof submitAndWait>[5] = {}): Promise<Generation> {
  const jobs = deps.jobs;
  if (!jobs) throw new GatewayError('service_unavailable', 'media jobs are not running on this server');
  return submitAndWait(jobs.deps, jobs.runner, caller, input, clientGone(reply), opts);
}

/** Signed result URLs (docs/api.md) on the origin the client called. */
export const resultLinks = (deps: Services, req: FastifyRequest): ResultLinks | undefined => deps.files && { signer: deps.files.signer, baseUrl: `${req.protocol}://${req.host}` };
