// X-RateLimit-* headers on every authenticated response. Generation requests carry the state
// their counting produced; other authenticated requests read the counters without counting.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../accounts/keys.js';
import { rateLimitHeaders, type RateLimitState, type RateLimits } from './rate-limits.js';

const callers = new WeakMap<FastifyRequest, Caller>();

/** Remembers who made the request (called by `app.authenticate`). */
export function rememberCaller(req: FastifyRequest, caller: Caller): void {
  callers.set(req, caller);
}

/**
 * Adds the onSend hook to the root instance; it runs for JSON answers and errors alike. A request
 * that counted against its limits already has its state, so the hook answers at once (`done`, no
 * promise per request); only other authenticated requests wait for a read of the counters.
 */
export function installRateLimitHeaders(app: FastifyInstance, limits: RateLimits): void {
  const addHeaders = (reply: FastifyReply, state: RateLimitState | null | undefined) => {
    for (const [name, value] of Object.entries(rateLimitHeaders(state))) {
      if (!reply.hasHeader(name)) void reply.header(name, value);
    }
  };
  app.addHook('onSend', (req, reply, payload, done) => {
    const caller = callers.get(req);
    if (!caller) return done(null, payload);
    const state = limits.stateOf(caller);
    if (state) {
      addHeaders(reply, state);
      return done(null, payload);
    }
    void limits.peek(caller).then(
      (peeked) => {
        addHeaders(reply, peeked);
        done(null, payload);
      },
      (err: Error) => done(err),
    );
  });
}
