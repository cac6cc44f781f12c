// Milestones of a request, and of the work that follows it, on node:diagnostics_channel, like
// undici's `undici:request:*` and Fastify's `tracing:fastify.request.handler:*`: free when nobody
// subscribes (one hasSubscribers check), and a profiler or `npm run bench:ttft` (bench/ttft.ts) can
// time the steps between them without touching this code; the tests wait on them instead of
// looking again after a sleep (docs/testing.md). Message shapes are part of the contract: add
// fields, never rename.
import { channel } from 'node:diagnostics_channel';

/** A presented API key is about to be looked up (src/http/app.ts): `{}`. */
export const authenticatingChannel = channel('lumengate:request:authenticating');
/** The API key was checked (src/http/app.ts): `{ keyId }`. */
export const authenticatedChannel = channel('lumengate:request:authenticated');
/** Admission and limits are done; the ledger's hold transaction comes next (lifecycle.ts holdPrice): `{ accountId }`. */
export const holdingChannel = channel('lumengate:generation:holding');
/** Admission, limits and the hold are done and committed; the upstream call comes next: `{ generationId }`. */
export const heldChannel = channel('lumengate:generation:held');
/** A settlement was committed (src/billing/ledger.ts; `applied` false: it was settled already): `{ generationId, status, applied }`. */
export const settledChannel = channel('lumengate:generation:settled');
/** A job's run ended in this process (its row ended or requeued), or it was cancelled here (src/jobs/runner.ts): `{ generationId }`. */
export const jobRunEndedChannel = channel('lumengate:job:run-ended');
/** A webhook delivery attempt ended and its outcome was stored, or failed to be (src/webhooks/worker.ts): `{ deliveryId, generationId }`. */
export const webhookAttemptChannel = channel('lumengate:webhook:attempted');
/** A local model's sequence pool changed: a sequence freed or handed on, a request queued or leaving the queue: `{ available, queued }`. */
export const sequencesChannel = channel('lumengate:local:sequences');
