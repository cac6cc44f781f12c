// `lumengate serve --workers N`: N processes of the same server sharing one port through Node's
// cluster module, so one machine's every core serves requests. The primary only migrates the
// database, forks, restarts crashed workers and forwards shutdown; the workers are plain servers.
// They share nothing in memory: balances and holds live in the database (SQLite in WAL mode with
// busy_timeout, or PostgreSQL), whose ledger transactions open with a write for exactly this case.
// Without Redis the plans' request counters live here, in the primary, for all the workers
// (src/limits/rate-limits.ts): each worker counting alone would multiply every limit by N.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';
import { settingsFromEnv } from '../config/env.js';
import { openDatabase } from '../db/connect.js';
import { missingLaunchFlags } from './heap.js';

/** `--workers 0` means one per core. */
export function workerCount(requested: number): number {
  return requested === 0 ? availableParallelism() : requested;
}

/** True in a cluster worker: it should just start the server. */
export const isClusterWorker = (): boolean => cluster.isWorker;

export async function runPrimary(workers: number, log: (msg: string) => void = (m) => process.stderr.write(`lumengate: ${m}\n`)): Promise<void> {
  // Migrate once here, so the workers never race each other over the schema.
  const db = await openDatabase(settingsFromEnv().databaseUrl);
  await db.close();

  // The workers are the servers: they get the start-up heap flags (heap.ts) even when the primary
  // was started without them (`npx lumengate serve --workers N`), which only node's arguments carry.
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...missingLaunchFlags()] });
  // The workers' rate-limit counters when there is no Redis (and while it is down under the
  // `local` policy): answering their IPC from the start, before any worker asks.
  new RateLimiterClusterMaster();

  let stopping = false;
  // Each worker keeps its slot across restarts, so a restarted worker releases exactly the holds its
  // dead predecessor left (the instance id includes the slot; see config/env.ts).
  const fork = (slot: number): Worker => {
    const w = cluster.fork({ LUMENGATE_WORKER_SLOT: String(slot) });
    w.on('exit', (code, signal) => {
      if (stopping) return;
      log(`worker ${w.process.pid} exited (${signal ?? code}); starting another`);
      // A worker that dies at start (bad config) would loop forever: give up on fast deaths.
      if (Date.now() - started < 5_000) {
        log('a worker died during start-up: stopping');
        void stop(1);
        return;
      }
      fork(slot);
    });
    return w;
  };
  const started = Date.now();
  for (let i = 0; i < workers; i++) fork(i);

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
}
