// The operator contract: every environment variable lumengate reads, in one place.
import { existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
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
  /** LOG_FORMAT: `json` (one object a line, for collectors) or `pretty` (pino-pretty, for people); unset = pretty on a TTY. */
  logFormat: 'json' | 'pretty' | undefined;
  /** PostgreSQL connection pool size per instance (DATABASE_POOL_SIZE). */
  dbPoolSize: number;
  /** DATABASE_PREPARED_STATEMENTS: the hot statements prepared per connection (db/prepared.ts); off behind a pooler that cannot keep them. */
  dbPreparedStatements: boolean;
  /** Redis for rate-limit counters shared by all instances; unset = in-memory (one instance). */
  redisUrl: string | undefined;
  /** Prefix of every Redis key: one per deployment (per database). */
  redisPrefix: string;
  /** When Redis cannot be reached: `closed` (503), `open` (no limit), `local` (per-instance counters). */
  rateLimitRedisDown: 'closed' | 'open' | 'local';
  /** Names this instance's in-flight generations so that a restart releases exactly its own holds. */
  instanceId: string;
  /** How often stale holds are swept, and webhook deliveries that were never queued are queued. */
  sweepMs: number;
  /** How long a stream's frames stay re-attachable after it ends (LUMENGATE_STREAM_RETAIN_S, default 300). */
  streamRetainMs: number;
  /** The in-memory re-attach log's budget for all streams together (LUMENGATE_STREAM_LOG_MB, default 64; not used with Redis). */
  streamLogBytes: number;
  /** SQLite's page cache per connection, in KiB (LUMENGATE_SQLITE_CACHE_MB, default 2: SQLite's own default). */
  sqliteCacheKib: number;
  /** Where result files live (docs/api.md): `s3://bucket/prefix`, or unset for the file system. */
  storageUrl: string | undefined;
  /** The file-system store's root (LUMENGATE_FILES_DIR, default ./data/files). */
  filesDir: string;
  /** Where multipart uploads are streamed while they arrive, before they go to the store (LUMENGATE_UPLOAD_DIR, default the OS temp dir). */
  uploadDir: string;
  /** The gateway's public origin (LUMENGATE_PUBLIC_URL, e.g. https://ai.example.com): the base of result URLs in webhook bodies, which have no request to take it from. Unset: those URLs are signed paths (/files/…). */
  publicUrl: string | undefined;
  /** Signs result URLs; unset = generated once and kept in the database (src/storage/signed-urls.ts). */
  urlSecret: string | undefined;
  /** How long a signed result URL is valid. */
  urlTtlMs: number;
  /** How long the reasoning state of a tool call is kept for the next turn of its tool loop (LUMENGATE_TOOL_STATE_TTL_S, default 86400; docs/api.md). */
  toolStateTtlMs: number;
  /** Text and embedding generations one account runs at once in this process (LUMENGATE_MAX_CONCURRENT_PER_ACCOUNT); one more is 429. */
  maxConcurrentPerAccount: number;
  /** Media job workers (docs/api.md). */
  jobs: JobSettings;
  /** Webhooks (docs/api.md): http and private addresses for every callback URL (testing, intranets). */
  webhookAllowPrivate: boolean;
  /** Webhooks: hosts (names or IP literals as written in callback URLs) allowed http and private addresses. */
  webhookAllowHosts: string[];
  /** Webhooks: the receiver's time to connect, answer and send its body, each. */
  webhookTimeoutMs: number;
  /** Webhooks: deliveries in flight at once, per process. */
  webhookConcurrency: number;
  /** Webhooks: one account's deliveries in flight at once, all instances together (LUMENGATE_WEBHOOK_PER_ACCOUNT). */
  webhookPerAccount: number;
  /** Webhooks: how often due rows are looked for (LUMENGATE_WEBHOOK_POLL_MS): retries, and rows queued by other instances. */
  webhookPollMs: number;
  /** The whole environment, for per-provider `<PROVIDER>_API_KEY` / `<PROVIDER>_BASE_URL`. */
  env: NodeJS.ProcessEnv;
}

export interface JobSettings {
  /** Jobs this process runs at once (LUMENGATE_JOB_CONCURRENCY). */
  concurrency: number;
  /** Jobs one account runs at once, all instances together (LUMENGATE_JOB_PER_ACCOUNT). */
  perAccount: number;
  /** Jobs one account may have queued or running, all instances together; one more is refused (LUMENGATE_JOB_QUEUE_PER_ACCOUNT). */
  queuePerAccount: number;
  /** A worker's lease on a job; renewed every third of it while running (LUMENGATE_JOB_LEASE_MS). */
  leaseMs: number;
  /** How often an idle worker looks for jobs submitted to other instances (LUMENGATE_JOB_IDLE_POLL_MS). */
  idlePollMs: number;
  /** Overrides the provider's suggested wait between polls of its job (LUMENGATE_JOB_PROVIDER_POLL_MS). */
  providerPollMs: number | undefined;
  /** Claims of one job before it is failed and released (LUMENGATE_JOB_ATTEMPTS). */
  maxAttempts: number;
  /** Wait before retrying a failed attempt, doubled per attempt (LUMENGATE_JOB_BACKOFF_MS). */
  backoffMs: number;
  /** A job still running after this is failed (LUMENGATE_JOB_TIMEOUT_MS); its hold lasts 5 minutes more. */
  timeoutMs: number;
  /** The most bytes one output file of a job may have (LUMENGATE_MAX_OUTPUT_BYTES); a larger one fails the job. */
  maxOutputBytes: number;
}

