// The Fastify application: error envelope, authentication, and the route plugins.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyError } from 'fastify';
import type { Logger } from 'pino';
import { findCaller, KeyUsageTracker, type Caller } from '../accounts/keys.js';
import type { Catalog } from '../config/catalog.js';
import type { Settings } from '../config/env.js';
import type { Db } from '../db/connect.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { RouteHealth } from '../generation/routing.js';
import type { OperatorLog } from '../generation/lifecycle.js';
import { GatewayError, clip } from '../core/errors.js';
import { authenticatedChannel, authenticatingChannel } from '../core/trace.js';
import { statusOf } from './errors.js';
import { isDatabaseUnavailable, unavailableMessage } from '../db/unavailable.js';
import { generateRoutes } from './routes/generate.js';
import { sttRoutes } from './routes/stt.js';
import { modelRoutes } from './routes/models.js';
import { balanceRoutes } from './routes/balance.js';
import { docsPlugin } from '../docs/plugin.js';
import { openAIRoutes } from '../openai/routes.js';
import { observabilityPlugin } from '../metrics/plugin.js';
import { requestId } from '../metrics/request-id.js';
import type { GenerationObserver } from '../generation/observer.js';
import { keyRoutes } from './routes/keys.js';
import { userRoutes } from './routes/user.js';
import { usageRoutes } from './routes/usage.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { adminRoutes } from '../admin/routes.js';
import { hardeningOptions, installSecurity } from './security.js';
import { installNulCheck } from './nul.js';
import type { RateLimits } from '../limits/rate-limits.js';
import type { EventLog } from '../generation/event-log.js';
import { installRateLimitHeaders, rememberCaller } from '../limits/http.js';
import { fileRoutes } from './routes/files.js';
import type { FileStore } from '../storage/files.js';
import type { UrlSigner } from '../storage/signed-urls.js';
import type { JobRunner } from '../jobs/runner.js';
import type { JobDeps } from '../jobs/execute.js';
import type { Webhooks } from '../webhooks/webhooks.js';
import type { AccountPlaces, RunningGenerations } from '../generation/running.js';
import { requestLoggerFactory } from './request-logger.js';

export interface Services {
  db: Db;
  catalog: Catalog;
  providers: ProviderRegistry;
  routeHealth: RouteHealth;
  settings: Settings;
  logger: Logger;
  /** Set by the observability plugin (metrics). */
  observer?: GenerationObserver;
  limits: RateLimits;
  /** Recorded on each generation so that a restart releases exactly this instance's holds. */
  instanceId: string;
  /** Upstream failures for the operator (the lifecycle's OperatorLog; pino in production). */
  log?: OperatorLog;
  /** Result files (docs/api.md): where they are kept and how their URLs are signed. */
  files?: { store: FileStore; signer: UrlSigner };
  /** Recorded v2 streams for re-attaching (docs/api.md): memory, or Redis when REDIS_URL is set. */
  events: EventLog;
  /** Media jobs (src/jobs/): this process's worker and what it runs with. */
  jobs?: { runner: JobRunner; deps: JobDeps };
  /** Deliveries to callback_url (docs/api.md). */
  webhooks?: Webhooks;
  /** Generations in flight, waited for by a graceful shutdown (generation/running.ts). */
  running?: RunningGenerations;
  /** Re-attached streams open per account, capped like running generations (generation/running.ts). */
  followers?: AccountPlaces;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /** Resolves the bearer key or throws 401 (the auth hook has usually done it already). */
    authenticate(req: FastifyRequest): Promise<Caller>;
  }
  interface FastifyRequest {
    /** The authenticated caller, set by the auth hook on every route that does not opt out. */
    caller?: Caller;
  }
  interface FastifyContextConfig {
    /** `public: true` opts a route out of the bearer-key hook (model browsing, pages, probes). */
    public?: boolean;
  }
}

/** The caller of an authenticated route (the auth hook ran, so it is set). */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw new GatewayError('not_authenticated', 'Not authenticated: send Authorization: Bearer nb_…');
  return req.caller;
}

