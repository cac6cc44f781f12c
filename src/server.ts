// Wires the services together and starts listening. Used by `lumengate serve` and by the tests.
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadCatalog, type Catalog } from './config/catalog.js';
import { settingsFromEnv, type Settings } from './config/env.js';
import { openDatabase, type Db } from './db/connect.js';
import { releaseInstanceHolds, releaseStaleHolds } from './billing/ledger.js';
import { RateLimits } from './limits/rate-limits.js';
import { connectRedis } from './limits/redis.js';
import { buildProviders } from './providers/registry.js';
import { buildApp } from './http/app.js';

export interface RunningServer {
  app: FastifyInstance;
  db: Db;
  catalog: Catalog;
  url: string;
  close(): Promise<void>;
}

export interface ServerOptions {
  settings?: Settings;
  logger?: Logger;
  /** Extra catalog layers merged over the shipped catalog and the operator file (tests). */
  catalogOverrides?: Record<string, unknown>[];
}

export function defaultLogger(level: string): Logger {
  // Asynchronous destination: logging never blocks the event loop on the hot path.
  return pino({ level, redact: { paths: ['req.headers.authorization', '*.authorization', '*.key', '*.api_key'], censor: '[redacted]' } }, pino.destination({ sync: false }));
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const settings = opts.settings ?? settingsFromEnv();
  const logger = opts.logger ?? defaultLogger(settings.logLevel);
  const catalog = loadCatalog(settings.configPath, ...(opts.catalogOverrides ?? []));
  const db = await openDatabase(settings.databaseUrl, { poolSize: settings.dbPoolSize });
  const providers = buildProviders(catalog.providers, settings.env);

  // Holds left by a server that died mid-request are released at start and then every minute.
  const sweep = async () => {
    try {
      const n = await releaseStaleHolds(db);
      if (n > 0) logger.warn({ released: n }, 'released stale holds');
    } catch (err) {
      logger.error({ err }, 'stale hold sweep failed');
    }
  };
  // This instance's previous process died with generations in flight: none of them can still be
  // running, so their holds are released now instead of at their expiry. Other instances' are untouched.
  const own = await releaseInstanceHolds(db, settings.instanceId);
  if (own > 0) logger.warn({ released: own, instance: settings.instanceId }, 'released holds left by this instance before its restart');
  await sweep();
  const sweeper = setInterval(sweep, settings.sweepMs);
  sweeper.unref();

  const redis = settings.redisUrl ? await connectRedis(settings.redisUrl, logger) : undefined;
  const limits = new RateLimits({ plans: catalog.plans, redis, prefix: settings.redisPrefix, onRedisDown: settings.rateLimitRedisDown, logger });
  const app = await buildApp({ db, catalog, providers, settings, logger, limits, instanceId: settings.instanceId });
  await app.listen({ host: settings.host, port: settings.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : settings.port;
  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;

  const configured = Object.keys(catalog.providers).filter((id) => providers.get(id));
  if (configured.length === 0) {
    logger.warn('no provider is configured: generation answers 503 until you set a provider key (e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY) or OLLAMA_BASE_URL');
  }
  logger.info({ url, providers: configured, instance: settings.instanceId }, 'lumengate listening');

  return {
    app, db, catalog, url,
    async close() {
      clearInterval(sweeper);
      await app.close();
      await providers.closeAll();
      redis?.disconnect();
      await db.close();
    },
  };
}
