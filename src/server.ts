// Wires the services together and starts listening. Used by `lumengate serve` and by the tests.
import { MemoryEventLog, RedisEventLog } from './generation/event-log.js';
import { SqliteEndedLogs } from './generation/sqlite-ended-logs.js';
import cluster from 'node:cluster';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadCatalog, type Catalog } from './config/catalog.js';
import { settingsFromEnv, type Settings } from './config/env.js';
import { openDatabase, type Db } from './db/connect.js';
import { releaseInstanceHolds, releaseStaleHolds } from './billing/ledger.js';
import { RateLimits } from './limits/rate-limits.js';
import { buildProviders, type ProviderRegistry } from './providers/registry.js';
import { startDiscovery, type Discovery } from './providers/discovery.js';
import { buildApp } from './http/app.js';
import { CircuitState } from 'cockatiel';
import { RouteHealth } from './generation/routing.js';
import { loggerOptions } from './logging.js';
import { createFileStore } from './storage/create.js';
import type { FileStore } from './storage/files.js';
import { sweepExpiredFiles } from './storage/retention.js';
import { sweepToolCallStates } from './generation/tool-call-state.js';
import { urlSecretOf, urlSigner, type UrlSigner } from './storage/signed-urls.js';
import { JobRunner } from './jobs/runner.js';
import type { JobDeps } from './jobs/execute.js';
import { createWebhooks, type WebhookService } from './webhooks/webhooks.js';
import { RunningGenerations, streamFollowers } from './generation/running.js';

