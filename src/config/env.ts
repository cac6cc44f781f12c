// The operator contract: every environment variable lumengate reads, in one place.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Settings {
  host: string;
  port: number;
  databaseUrl: string;
  /** Operator catalog/provider file merged over the shipped one. */
  configPath: string | undefined;
  /** SSE heartbeat interval. */
  heartbeatMs: number;
  /** Request body limit in bytes. */
  bodyLimit: number;
  logLevel: string;
  /** The whole environment, for per-provider `<PROVIDER>_API_KEY` / `<PROVIDER>_BASE_URL`. */
  env: NodeJS.ProcessEnv;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    host: env.HOST || '127.0.0.1',
    port: intOr(env.PORT, 8080),
    databaseUrl: env.DATABASE_URL || 'sqlite:./data/lumengate.db',
    configPath: env.LUMENGATE_CONFIG || undefined,
    heartbeatMs: intOr(env.LUMENGATE_HEARTBEAT_MS, 15_000),
    bodyLimit: intOr(env.LUMENGATE_BODY_LIMIT, 1024 * 1024),
    logLevel: env.LOG_LEVEL || 'info',
    env,
  };
}

function intOr(v: string | undefined, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/** The repository / package root (where package.json and config/ live), from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package root not found');
    dir = up;
  }
  return dir;
}