export async function buildApp(services: Services): Promise<FastifyInstance> {
  const app = Fastify({
    // pino Logger is a FastifyBaseLogger; the cast keeps the instance type the default one.
    // pino Logger is a FastifyBaseLogger; the cast keeps the instance type the default one.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- the cast steers Fastify's generic logger type
    loggerInstance: services.logger as FastifyBaseLogger,
    bodyLimit: services.settings.bodyLimit,
    // Generation ids are integers; path params are validated by the routes.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: requestId,
    // req.log is made on first use (request-logger.ts).
    childLoggerFactory: requestLoggerFactory,
    ...hardeningOptions(services.settings),
  });
  app.decorate('services', services);
  await installSecurity(app);
  installNulCheck(app);

  const keyUsage = new KeyUsageTracker(services.db);
  app.decorate('authenticate', async (req: FastifyRequest): Promise<Caller> => {
    if (req.caller) return req.caller;
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw new GatewayError('not_authenticated', 'Not authenticated: send Authorization: Bearer nb_…');
    if (authenticatingChannel.hasSubscribers) authenticatingChannel.publish({});
    const caller = await findCaller(services.db, match[1]);
    if (!caller) throw new GatewayError('not_authenticated', 'Invalid or revoked API key');
    keyUsage.touch(caller.key.id);
    if (authenticatedChannel.hasSubscribers) authenticatedChannel.publish({ keyId: caller.key.id });
    rememberCaller(req, caller);
    req.caller = caller;
    return caller;
  });

  app.setErrorHandler((err: FastifyError | GatewayError, req, reply) => {
    const apiError = toGatewayError(err);
    if (apiError.code === 'internal_error') req.log.error({ err }, 'unhandled error');
    else if (apiError.code === 'service_unavailable') req.log.warn({ err }, 'service unavailable');
    void reply.code(statusOf(apiError)).headers(apiError.headers).send(apiError.body());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(new GatewayError('not_found', `no route ${clip(req.method)} ${clip(req.url.split('?')[0]!)}`).body());
  });

  await app.register(docsPlugin);
  await app.register(observabilityPlugin);
  installRateLimitHeaders(app, services.limits);
  // The API surfaces: every route needs an nb_ key unless it says `config: { public: true }`.
  await app.register(async (api) => {
    api.addHook('onRequest', (req, _reply, done) => {
      if (req.routeOptions.config.public === true) return done();
      void app.authenticate(req).then(() => done(), done);
    });
    await api.register(generateRoutes);
    await api.register(sttRoutes);
    await api.register(modelRoutes);
    await api.register(balanceRoutes);
    await api.register(openAIRoutes, { prefix: '/v1' });
    await api.register(keyRoutes);
    await api.register(userRoutes);
    await api.register(usageRoutes);
    await api.register(fileRoutes);
  });
  await app.register(dashboardRoutes);
  await app.register(adminRoutes);
  return app;
}

/** Maps Fastify's own client errors to our envelope; anything unknown is a logged 500. */
export function toGatewayError(err: FastifyError | GatewayError): GatewayError {
  if (err instanceof GatewayError) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('payload_too_large', 'request body is too large', {});
    // Fastify's own text repeats "not valid JSON": the parser's position (when given) is what helps.
    case 'FST_ERR_CTP_INVALID_JSON_BODY': {
      const cause = (err as { cause?: unknown }).cause;
      return new GatewayError('bad_request', `request body is not valid JSON${cause instanceof SyntaxError ? `: ${cause.message}` : ''}`);
    }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('bad_request', 'request body is empty: send a JSON object');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('bad_request', 'unsupported Content-Type: send application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('bad_request', 'Content-Length does not match the body');
    default:
      break;
  }
  if (isDatabaseUnavailable(err)) return new GatewayError('service_unavailable', unavailableMessage(err), { retry_after: 1 }, {}, { 'retry-after': '1' });
  if (err instanceof SyntaxError) return new GatewayError('bad_request', `request body is not valid JSON: ${err.message}`);
  const status = err.statusCode;
  if (status === 413) return new GatewayError('payload_too_large', 'request is too large');
  if (status !== undefined && status >= 400 && status < 500) return new GatewayError('bad_request', err.message);
  return new GatewayError('internal_error', 'internal server error');
}
