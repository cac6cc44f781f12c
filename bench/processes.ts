// The bench's other processes: the fake upstream (forked), the lumengate server (spawned exactly
// as an operator runs it), and the seeded database they share.
import { fork, spawn, type ChildProcess, type ForkOptions } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeScript } from '../test/support/fake-openai.js';
import { openDatabase } from '../src/db/connect.js';
import { createAccount } from '../src/accounts/service.js';
import { createKey } from '../src/accounts/keys.js';
import { ledgerMismatches } from '../src/billing/ledger.js';
import { freePort } from '../test/support/free-port.js';
import { SERVER_LAUNCH_FLAGS } from '../src/cli/heap.js';
import type { PlanName } from '../src/config/catalog.js';
import { Redis } from 'ioredis';
export { freePort };

const here = dirname(fileURLToPath(import.meta.url));
/** dist/ (this file is dist/bench/processes.js). */
const distRoot = join(here, '..');

export interface Upstream {
  origin: string;
  pid: number;
  setScript(script: FakeScript): Promise<void>;
  /** Requests the upstream has received since it started (every request a proxy passes on reaches it once). */
  count(): Promise<number>;
  stop(): Promise<void>;
}

/** A helper process (upstream.js, floor-proxy.js) that reports { origin } once listening. */
async function forkListening(
  script: string,
  args: string[] = [],
  launch: Pick<ForkOptions, 'execPath' | 'execArgv' | 'env'> = {},
): Promise<{ child: ChildProcess; origin: string; stop(): Promise<void> }> {
  const child = fork(join(here, script), args, { ...launch, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [first] = (await once(child, 'message')) as [{ origin: string }];
  return {
    child,
    origin: first.origin,
    async stop() {
      const exited = once(child, 'exit');
      child.disconnect();
      await exited;
    },
  };
}

export async function startUpstream(): Promise<Upstream> {
  const { child, origin, stop } = await forkListening('upstream.js');
  return {
    origin,
    pid: child.pid!,
    async setScript(script) {
      child.send({ script });
      await once(child, 'message');
    },
    async count() {
      child.send({ count: true });
      const [reply] = (await once(child, 'message')) as [{ count: number }];
      return reply.count;
    },
    stop,
  };
}

/** The bare pass-through proxy in front of the upstream (floor-proxy.ts); `launch` runs it another way (bench:count: under valgrind). */
export async function startFloorProxy(upstreamOrigin: string, launch: Pick<ForkOptions, 'execPath' | 'execArgv' | 'env'> = {}): Promise<{ origin: string; pid: number; stop(): Promise<void> }> {
  const { child, origin, stop } = await forkListening('floor-proxy.js', [upstreamOrigin], launch);
  return { origin, pid: child.pid!, stop };
}

/**
 * An account with a huge balance and a key for it: `elite` has no plan limits (the default).
 * `distRoot`: another checkout's build, whose own code then migrates the database (one migrated by
 * this checkout is refused by an older server, whose migrations lack the newer ones).
 */
export async function seedAccount(databaseUrl: string, plan: PlanName = 'elite', distRoot?: string): Promise<{ accountId: number; key: string }> {
  const other = async <T>(path: string): Promise<T> => (await import(join(distRoot!, path))) as T;
  const code = distRoot
    ? {
        ...(await other<typeof import('../src/db/connect.js')>('src/db/connect.js')),
        ...(await other<typeof import('../src/accounts/service.js')>('src/accounts/service.js')),
        ...(await other<typeof import('../src/accounts/keys.js')>('src/accounts/keys.js')),
      }
    : { openDatabase, createAccount, createKey };
  const db = await code.openDatabase(databaseUrl);
  try {
    const account = await code.createAccount(db, { name: `bench-${plan}`, plan, tokens: 1_000_000_000 });
    const key = await code.createKey(db, account.id, 'bench');
    return { accountId: account.id, key: key.key };
  } finally {
    await db.close();
  }
}

/** Ledger consistency after a run: mismatching accounts and generations left pending. */
export async function auditLedger(databaseUrl: string): Promise<{ mismatches: number; pending: number; generations: number }> {
  const db = await openDatabase(databaseUrl, { migrate: false });
  try {
    const mismatches = (await ledgerMismatches(db)).length;
    const rows = await db.kysely
      .selectFrom('generations')
      .select(['status'])
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .groupBy('status')
      .execute();
    const count = (s?: string) => rows.filter((r) => s === undefined || r.status === s).reduce((a, r) => a + Number(r.n), 0);
    return { mismatches, pending: count('pending'), generations: count() };
  } finally {
    await db.close();
  }
}

/** Null when Redis answers PING at `url`, else why not (the bench then skips its Redis pass). */
export async function redisUnreachable(url: string): Promise<string | null> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (err) {
    return `Redis not reachable at ${url}: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    redis.disconnect();
  }
}

/** Deletes the keys a run left under its LUMENGATE_REDIS_PREFIX. */
export async function clearRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * Waits until no generation is left pending (or `timeoutMs` has passed) and returns how many still
 * are. wrk ends a run by closing its connections with requests in flight; the server still settles
 * them, and a server stopped before that would put its shutdown, not the run, in the ledger audit.
 */
export async function waitUntilSettled(databaseUrl: string, timeoutMs = 15_000): Promise<number> {
  const db = await openDatabase(databaseUrl, { migrate: false });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await db.kysely
        .selectFrom('generations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', 'pending')
        .executeTakeFirst();
      const pending = Number(row?.n ?? 0);
      if (pending === 0 || Date.now() > deadline) return pending;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await db.close();
  }
}

export interface Server {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startLumengate(opts: {
  databaseUrl: string;
  upstreamOrigin: string;
  workers: number;
  profileDir?: string;
  env?: Record<string, string>;
  /** Another checkout's build to run instead of this one's (its dist/ directory). */
  distRoot?: string;
  /** Node arguments after the launch flags (V8 settings to compare). */
  nodeFlags?: string[];
}): Promise<Server> {
  const port = await freePort();
  const args = [
    // As `npm start` starts it.
    ...SERVER_LAUNCH_FLAGS,
    ...(opts.nodeFlags ?? []),
    ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []),
    join(opts.distRoot ?? distRoot, 'src/cli/main.js'),
    'serve',
    ...(opts.workers > 1 ? ['--workers', String(opts.workers)] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: opts.databaseUrl,
      LOG_LEVEL: 'warn',
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: `${opts.upstreamOrigin}/v1`,
      // Every bench client connects from 127.0.0.1: the 1000-stream burst is over the per-address default.
      LUMENGATE_MAX_CONNECTIONS_PER_IP: '100000',
      // …and all its streams are one account's: the bench measures 1000 of them in one process, over the per-account default.
      LUMENGATE_MAX_CONCURRENT_PER_ACCOUNT: '100000',
      ...opts.env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = once(child, 'exit');
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`lumengate exited with ${child.exitCode} before listening`);
    try {
      const res = await fetch(`${url}/api/v2/models`);
      await res.arrayBuffer();
      // With workers, wait until the primary reports every worker listening (it answers through them).
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('lumengate did not start within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (opts.workers > 1) await new Promise((r) => setTimeout(r, 1500)); // the other workers finish starting
  return {
    url,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
