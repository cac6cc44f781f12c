// HTTP hardening: header-size limit and JSON answers for errors Node and Fastify raise before any
// route runs, CORS (off unless configured), and browser security headers on the HTML pages.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { Settings } from '../config/env.js';
import { GatewayError } from '../core/errors.js';

export interface SecuritySettings {
  /** Largest request head (request line + headers) in bytes; more is answered 431. */
  maxHeaderBytes: number;
  /** Origins allowed to call the API from a browser; empty = CORS off, ['*'] = any origin. */
  corsOrigins: string[];
  /** Content-Security-Policy for the HTML pages (LUMENGATE_CSP replaces the default). */
  contentSecurityPolicy: string;
  /** Whole request (head + body) must arrive within this; a trickling client is answered 408 and closed. */
  requestTimeoutMs: number;
  /** Open connections per client address; more are closed at once. */
  maxConnectionsPerIp: number;
}

/** URL prefixes of the browser pages (dashboard, API docs) that get the full set of security headers. */
export const PAGE_PREFIXES = ['/dashboard', '/docs'];

export const DEFAULT_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
].join('; ');

export function securitySettings(env: NodeJS.ProcessEnv): SecuritySettings {
  const maxHeaderBytes = env.LUMENGATE_MAX_HEADER_SIZE ? Number(env.LUMENGATE_MAX_HEADER_SIZE) : 16 * 1024;
  if (!Number.isInteger(maxHeaderBytes) || maxHeaderBytes < 1024) throw new Error('LUMENGATE_MAX_HEADER_SIZE must be an integer number of bytes, at least 1024');
  const corsOrigins = (env.LUMENGATE_CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of corsOrigins) {
    if (o === '*') continue;
    let origin: string | null = null;
    try {
      origin = new URL(o).origin;
    } catch {
      /* reported below */
    }
    if (origin !== o) throw new Error(`LUMENGATE_CORS_ORIGINS: ${JSON.stringify(o)} is not an origin like https://app.example.com (scheme, host, optional port, no path)`);
  }
  const requestTimeoutMs = positiveInt(env, 'LUMENGATE_REQUEST_TIMEOUT_MS', 30_000);
  const maxConnectionsPerIp = positiveInt(env, 'LUMENGATE_MAX_CONNECTIONS_PER_IP', 256);
  return { maxHeaderBytes, corsOrigins, contentSecurityPolicy: env.LUMENGATE_CSP || DEFAULT_CSP, requestTimeoutMs, maxConnectionsPerIp };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

const envelope = (error: string, message: string) => JSON.stringify({ error, message, details: {} });

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (malformed framing, oversized
 * headers): answered with the JSON envelope, then the connection is closed.
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let head = '400 Bad Request';
  let body = envelope('bad_request', `malformed HTTP request${err.code?.startsWith('HPE_') ? ` (${err.code})` : ''}`);
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    head = '431 Request Header Fields Too Large';
    body = envelope('headers_too_large', 'request headers are too large');
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    head = '408 Request Timeout';
    body = envelope('request_timeout', 'the request was not received in time');
  }
  // A response already under way on this socket cannot be interrupted by another one.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    socket.write(`HTTP/1.1 ${head}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** Fastify options: merged into the Fastify() call in app.ts. */
export function hardeningOptions(settings: Settings) {
  const s = securitySettings(settings.env);
  // Node only times out requests that are still being received: an SSE response, whose request
  // body is complete, is never cut by these. Headers get at most 15 s (never more than the whole).
  const headersTimeout = Math.min(s.requestTimeoutMs, 15_000);
  return {
    http: {
      maxHeaderSize: s.maxHeaderBytes,
      requestTimeout: s.requestTimeoutMs,
      headersTimeout,
      // How often Node looks for expired requests (its default, 30 s, would let a 30 s timeout last a minute).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersTimeout / 10))),
    },
    // Fastify's default is 0 (no timeout: one byte every 20 s kept a connection forever).
    requestTimeout: s.requestTimeoutMs,
    // Idle keep-alive sockets: longer than the 60 s idle timeout of common load balancers, so the
    // balancer never reuses a socket the server is closing; bounded, as they count per address.
    keepAliveTimeout: 72_000,
    clientErrorHandler,
    // A URL that cannot be decoded (%FF, %zz) or a path parameter past maxParamLength.
    frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
      const message = err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid (bad percent-encoding)' : 'the URL is not valid';
      void reply.code(400).type('application/json; charset=utf-8').send(envelope('bad_request', message));
    },
  };
}

/**
 * The path as the router sees it: query dropped, percent-decoded (the router serves `/%64ashboard`
 * as `/dashboard`), repeated slashes collapsed and lower-cased. Every path-prefix decision is taken
 * on this form, so an encoded or oddly written path cannot skip a check. Erring towards a match is
 * safe here: a match only adds headers (pages) or withholds CORS (/admin).
 */