/**
 * LUMENGATE_MAX_OUTPUT_BYTES' default, 512 MiB: a minute of 4K video at 50 Mbit/s is ~375 MB, while
 * some providers' files are read into memory whole (docs/deploy.md), so a worker slot holds at most this.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 512 * 1024 * 1024;
/** The largest LUMENGATE_MAX_OUTPUT_BYTES: a file read into memory is one Buffer, at most 4 GiB on Node 20. */
export const MAX_OUTPUT_BYTES_LIMIT = 4 * 1024 * 1024 * 1024;

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const webhookConcurrency = positiveOr(env.LUMENGATE_WEBHOOK_CONCURRENCY, 8, 'LUMENGATE_WEBHOOK_CONCURRENCY');
  return {
    host: env.HOST || '127.0.0.1',
    port: intOr(env.PORT, 8080),
    databaseUrl: env.DATABASE_URL || 'sqlite:./data/lumengate.db',
    configPath: env.LUMENGATE_CONFIG || undefined,
    heartbeatMs: timerMs(env.LUMENGATE_HEARTBEAT_MS, 15_000, 'LUMENGATE_HEARTBEAT_MS'),
    bodyLimit: intOr(env.LUMENGATE_BODY_LIMIT, 1024 * 1024),
    logLevel: env.LOG_LEVEL || 'info',
    logFormat: env.LOG_FORMAT ? oneOf(env.LOG_FORMAT, ['json', 'pretty'] as const, 'LOG_FORMAT') : undefined,
    dbPoolSize: intOr(env.DATABASE_POOL_SIZE, 10),
    dbPreparedStatements: oneOf(env.DATABASE_PREPARED_STATEMENTS || 'on', ['on', 'off'] as const, 'DATABASE_PREPARED_STATEMENTS') === 'on',
    redisUrl: env.REDIS_URL || undefined,
    redisPrefix: env.LUMENGATE_REDIS_PREFIX || 'lumengate',
    rateLimitRedisDown: oneOf(env.LUMENGATE_RATE_LIMIT_REDIS_DOWN || 'closed', ['closed', 'open', 'local'] as const, 'LUMENGATE_RATE_LIMIT_REDIS_DOWN'),
    // hostname:port is stable across restarts of one instance; a random port (0) cannot be, so the pid makes it unique.
    // A `serve --workers N` worker adds its slot: each slot releases only its own predecessor's holds.
    instanceId:
      (env.LUMENGATE_INSTANCE_ID || (env.PORT === '0' ? `${hostname()}:pid${process.pid}` : `${hostname()}:${env.PORT || 8080}`)) + (env.LUMENGATE_WORKER_SLOT ? `/w${env.LUMENGATE_WORKER_SLOT}` : ''),
    sweepMs: timerMs(env.LUMENGATE_SWEEP_MS, 60_000, 'LUMENGATE_SWEEP_MS'),
    streamRetainMs: positiveOr(env.LUMENGATE_STREAM_RETAIN_S, 300, 'LUMENGATE_STREAM_RETAIN_S') * 1000,
    streamLogBytes: positiveOr(env.LUMENGATE_STREAM_LOG_MB, 64, 'LUMENGATE_STREAM_LOG_MB') * 1024 * 1024,
    sqliteCacheKib: positiveOr(env.LUMENGATE_SQLITE_CACHE_MB, 2, 'LUMENGATE_SQLITE_CACHE_MB') * 1024,
    storageUrl: storageUrl(env.LUMENGATE_STORAGE_URL),
    filesDir: env.LUMENGATE_FILES_DIR || './data/files',
    uploadDir: env.LUMENGATE_UPLOAD_DIR || tmpdir(),
    publicUrl: env.LUMENGATE_PUBLIC_URL ? env.LUMENGATE_PUBLIC_URL.replace(/\/+$/, '') : undefined,
    urlSecret: urlSecret(env.LUMENGATE_URL_SECRET),
    urlTtlMs: intOr(env.LUMENGATE_URL_TTL_S, 24 * 3600) * 1000,
    // Not a timer: the hourly sweep deletes what is older than this.
    toolStateTtlMs: positiveOr(env.LUMENGATE_TOOL_STATE_TTL_S, 24 * 3600, 'LUMENGATE_TOOL_STATE_TTL_S') * 1000,
    // Per process (src/generation/running.ts); the same default as the connections per client address.
    maxConcurrentPerAccount: positiveOr(env.LUMENGATE_MAX_CONCURRENT_PER_ACCOUNT, 256, 'LUMENGATE_MAX_CONCURRENT_PER_ACCOUNT'),
    jobs: jobSettings(env),
    webhookAllowPrivate: oneOf(env.LUMENGATE_WEBHOOK_ALLOW_PRIVATE || 'false', ['true', 'false'] as const, 'LUMENGATE_WEBHOOK_ALLOW_PRIVATE') === 'true',
    webhookAllowHosts: (env.LUMENGATE_WEBHOOK_ALLOW_HOSTS ?? '')
      .split(',')
      .map((h) =>
        h
          .trim()
          .replace(/^\[(.*)\]$/, '$1')
          .toLowerCase(),
      )
      .filter(Boolean),
    webhookTimeoutMs: timerMs(env.LUMENGATE_WEBHOOK_TIMEOUT_MS, 10_000, 'LUMENGATE_WEBHOOK_TIMEOUT_MS', { positive: true }),
    webhookConcurrency,
    // Default: half of one process's slots, so one account's slow receiver never takes them all.
    webhookPerAccount: positiveOr(env.LUMENGATE_WEBHOOK_PER_ACCOUNT, Math.ceil(webhookConcurrency / 2), 'LUMENGATE_WEBHOOK_PER_ACCOUNT'),
    webhookPollMs: timerMs(env.LUMENGATE_WEBHOOK_POLL_MS, 2_000, 'LUMENGATE_WEBHOOK_POLL_MS', { positive: true }),
    env,
  };
}

