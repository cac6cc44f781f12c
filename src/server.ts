// Wires the services together and starts listening. Used by `lumengate serve` and by the tests.
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadCatalog, type Catalog } from './config/catalog.js';
import { settingsFromEnv, type Settings } from './config/env.js';
import { openDatabase, type Db } from './db/connect.js';
import { releaseStaleHolds } from './billing/ledger.js';
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
  const db = await openDatabase(settings.databaseUrl);
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
  await sweep();
  const sweeper = setInterval(sweep, 60_000);
  sweeper.unref();

  const app = await buildApp({ db, catalog, providers, settings, logger });
  // A deep accept queue: a burst of a thousand new streams must not overflow the default 511.
  await app.listen({ host: settings.host, port: settings.port, backlog: 4096 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : settings.port;
  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;

  const configured = Object.keys(catalog.providers).filter((id) => providers.get(id));
  if (configured.length === 0) {
    logger.warn('no provider is configured: generation answers 503 until you set a provider key (e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY) or OLLAMA_BASE_URL');
  }
  logger.info({ url, providers: configured }, 'lumengate listening');

  return {
    app, db, catalog, url,
    async close() {
      clearInterval(sweeper);
      await app.close();
      await providers.closeAll();
      await db.close();
    },
  };
}
