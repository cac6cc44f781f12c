// Milestones of a request on node:diagnostics_channel, like undici's `undici:request:*` and
// Fastify's `tracing:fastify.request.handler:*`: free when nobody subscribes (one hasSubscribers
// check), and a profiler or `npm run bench:ttft` (bench/ttft.ts) can time the steps between them
// without touching this code. Message shapes are part of the contract: add fields, never rename.
import { channel } from 'node:diagnostics_channel';

/** The API key was checked (src/http/app.ts): `{ keyId }`. */
export const authenticatedChannel = channel('lumengate:request:authenticated');
/** Admission, limits and the hold are done and committed; the upstream call comes next: `{ generationId }`. */
export const heldChannel = channel('lumengate:generation:held');
