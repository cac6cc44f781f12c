// X-RateLimit-* headers on every authenticated response. Generation requests carry the state
// their counting produced; other authenticated requests read the counters without counting.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../accounts/keys.js';
import { rateLimitHeaders, type RateLimits } from './rate-limits.js';

const callers = new WeakMap<FastifyRequest, Caller>();

/** Remembers who made the request (called by `app.authenticate`). */
export function rememberCaller(req: FastifyRequest, caller: Caller): void {
  callers.set(req, caller);
}

/** Adds the onSend hook to the root instance; it runs for JSON answers and errors alike. */
export function installRateLimitHeaders(app: FastifyInstance, limits: RateLimits): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const caller = callers.get(req);
    if (!caller) return payload;
    const state = limits.stateOf(caller) ?? (await limits.peek(caller));
    for (const [name, value] of Object.entries(rateLimitHeaders(state))) {
      if (!reply.hasHeader(name)) void reply.header(name, value);
    }
    return payload;
  });
}