export interface RunningServer {
  app: FastifyInstance;
  db: Db;
  catalog: Catalog;
  url: string;
  /** Ollama/vLLM model discovery; refresh() lists the upstreams now (tests, or an operator hook). */
  discovery: Discovery;
  files: { store: FileStore; signer: UrlSigner; secret: string; sweep(now?: Date): Promise<number> };
  /** Deletes the reasoning state of tool calls older than LUMENGATE_TOOL_STATE_TTL_S as of `now` (hourly, with the files' sweep). */
  sweepToolStates(now?: Date): Promise<number>;
  /** Callback deliveries (docs/api.md); tests drive retries with `webhooks.worker.tick(later)`. */
  webhooks: WebhookService;
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

export async function defaultLogger(level: string, format: Settings['logFormat'] = undefined): Promise<Logger> {
  // People read a terminal; collectors read JSON. pino-pretty is loaded only when it is used.
  if (format === 'pretty' || (format === undefined && process.stdout.isTTY)) {
    const { default: pretty } = await import('pino-pretty');
    return pino(loggerOptions(level), pretty({ destination: 1, sync: false, colorize: !!process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  // Asynchronous destination: logging never blocks the event loop on the hot path.
  return pino(loggerOptions(level), pino.destination({ sync: false }));
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const settings = opts.settings ?? settingsFromEnv();
  const logger = opts.logger ?? (await defaultLogger(settings.logLevel, settings.logFormat));
  const catalog = loadCatalog(settings.configPath, ...(opts.catalogOverrides ?? []));
  const db = await openDatabase(settings.databaseUrl, { poolSize: settings.dbPoolSize, preparedStatements: settings.dbPreparedStatements, sqliteCacheKib: settings.sqliteCacheKib });
  const providers = buildProviders(catalog.providers, settings.env);
  // Before listening, so discovered models are there from the first request; failures only warn.
  const discovery = startDiscovery({ catalog, env: settings.env, logger });
  await discovery.refresh();

  // Result files and their signed URLs; files past their plan's retention are deleted hourly.
  const secret = await urlSecretOf(db, settings.urlSecret);
  const files = { store: opts.files ?? (await createFileStore(settings)), signer: urlSigner(secret, settings.urlTtlMs) };
  const sweepFiles = (now?: Date) => sweepExpiredFiles(db, files.store, catalog, now);
  const sweepToolStates = (now = new Date()) => sweepToolCallStates(db, new Date(now.getTime() - settings.toolStateTtlMs).toISOString());

  // ioredis is loaded only when Redis is configured (a single instance keeps its counters in memory).
  const redis = settings.redisUrl ? await (await import('./limits/redis.js')).connectRedis(settings.redisUrl, logger) : undefined;
  // A worker of `serve --workers N` counts in its primary (src/cli/cluster.ts), with the other workers.
  const primaryCounters = cluster.isWorker && settings.env.LUMENGATE_WORKER_SLOT !== undefined;
  const limits = new RateLimits({ plans: catalog.plans, redis, prefix: settings.redisPrefix, onRedisDown: settings.rateLimitRedisDown, logger, primaryCounters });
  const routeHealth = new RouteHealth(catalog);
  routeHealth.onStateChange = (route, state) => logger.warn({ route, breaker: CircuitState[state].toLowerCase() }, 'circuit breaker changed state');
  // Re-attachable streams (docs/api.md): in Redis when there is one, so any instance can serve them;
  // else running ones in memory and ended ones in the SQLite file (in memory on PostgreSQL).
  const storeError = (err: unknown) => logger.error({ err }, 'stream event log: the SQLite store failed (an ended stream it could not keep stays in memory)');
  const endedLogs = !redis && db.sqlite ? new SqliteEndedLogs(db.sqlite, settings.streamRetainMs, storeError) : undefined;
  const events = redis
    ? new RedisEventLog(redis, settings.redisPrefix, (err) => logger.error({ err }, 'stream event log: redis error'), settings.streamRetainMs)
    : new MemoryEventLog({
        retainMs: settings.streamRetainMs,
        maxTotalBytes: settings.streamLogBytes,
        ended: endedLogs,
        onStoreError: storeError,
      });
  const links = { signer: files.signer, baseUrl: settings.publicUrl ?? '' };
  const webhooks = createWebhooks(db, {
    policy: { allowPrivate: settings.webhookAllowPrivate, allowHosts: new Set(settings.webhookAllowHosts) },
    timeoutMs: settings.webhookTimeoutMs,
    concurrency: settings.webhookConcurrency,
    perAccount: settings.webhookPerAccount,
    pollMs: settings.webhookPollMs,
    log: logger,
    links,
  });
  // At start and then every LUMENGATE_SWEEP_MS: holds left by a server that died mid-request are
  // released, then the webhooks of ended generations that were never queued (such a release, a
  // process that died between a settlement and its queueing, a failed queueing) are queued.
  const sweep = async () => {
    try {
      const n = await releaseStaleHolds(db);
      if (n > 0) logger.warn({ released: n }, 'released stale holds');
    } catch (err) {
      logger.error({ err }, 'stale hold sweep failed');
    }
    try {
      const n = await webhooks.sweep();
      if (n > 0) logger.warn({ queued: n }, 'queued webhook deliveries of ended generations that had none');
    } catch (err) {
      logger.error({ err }, 'webhook sweep failed');
    }
  };
  const jobDeps: JobDeps = {
    db,
    catalog,
    providers,
    routeHealth,
    limits,
    log: logger,
    instanceId: settings.instanceId,
    files: files.store,
    links,
    jobs: settings.jobs,
    webhooks,
  };
  const runner = new JobRunner(jobDeps);
  const running = new RunningGenerations(settings.maxConcurrentPerAccount);
  const app = await buildApp({
    db,
    catalog,
    providers,
    routeHealth,
    settings,
    logger,
    log: logger,
    limits,
    instanceId: settings.instanceId,
    files,
    events,
    webhooks,
    jobs: { runner, deps: jobDeps },
    running,
    followers: streamFollowers(settings.maxConcurrentPerAccount),
  });
  const listenedAt = new Date();
  try {
    // A deep accept queue: a burst of a thousand new streams must not overflow the default 511.
    await app.listen({ host: settings.host, port: settings.port, backlog: 4096 });
  } catch (err) {
    // EADDRINUSE and the like: nothing of the running instance may be touched, only our own handles.
    await app.close();
    discovery.close();
    await webhooks.stop();
    await providers.closeAll();
    redis?.disconnect();
    await db.close();
    throw err;
  }
  // This instance's previous process died with generations in flight: none of them can still be
  // running, so their holds are released now instead of at their expiry. Other instances' are untouched.
  // Only after listen succeeded: a second `serve` on the same host:port (same instance id) fails
  // with EADDRINUSE above and must not release the holds of the instance that is still running.
  // Generations this process accepted since it began listening are its own live ones: kept.
  const own = await releaseInstanceHolds(db, settings.instanceId, { createdBefore: listenedAt });
  if (own > 0) logger.warn({ released: own, instance: settings.instanceId }, 'released holds left by this instance before its restart');
  await sweep();
  const sweeper = setInterval(() => void sweep(), settings.sweepMs);
  sweeper.unref();
  const fileSweeper = setInterval(() => {
    sweepFiles().catch((err: unknown) => logger.error({ err }, 'file retention sweep failed'));
    sweepToolStates().catch((err: unknown) => logger.error({ err }, 'tool call state sweep failed'));
  }, FILE_SWEEP_MS);
  fileSweeper.unref();
  runner.start();
  // Deliveries left by a previous process (or another instance) resume here.
  webhooks.start();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : settings.port;
  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;

  const configured = providers.ids();
  const ready = await readyModels(catalog, providers);
  // The built-in espeak speech model (local-tts) is always ready: the hint is about text generation.
  if (!ready.some((slug) => catalog.get(slug)?.category === 'text')) {
    // Plain words on stderr, not only a JSON log line: this is what a first-time user sees.
    process.stderr.write(NO_MODEL_HINT);
    logger.warn('no model can generate yet: set a provider key or pull a local model (see README)');
  }
  logger.info({ url, providers: configured, ready_models: ready.length, instance: settings.instanceId }, 'lumengate listening');

  return {
    app,
    db,
    catalog,
    url,
    discovery,
    files: { ...files, secret, sweep: sweepFiles },
    sweepToolStates,
    webhooks,
    async close() {
      clearInterval(sweeper);
      clearInterval(fileSweeper);
      discovery.close();
      await runner.stop();
      await app.close();
      // Generations whose client left (a background stream, an aborted request still settling)
      // end here, with the providers and the database still open.
      await running.drained();
      // After the app: generations that ended during the close still queue their delivery.
      await webhooks.stop();
      await providers.closeAll();
      events.close();
      await endedLogs?.idle();
      redis?.disconnect();
      await db.close();
    },
  };
}

// Retention is counted in days: an hourly pass is precise enough and cheap.
const FILE_SWEEP_MS = 3600_000;

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
  - a local server: set OLLAMA_BASE_URL=http://127.0.0.1:11434/v1 (or VLLM_BASE_URL): its models
    appear as "ollama/<name>" ("vllm/<name>");
  - a local model run in-process (no key, no GPU):
      npx lumengate models pull hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M --as qwen2.5-0.5b-instruct-q4_k_m.gguf
    then restart: the model "qwen2.5-0.5b-instruct" is ready.
Until then generation requests answer 503 model_unavailable naming what to set.

`;