export function normalisedPath(url: string): string {
  const raw = url.split(/[?#]/, 1)[0] ?? '';
  let path = raw;
  try {
    path = decodeURIComponent(raw);
  } catch {
    /* undecodable: the router answers 400 */
  }
  return path.replace(/\/{2,}/g, '/').toLowerCase();
}

/** True when `path` (normalised) is `prefix` or below it: by path segment, `/dashboardx` is not `/dashboard`. */
export const underPrefix = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

const isPage = (url: string) => {
  const path = normalisedPath(url);
  return PAGE_PREFIXES.some((p) => underPrefix(path, p));
};

/** CORS and security headers. Called once in buildApp, before any route is registered. */
export async function installSecurity(app: FastifyInstance): Promise<void> {
  const s = securitySettings(app.services.settings.env);

  // An Expect header other than 100-continue: Node answers 417 itself, with an empty body.
  app.server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const body = envelope('expectation_failed', 'only "Expect: 100-continue" is supported');
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
  });

  limitConnectionsPerAddress(app.server, s.maxConnectionsPerIp);

  // Every answer: the browser must never guess a content type (JSON rendered as HTML). A request
  // that asks to upgrade and has a chunked body is refused here (asksUpgradeWithChunkedBody).
  // Hooks on every request take Fastify's `done` rather than being async: an async hook costs each
  // request a promise and a microtask turn before the next hook runs (bench/NOTES.md, eighteenth session).
  app.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (asksUpgradeWithChunkedBody(req)) {
      done(
        new GatewayError(
          'bad_request',
          'a request that asks to upgrade the connection (Connection: upgrade) cannot have a chunked body: send it with Content-Length, or without Upgrade',
          { fields: [{ path: 'headers.transfer-encoding', message: 'not with Connection: upgrade' }] },
          {},
          { connection: 'close' },
        ),
      );
      return;
    }
    done();
  });

  if (s.corsOrigins.length > 0) {
    const anyOrigin = s.corsOrigins.includes('*');
    const allowed = new Set(s.corsOrigins);
    await app.register(cors, {
      delegator: (req, cb) => {
        // The operator API is for scripts and the CLI, never for a browser page.
        // Any path starting /admin (also /adminx), on the decoded path: /%61dmin is /admin to the router.
        if (normalisedPath(req.url).startsWith('/admin')) return cb(null, { origin: false });
        cb(null, {
          origin: anyOrigin ? '*' : (origin, done) => done(null, origin !== undefined && allowed.has(origin)),
          methods: ['GET', 'POST', 'PATCH', 'DELETE'],
          allowedHeaders: ['authorization', 'content-type'],
          exposedHeaders: ['retry-after', 'x-generation-id', 'x-ratelimit-limit-hour', 'x-ratelimit-remaining-hour', 'x-ratelimit-limit-day', 'x-ratelimit-remaining-day', 'x-ratelimit-reset-hour'],
          // Keys travel in the Authorization header, never in cookies.
          credentials: false,
          maxAge: 600,
        });
      },
    });
  }

  await app.register(helmet, { global: false, contentSecurityPolicy: { useDefaults: false, directives: cspDirectives(s.contentSecurityPolicy) } });
  app.addHook('onRequest', (req, reply, done) => {
    if (isPage(req.url)) reply.helmet();
    done();
  });
}

/**
 * True for a request that asks to switch protocols (an Upgrade header and `upgrade` in Connection)
 * and sends a chunked body. With no 'upgrade' listener Node serves such a request as a plain one,
 * but its parser then stops at a malformed chunk without raising an error (Node 20 and 24), so the
 * request would wait for the rest of its body until the request timeout instead of being answered
 * 400 (found by test/security/fuzz.test.ts). Refused before its body is read, the connection closed.
 * A request with Upgrade and a Content-Length body, or none, is served as usual (the Upgrade ignored).
 */
function asksUpgradeWithChunkedBody(req: FastifyRequest): boolean {
  const { upgrade, connection } = req.headers;
  if (upgrade === undefined || req.headers['transfer-encoding'] === undefined) return false;
  return typeof connection === 'string' && connection.split(',').some((token) => token.trim().toLowerCase() === 'upgrade');
}

/**
 * At most `max` open connections per client address: one address cannot exhaust the process's
 * sockets. Excess connections are closed at once, before anything is read. The bound is generous:
 * streaming clients legitimately hold a connection per open stream.
 */
function limitConnectionsPerAddress(server: FastifyInstance['server'], max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const addr = socket.remoteAddress;
    if (addr === undefined) return;
    const n = (open.get(addr) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      return;
    }
    open.set(addr, n);
    socket.once('close', () => {
      const left = (open.get(addr) ?? 1) - 1;
      if (left > 0) open.set(addr, left);
      else open.delete(addr);
    });
  });
}

function cspDirectives(policy: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of policy.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out[name] = values;
  }
  return out;
}