function jobSettings(env: NodeJS.ProcessEnv): JobSettings {
  const concurrency = Math.max(1, intOr(env.LUMENGATE_JOB_CONCURRENCY, 4));
  return {
    concurrency,
    // Default: half of one process's slots, so one account never fills a single instance.
    perAccount: Math.max(1, intOr(env.LUMENGATE_JOB_PER_ACCOUNT, Math.ceil(concurrency / 2))),
    // Bounds the credits and rows one account's backlog holds (the claim reads only its first due jobs).
    queuePerAccount: Math.max(1, intOr(env.LUMENGATE_JOB_QUEUE_PER_ACCOUNT, 1_000)),
    leaseMs: Math.max(300, timerMs(env.LUMENGATE_JOB_LEASE_MS, 30_000, 'LUMENGATE_JOB_LEASE_MS')),
    idlePollMs: Math.max(10, timerMs(env.LUMENGATE_JOB_IDLE_POLL_MS, 1_000, 'LUMENGATE_JOB_IDLE_POLL_MS')),
    providerPollMs: env.LUMENGATE_JOB_PROVIDER_POLL_MS ? timerMs(env.LUMENGATE_JOB_PROVIDER_POLL_MS, 2_000, 'LUMENGATE_JOB_PROVIDER_POLL_MS') : undefined,
    maxAttempts: Math.max(1, intOr(env.LUMENGATE_JOB_ATTEMPTS, 3)),
    backoffMs: intOr(env.LUMENGATE_JOB_BACKOFF_MS, 2_000),
    timeoutMs: Math.max(1_000, timerMs(env.LUMENGATE_JOB_TIMEOUT_MS, 30 * 60_000, 'LUMENGATE_JOB_TIMEOUT_MS')),
    maxOutputBytes: maxOutputBytes(env.LUMENGATE_MAX_OUTPUT_BYTES),
  };
}

function maxOutputBytes(v: string | undefined): number {
  if (v === undefined || v === '') return DEFAULT_MAX_OUTPUT_BYTES;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`LUMENGATE_MAX_OUTPUT_BYTES must be a positive whole number of bytes, got ${JSON.stringify(v)}`);
  if (n > MAX_OUTPUT_BYTES_LIMIT)
    throw new Error(`LUMENGATE_MAX_OUTPUT_BYTES must be at most ${MAX_OUTPUT_BYTES_LIMIT} (4 GiB: some providers' files are read into memory, one Buffer each), got ${n}`);
  return n;
}

function storageUrl(v: string | undefined): string | undefined {
  if (!v) return undefined;
  if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(v)) throw new Error(`LUMENGATE_STORAGE_URL must be s3://bucket/prefix, got ${JSON.stringify(v)}`);
  return v;
}

// A short secret would make the signatures guessable.
function urlSecret(v: string | undefined): string | undefined {
  if (!v) return undefined;
  if (v.length < 32) throw new Error('LUMENGATE_URL_SECRET must be at least 32 characters');
  return v;
}

function oneOf<T extends string>(v: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

// Zero would mean "no time at all" or "no deliveries ever": refused rather than honoured.
function positiveOr(v: string | undefined, fallback: number, name: string): number {
  const n = intOr(v, fallback);
  if (n === 0) throw new Error(`${name} must be a positive integer`);
  return n;
}

/** The longest wait Node's timers take; a longer one fires after 1 ms instead (a poll would spin). */
export const MAX_TIMER_MS = 2_147_483_647;

/** A setting in milliseconds that is a timer's wait (`positive`: 0 refused too): refused above MAX_TIMER_MS, naming it. */
function timerMs(v: string | undefined, fallback: number, name: string, opts: { positive?: boolean } = {}): number {
  const n = opts.positive ? positiveOr(v, fallback, name) : intOr(v, fallback);
  if (n > MAX_TIMER_MS) throw new Error(`${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days: Node's timers wait no longer), got ${n}`);
  return n;
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
