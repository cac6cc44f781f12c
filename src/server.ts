// Wires the services together and starts listening. Used by `lumengate serve` and by the tests.
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadCatalog, type Catalog } from './config/catalog.js';
import { settingsFromEnv, type Settings } from './config/env.js';
import { openDatabase, type Db } from './db/connect.js';
import { releaseInstanceHolds, releaseStaleHolds } from './billing/ledger.js';
import { RateLimits } from './limits/rate-limits.js';
import { buildProviders, type ProviderRegistry } from './providers/registry.js';
import { buildApp } from './http/app.js';
import { CircuitState } from 'cockatiel';
import { RouteHealth } from './generation/routing.js';
import { loggerOptions } from './logging.js';
import { fileSystemStore, type FileStore } from './storage/files.js';
import { JobRunner } from './jobs/runner.js';
import type { JobDeps } from './jobs/execute.js';

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
  /** Where media results are stored (default: the file system under LUMENGATE_FILES_DIR). */
  files?: FileStore;
}

export function defaultLogger(level: string): Logger {
  // Asynchronous destination: logging never blocks the event loop on the hot path.
  return pino(loggerOptions(level), pino.destination({ sync: false }));
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

  // ioredis is loaded only when Redis is configured (a single instance keeps its counters in memory).
  const redis = settings.redisUrl ? await (await import('./limits/redis.js')).connectRedis(settings.redisUrl, logger) : undefined;
  const limits = new RateLimits({ plans: catalog.plans, redis, prefix: settings.redisPrefix, onRedisDown: settings.rateLimitRedisDown, logger });
  const routeHealth = new RouteHealth(catalog);
  routeHealth.onStateChange = (route, state) => logger.warn({ route, breaker: CircuitState[state].toLowerCase() }, 'circuit breaker changed state');
  const jobDeps: JobDeps = {
    db, catalog, providers, routeHealth, limits, log: logger, instanceId: settings.instanceId,
    files: opts.files ?? fileSystemStore(settings.filesDir), jobs: settings.jobs,
  };
  const runner = new JobRunner(jobDeps);
  const app = await buildApp({ db, catalog, providers, routeHealth, settings, logger, log: logger, limits, instanceId: settings.instanceId, jobs: { runner, deps: jobDeps } });
  // A deep accept queue: a burst of a thousand new streams must not overflow the default 511.
  await app.listen({ host: settings.host, port: settings.port, backlog: 4096 });
  runner.start();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : settings.port;
  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;

  const configured = providers.ids();
  const ready = await readyModels(catalog, providers);
  if (ready.length === 0) {
    // Plain words on stderr, not only a JSON log line: this is what a first-time user sees.
    process.stderr.write(NO_MODEL_HINT);
    logger.warn('no model can generate yet: set a provider key or pull a local model (see README)');
  }
  logger.info({ url, providers: configured, ready_models: ready.length, instance: settings.instanceId }, 'lumengate listening');

  return {
    app, db, catalog, url,
    async close() {
      clearInterval(sweeper);
      await runner.stop();
      await app.close();
      await providers.closeAll();
      redis?.disconnect();
      await db.close();
    },
  };
}

/** Models that can generate right now: a configured provider whose model is ready (local file present). */
export async function readyModels(catalog: Catalog, providers: ProviderRegistry): Promise<string[]> {
  const ready: string[] = [];
  for (const m of catalog.models) {
    for (const r of m.routes) {
      const p = providers.get(r.provider);
      if (p && (p.isReady ? await p.isReady(r.model) : true)) {
        ready.push(m.slug);
        break;
      }
    }
  }
  return ready;
}

const NO_MODEL_HINT = `
lumengate is running, but no model can generate yet. Enable one of:
  - a cloud provider: set OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLE_API_KEY, DEEPSEEK_API_KEY,
    XAI_API_KEY or OPENROUTER_API_KEY and restart;
  - a local server: set OLLAMA_BASE_URL=http://127.0.0.1:11434/v1 (or VLLM_BASE_URL) and add its
    models to your LUMENGATE_CONFIG file;
  - a local model run in-process (no key, no GPU):
      npx lumengate models pull hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M --as qwen2.5-0.5b-instruct-q4_k_m.gguf
    then restart: the model "qwen2.5-0.5b-instruct" is ready.
Until then generation requests answer 503 model_unavailable naming what to set.

`;
