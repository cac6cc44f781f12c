// `npm run bench`: fake upstream, lumengate and the load client in separate processes, with two
// floors beside lumengate: a bare Node proxy (floor-proxy.ts) and nginx (nginx.ts). Streams go
// directly to the fake upstream, through each floor and through lumengate, alternating round by
// round so machine noise hits every side; the goal figures are "through minus direct". The
// non-streaming closed loops use wrk when installed (wrk.ts), else the undici loop in load.ts.
// Writes docs/BENCHMARKS.md.
// --smoke: tiny numbers, report to a temp file (CI proves the bench works; it never times anything).
// --quick: a short real run (1 stream × 3, 100 × 1, no 1000; 2 s loops, one worker).
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { packageRoot } from '../src/config/env.js';
import { loadAgent, percentile, runStream, runThroughput, upstreamBody, upstreamHeaders, type Side, type StreamResult, type StreamTarget, type ThroughputResult } from './load.js';
import { startNginxFloor, type NginxFloor } from './nginx.js';
import { cpuPinning, openFileLimit, storeCpu, storeCpuSince, watchProcess } from './proc.js';
import { auditLedger, clearRedisPrefix, redisUnreachable, seedAccount, startFloorProxy, startLumengate, startUpstream, waitUntilSettled, type Server, type Upstream } from './processes.js';
import { summariseProfiles, type ProfileSummary } from './profile.js';
import { withMarkedSections } from './sections.js';
import { renderReport, type BenchResults, type RoundTripRow, type ScenarioResult, type SideLoad, type ThroughputRun } from './report.js';
import { tripsOf, type Op } from './round-trip-counter.js';
import { runWrk, wrkVersion } from './wrk.js';

/** Process names of the stores whose CPU the closed loops report beside the server's. */
const STORE_PROCESSES = { postgres: /^postgres/, redis: /^redis-server/ };

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    json: { type: 'string' },
    profile: { type: 'boolean', default: false },
    chunks: { type: 'string' },
    'gap-ms': { type: 'string' },
    'ttfc-ms': { type: 'string' },
    pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'no-pg': { type: 'boolean', default: false },
    /** The PostgreSQL + Redis pass (rate-limited plan); skipped with a note when Redis does not answer. */
    redis: { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'no-redis': { type: 'boolean', default: false },
    /** Leave out the nginx floor / use the undici loop even when wrk is installed. */
    'no-nginx': { type: 'boolean', default: false },
    'no-wrk': { type: 'boolean', default: false },
    /** Leave every process free to run on every CPU during the one-worker throughput runs. */
    'no-pin': { type: 'boolean', default: false },
    /** Re-render the report from a saved --json file (e.g. after editing bench/NOTES.md). */
    from: { type: 'string' },
  },
});
if (args.from) {
  const out = args.out ?? join(packageRoot(), 'docs/BENCHMARKS.md');
  writeFileSync(out, withMarkedSections(renderReport(JSON.parse(readFileSync(args.from, 'utf8')) as BenchResults), out));
  process.exit(0);
}

const smoke = args.smoke;
const quick = !smoke && args.quick;
const config = {
  mode: smoke ? 'smoke' : quick ? 'quick' : 'full',
  chunks: Number(args.chunks ?? (smoke ? 3 : 50)),
  gapMs: Number(args['gap-ms'] ?? (smoke ? 5 : 20)),
  ttfcMs: Number(args['ttfc-ms'] ?? (smoke ? 5 : 20)),
  /** Concurrent streams and alternating rounds (each round: one batch per side). */
  scenarios: smoke
    ? [{ streams: 2, rounds: 1 }]
    : quick
      ? [
          { streams: 1, rounds: 3 },
          { streams: 100, rounds: 1 },
        ]
      : [
          { streams: 1, rounds: 20 },
          { streams: 100, rounds: 4 },
          { streams: 1000, rounds: 3 },
        ],
  // Several measured runs per figure (the median is reported, with the range): one run on this VM
  // moves by ±20 %. The warm-up lasts until the server's JIT has settled: 2 s left lumengate
  // compiling through the first measured run (V8's helper threads took 230–300 µs of CPU per
  // request in the 5 s after a 2 s warm-up, 55–130 µs from ~7 s on; bench/NOTES.md, eleventh
  // session), so its first run was the slowest of the three in every pass.
  throughput: smoke
    ? { seconds: 1, warmupSeconds: 0.2, concurrency: 4, repeats: 1 }
    : quick
      ? { seconds: 2, warmupSeconds: 1, concurrency: 64, repeats: 1 }
      : { seconds: 5, warmupSeconds: 10, concurrency: 64, repeats: 3 },
  /**
   * One unmeasured batch per side at each scenario's own concurrency before its measured rounds.
   * The warm-up above opens 4 connections per pool, so without it the first 100- or 1000-stream
   * round measured every side's pools growing (a new client connection and, for the proxies, a new
   * upstream one per stream) and set the scenario's p99 by itself (bench/NOTES.md, thirteenth
   * session). That first batch is reported apart (ScenarioResult.firstBatch), not dropped. Always
   * on; kept in the saved results to tell them from runs before it.
   */
  warmBatch: true,
  workers: smoke || quick ? [1] : [1, 2],
  /** PostgreSQL with the unlimited `elite` account, no Redis (not in a smoke run). */
  postgres: !smoke && !args['no-pg'],
  /** PostgreSQL + Redis with a rate-limited plan: the goal's path (also in a smoke run, skipped when unreachable). */
  redis: !args['no-pg'] && !args['no-redis'],
};
const outPath = args.out ?? (smoke ? join(mkdtempSync(join(tmpdir(), 'lumengate-bench-')), 'BENCHMARKS.md') : join(packageRoot(), 'docs/BENCHMARKS.md'));

/** What it sends to lumengate (`/api/v2/generate` and `/stream`): the same prompt, with our key. */
const generateBody = JSON.stringify({ model: 'gpt-5-nano', prompt: 'Say something.' });
const generateHeaders = (key: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${key}` });
/** The upstream's two scripts: the streaming scenarios', and the instant answer of the throughput runs. */
const streamingScript = { chunks: chunkTexts(config.chunks), delayMs: config.gapMs, firstChunkDelayMs: config.ttfcMs };
const instantScript = { chunks: ['Hello', ', world'], delayMs: 0 };

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const work = mkdtempSync(join(tmpdir(), 'lumengate-bench-'));
let agent = loadAgent();
let upstream = await startUpstream();
let floor = await startFloorProxy(upstream.origin);
/** nginx in front of the same upstream, or why it is not (missing, failed to start, --no-nginx). */
// (a cast, not an annotation: startNginx() assigns it, which TypeScript's narrowing cannot see)
let nginx = null as NginxFloor | null;
let nginxSkipped: string | undefined = args['no-nginx'] ? 'left out (--no-nginx)' : undefined;
await startNginx();
/** One-worker throughput runs with the server alone on one CPU, client and upstream on the others. */
const pinning = args['no-pin'] ? null : cpuPinning(cpus().length);
/** The closed-loop client: wrk when installed (and not --no-wrk), else the undici loop. */
const wrk = args['no-wrk'] ? null : wrkVersion();
const throughputClient = wrk
  ? `${wrk} (\`wrk -t1 -c${config.throughput.concurrency} --latency\`, a Lua script for the POST)`
  : `undici closed loop in the bench process (${args['no-wrk'] ? '--no-wrk' : 'wrk not installed'})`;

try {
  const results: BenchResults = {
    config,
    startedAt: new Date().toISOString(),
    openFileLimit: openFileLimit(),
    scenarios: [],
    throughput: [],
    profile: null,
    ledger: [],
    throughputClient,
    ...(wrk ? { throughputWindows: true } : {}),
    nginxVersion: nginx?.version,
  };

  // Streaming scenarios against one server; throughput and the profile each on servers of their own
  // (a sampling profiler costs CPU, so no goal figure is taken under it).
  const sqliteUrl = `sqlite:${join(work, 'bench.db')}`;
  const { key } = await seedAccount(sqliteUrl);
  let server = await startLumengate({ databaseUrl: sqliteUrl, upstreamOrigin: upstream.origin, workers: 1 });
  const targets = streamTargets(upstream, floor.origin, nginx?.origin, server.url, key);
  await upstream.setScript(streamingScript);
  // Warm every path (JIT, connection pools) before anything is measured; each scenario then opens
  // with a batch of its own concurrency (config.warmBatch).
  await Promise.all(Array.from({ length: 4 }, () => Promise.all(Object.values(targets).map((t) => runStream(agent, t)))));
  for (const sc of config.scenarios) {
    log(`${sc.streams} concurrent stream(s) x ${sc.rounds} round(s)`);
    results.scenarios.push(await streamingScenario(sc.streams, sc.rounds, targets, { through: server.pid, floor: floor.pid, nginx: nginx?.pid }));
  }
  await server.stop();
  results.ledger.push({ label: 'sqlite, 1 worker, streams', ...(await auditLedger(sqliteUrl)) });

  // Throughput on fresh processes: after a 1000-stream burst every process (the client's pool of
  // thousands of idle connections above all) served a closed loop with 25–40 % more server CPU per
  // request, measured on the bare proxy and on lumengate alike.
  await freshProcesses();
  await upstream.setScript(instantScript);
  results.floorThroughput = await floorThroughput('bare proxy', floor);
  if (nginx) results.nginxThroughput = await floorThroughput('nginx', nginx);
  server = await startLumengate({ databaseUrl: sqliteUrl, upstreamOrigin: upstream.origin, workers: 1 });
  results.throughput.push(await throughput('sqlite', 1, server, key, sqliteUrl));
  await server.stop();
  results.ledger.push({ label: 'sqlite, 1 worker', ...(await auditLedger(sqliteUrl)) });
  if (args.profile) results.profile = await profilePass(sqliteUrl, key);

  for (const workers of config.workers.filter((w) => w > 1)) {
    server = await startLumengate({ databaseUrl: sqliteUrl, upstreamOrigin: upstream.origin, workers });
    results.throughput.push(await throughput('sqlite', workers, server, key, sqliteUrl));
    await server.stop();
    results.ledger.push({ label: `sqlite, ${workers} workers`, ...(await auditLedger(sqliteUrl)) });
  }

  if (config.postgres) {
    const pgUrl = await createPgDatabase(args.pg);
    if (pgUrl) {
      try {
        const pgKey = (await seedAccount(pgUrl)).key;
        for (const workers of config.workers) {
          server = await startLumengate({ databaseUrl: pgUrl, upstreamOrigin: upstream.origin, workers });
          results.throughput.push(await throughput('postgres', workers, server, pgKey, pgUrl));
          await server.stop();
          results.ledger.push({ label: `postgres, ${workers} worker(s)`, ...(await auditLedger(pgUrl)) });
        }
        results.postgresVersion = await pgVersion(pgUrl);
      } finally {
        await dropPgDatabase(args.pg, pgUrl);
      }
    } else results.postgresSkipped = `PostgreSQL not reachable at ${args.pg}`;
  }

  if (config.redis) await redisPass(results);
  results.nginxSkipped = nginxSkipped;

  writeFileSync(outPath, withMarkedSections(renderReport(results), outPath));
  if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
  log(`wrote ${outPath}`);
} finally {
  await nginx?.stop();
  await floor.stop();
  await upstream.stop();
  await agent.close();
  rmSync(work, { recursive: true, force: true });
}

/** A new upstream, bare proxy and load client, so that no measurement inherits another's connections or heap. */
async function freshProcesses(): Promise<void> {
  await nginx?.stop();
  nginx = null;
  await floor.stop();
  await upstream.stop();
  await agent.close();
  agent = loadAgent();
  upstream = await startUpstream();
  floor = await startFloorProxy(upstream.origin);
  await startNginx();
}

/** Starts nginx in front of the current upstream, or notes why it could not (the bench carries on). */
async function startNginx(): Promise<void> {
  if (args['no-nginx'] || (nginxSkipped && !nginx && nginxSkipped.startsWith('nginx not found'))) return;
  const started = await startNginxFloor(upstream.origin);
  if ('skipped' in started) {
    nginxSkipped = started.skipped;
    log(`nginx floor skipped: ${started.skipped}`);
  } else nginx = started;
}

/**
 * The goal's non-streaming path: PostgreSQL + Redis, an account on `pro` (the plan with hourly and
 * daily limits, counted in Redis) whose limits an operator file (LUMENGATE_CONFIG, plans merge by
 * name) raises far above bench rates: still counted on every request, never refusing one. Every
 * request authenticates, is rate-limited in Redis, holds and settles. After each server, one more
 * request reads the day counter back from its X-RateLimit headers, so the report can show Redis
 * counted every generation the ledger holds. Then the round trips of that path are counted.
 */
async function redisPass(results: BenchResults): Promise<void> {
  const unreachable = await redisUnreachable(args.redis);
  if (unreachable) {
    results.redisSkipped = unreachable;
    log(`PostgreSQL + Redis skipped: ${unreachable}`);
    return;
  }
  const pgUrl = await createPgDatabase(args.pg, 'redis');
  if (!pgUrl) {
    results.redisSkipped = `PostgreSQL not reachable at ${args.pg}`;
    return;
  }
  const prefix = `lumengate_bench_${process.pid}_${Date.now()}`;
  const limits = { hour: 1_000_000_000, day: 2_000_000_000 };
  const configPath = join(work, 'bench-limits.json');
  writeFileSync(configPath, JSON.stringify({ plans: { pro: { requests_per_hour: limits.hour, requests_per_day: limits.day } } }));
  const env = { REDIS_URL: args.redis, LUMENGATE_REDIS_PREFIX: prefix, LUMENGATE_CONFIG: configPath };
  try {
    const { key } = await seedAccount(pgUrl, 'pro');
    for (const workers of config.workers) {
      const server = await startLumengate({ databaseUrl: pgUrl, upstreamOrigin: upstream.origin, workers, env });
      try {
        results.throughput.push({ ...(await throughput('postgres', workers, server, key, pgUrl)), redis: true, plan: 'pro' });
        const counted = await dayCounter(server.url, key, limits.day);
        await server.stop();
        results.ledger.push({ label: `postgres + redis, ${workers} worker(s), plan pro`, ...(await auditLedger(pgUrl)), rateLimitCounted: counted });
      } catch (err) {
        await server.stop();
        throw err;
      }
    }
    results.postgresVersion ??= await pgVersion(pgUrl);
  } finally {
    await dropPgDatabase(args.pg, pgUrl);
    await clearRedisPrefix(args.redis, prefix);
  }
  try {
    results.roundTrips = await countRoundTrips();
  } catch (err) {
    results.roundTripsSkipped = err instanceof Error ? err.message.split('\n')[0] : String(err);
  }
}

/** One more generation; its X-RateLimit day headers say how many requests Redis has counted (this one included). */
async function dayCounter(url: string, key: string, limitDay: number): Promise<number | null> {
  const res = await fetch(`${url}/api/v2/generate`, { method: 'POST', headers: generateHeaders(key), body: generateBody });
  await res.arrayBuffer();
  const remaining = res.headers.get('x-ratelimit-remaining-day');
  return res.ok && remaining !== null ? limitDay - Number(remaining) : null;
}

/**
 * `npm run bench:rtt` in a child process (bench/round-trips.ts: its own database and Redis prefix,
 * a few seconds), reduced to one row per request kind with round-trip-counter.ts's tripsOf.
 */
async function countRoundTrips(): Promise<RoundTripRow[]> {
  log('round trips per request (bench:rtt)');
  const json = join(work, 'rtt.json');
  const script = join(dirname(fileURLToPath(import.meta.url)), 'round-trips.js');
  await promisify(execFile)(process.execPath, [script, '--pg', args.pg, '--redis', args.redis, '--json', json, '--out', join(work, 'rtt.md')], { timeout: 120_000 });
  const counted = JSON.parse(readFileSync(json, 'utf8')) as Array<{ plan: string; scenario: string; ops: Op[] }>;
  return counted.map((c) => {
    const t = tripsOf(c.ops);
    return {
      scenario: c.scenario,
      plan: c.plan,
      pg: t.pg,
      pgClients: t.pgClients,
      redisCommands: t.redisCommands,
      redis: t.redis,
      before: t.upstream ? t.before : null,
      after: t.upstream ? t.after : null,
    };
  });
}

/** A separate `--cpu-prof` server through the same workloads (streams, then the closed loop), numbers discarded. */
async function profilePass(databaseUrl: string, key: string): Promise<ProfileSummary> {
  log('CPU profile pass');
  const profileDir = join(work, 'profile');
  mkdirSync(profileDir);
  const server = await startLumengate({ databaseUrl, upstreamOrigin: upstream.origin, workers: 1, profileDir });
  try {
    const through = streamTargets(upstream, floor.origin, undefined, server.url, key).through!;
    await upstream.setScript(streamingScript);
    for (const sc of config.scenarios) {
      for (let r = 0; r < sc.rounds; r++) await Promise.all(Array.from({ length: sc.streams }, () => runStream(agent, through)));
    }
    await upstream.setScript(instantScript);
    await runThroughput(agent, `${server.url}/api/v2/generate`, generateHeaders(key), generateBody, config.throughput.concurrency, config.throughput.seconds);
  } finally {
    await server.stop();
  }
  return summariseProfiles(readdirSync(profileDir).map((f) => join(profileDir, f)));
}

function chunkTexts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `tok${i} `);
}

function streamTargets(up: Upstream, floorOrigin: string, nginxOrigin: string | undefined, lumengateUrl: string, key: string): Partial<Record<Side, StreamTarget>> {
  const upstreamTarget = (side: Side, origin: string): StreamTarget => ({ side, url: `${origin}/v1/chat/completions`, expectedDeltas: config.chunks, headers: upstreamHeaders, body: upstreamBody });
  return {
    direct: upstreamTarget('direct', up.origin),
    floor: upstreamTarget('floor', floorOrigin),
    ...(nginxOrigin ? { nginx: upstreamTarget('nginx', nginxOrigin) } : {}),
    through: {
      side: 'through',
      url: `${lumengateUrl}/api/v2/generate/stream`,
      expectedDeltas: config.chunks,
      headers: generateHeaders(key),
      body: generateBody,
    },
  };
}

/**
 * `rounds` rounds of one batch of `streams` concurrent streams per side, the order reversed every
 * other round. Per side: the proxy's CPU and peak RSS (from /proc, its pid watched during its own
 * batches only), the content deltas delivered, and this process's own CPU (the load client's).
 */
async function streamingScenario(streams: number, rounds: number, targets: Partial<Record<Side, StreamTarget>>, pids: Partial<Record<Side, number>>): Promise<ScenarioResult> {
  const sides = (['direct', 'floor', 'nginx', 'through'] as const).filter((s) => targets[s]);
  const collected: Partial<Record<Side, StreamResult[]>> = {};
  const load: Partial<Record<Side, SideLoad>> = {};
  for (const side of sides) {
    collected[side] = [];
    load[side] = { seconds: 0, events: 0, clientCpuSeconds: 0, serverCpuSeconds: pids[side] ? 0 : null, peakRssBytes: pids[side] ? 0 : null };
  }
  const firstBatch: NonNullable<ScenarioResult['firstBatch']> = {};
  for (const side of sides) firstBatch[side] = summarise(await Promise.all(Array.from({ length: streams }, () => runStream(agent, targets[side]!))));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const pid = pids[side];
      const watch = pid ? watchProcess(pid) : null;
      const client0 = process.cpuUsage();
      const t0 = performance.now();
      const batch = await Promise.all(Array.from({ length: streams }, () => runStream(agent, targets[side]!)));
      const client = process.cpuUsage(client0);
      const l = load[side]!;
      l.seconds += (performance.now() - t0) / 1000;
      l.clientCpuSeconds += (client.user + client.system) / 1e6;
      l.events += batch.reduce((n, b) => n + b.deltas, 0);
      if (watch) {
        const w = watch.stop();
        l.serverCpuSeconds = (l.serverCpuSeconds ?? 0) + w.cpuSeconds;
        l.peakRssBytes = Math.max(l.peakRssBytes ?? 0, w.peakRssBytes);
      }
      collected[side]!.push(...batch);
    }
  }
  const through = load.through!;
  return {
    streams,
    rounds,
    direct: summarise(collected.direct!),
    floor: summarise(collected.floor!),
    ...(collected.nginx ? { nginx: summarise(collected.nginx), nginxPeakRssBytes: load.nginx!.peakRssBytes ?? 0 } : {}),
    through: summarise(collected.through!),
    server: { peakRssBytes: through.peakRssBytes ?? 0, cpuCores: (through.serverCpuSeconds ?? 0) / Math.max(0.001, through.seconds) },
    floorPeakRssBytes: load.floor!.peakRssBytes ?? 0,
    load,
    firstBatch,
  };
}

function summarise(rs: StreamResult[]) {
  const ok = rs.filter((r) => r.error === null);
  const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p95: percentile(xs, 95), p99: percentile(xs, 99), n: xs.length });
  const errors = rs.filter((r) => r.error !== null);
  return {
    streams: rs.length,
    errors: errors.length,
    firstError: errors[0]?.error ?? null,
    ttftMs: stats(ok.map((r) => r.ttftMs)),
    gapMs: stats(ok.flatMap((r) => r.gapsMs)),
    totalMs: stats(ok.map((r) => r.totalMs)),
  };
}

async function throughput(database: 'sqlite' | 'postgres', workers: number, server: Server, key: string, databaseUrl: string): Promise<ThroughputRun> {
  log(`non-streaming throughput: ${database}, ${workers} worker(s)`);
  // "On one core": one worker is pinned; N workers get every CPU (that is what they are for).
  const m = await measuredLoop(`${server.url}/api/v2/generate`, generateHeaders(key), generateBody, server.pid, workers === 1);
  // The requests wrk left in flight settle before the server is stopped and the ledger audited.
  const pending = await waitUntilSettled(databaseUrl);
  if (pending) log(`${pending} generation(s) still pending 15 s after the loop`);
  return { database, workers, concurrency: config.throughput.concurrency, ...m };
}

/** The same closed loop against a floor (the bare proxy, nginx): the most a proxy serves here with this client and upstream. */
async function floorThroughput(label: string, proxy: { origin: string; pid: number }): Promise<NonNullable<BenchResults['floorThroughput']>> {
  log(`non-streaming throughput: ${label}`);
  const m = await measuredLoop(`${proxy.origin}/v1/chat/completions`, upstreamHeaders, upstreamBody, proxy.pid, true);
  return {
    perSecond: m.perSecond,
    errors: m.errors,
    firstError: m.firstError,
    cpuCores: m.server.cpuCores,
    runs: m.runs,
    cpuMicrosPerRequest: m.cpuMicrosPerRequest,
    pinned: m.pinned,
    latencyMs: m.latencyMs,
    client: m.client,
  };
}

/**
 * Warm-up, then `repeats` measured runs with the serving process (pid, and its children) watched.
 * req/s and the latency percentiles are the median run's. With `pin` (and pinning available) the
 * server runs on CPU 0 and the client (wrk, or this process) and the upstream on the other CPUs,
 * restored after.
 *
 * With wrk the warm-up and the runs are one wrk process: the runs are back-to-back windows of it,
 * their requests counted where they arrive (the upstream), so the same connections carry the whole
 * loop. A wrk started per run closed its connections with ~64 requests in flight and opened 64 new
 * ones before each run: every such switch sent the server's hot functions back to the interpreter
 * (V8's deoptimizations on the client-abort path and on new connections' objects, each run again)
 * and the first second of each run paid for compiling them anew, a transient of the bench's making
 * (bench/NOTES.md, eleventh session). The latency percentiles are then wrk's over the whole run.
 */
async function measuredLoop(url: string, headers: Record<string, string>, body: string, pid: number, pin: boolean) {
  const { seconds, warmupSeconds, repeats, concurrency } = config.throughput;
  const pinned = pin && pinning !== null;
  if (pinned) {
    pinning.pin(pid, pinning.serverCpus, true);
    pinning.pin(process.pid, pinning.otherCpus);
    pinning.pin(upstream.pid, pinning.otherCpus);
  }
  const clientCpus = pinned ? pinning.otherCpus : undefined;
  try {
    const runs: Array<{ perSecond: number; requests: number; seconds: number }> = [];
    let peakRssBytes = 0;
    let cpuSeconds = 0;
    /** PostgreSQL's and Redis's CPU during the runs (every such process on the machine; none serves anything else during a bench). */
    const stores = { postgres: 0, redis: 0 };
    /** One measured run: what the upstream received and the server (and the stores) spent while `load` lasts. */
    const window = async (load: () => Promise<unknown>) => {
      const watch = watchProcess(pid);
      const before = await upstream.count();
      const stores0 = storeCpu(STORE_PROCESSES);
      const t0 = performance.now();
      await load();
      const elapsed = (performance.now() - t0) / 1000;
      const spent = storeCpuSince(stores0, storeCpu(STORE_PROCESSES));
      stores.postgres += spent.postgres ?? 0;
      stores.redis += spent.redis ?? 0;
      const requests = (await upstream.count()) - before;
      const w = watch.stop();
      peakRssBytes = Math.max(peakRssBytes, w.peakRssBytes);
      cpuSeconds += w.cpuSeconds;
      runs.push({ perSecond: requests / elapsed, requests, seconds: elapsed });
    };
    let whole: { errors: number; firstError: string | null; latencyMs: { p50: number; p99: number } };
    if (wrk) {
      // wrk runs one second past the last window, so that no window sees it stop.
      const loop = runWrk(url, headers, body, { concurrency, seconds: Math.ceil(warmupSeconds + repeats * seconds) + 1, cpus: clientCpus });
      const failed = loop.then(
        () => new Error('wrk ended before the measured runs did'),
        (err: unknown) => err,
      );
      const pause = (s: number) => Promise.race([sleep(s * 1000), failed.then((err) => Promise.reject(err as Error))]);
      await pause(warmupSeconds);
      for (let i = 0; i < repeats; i++) await window(() => pause(seconds));
      whole = await loop;
    } else {
      const undiciRuns: ThroughputResult[] = [];
      await runThroughput(agent, url, headers, body, concurrency, warmupSeconds);
      for (let i = 0; i < repeats; i++) await window(async () => undiciRuns.push(await runThroughput(agent, url, headers, body, concurrency, seconds)));
      whole = {
        errors: undiciRuns.reduce((n, r) => n + r.errors, 0),
        firstError: undiciRuns.find((r) => r.firstError)?.firstError ?? null,
        latencyMs: {
          p50: percentile(
            undiciRuns.map((r) => percentile(r.latencyMs, 50)),
            50,
          ),
          p99: percentile(
            undiciRuns.map((r) => percentile(r.latencyMs, 99)),
            50,
          ),
        },
      };
    }
    const perRun = runs.map((r) => r.perSecond);
    const requests = runs.reduce((n, r) => n + r.requests, 0);
    const elapsed = runs.reduce((n, r) => n + r.seconds, 0);
    return {
      perSecond: percentile(perRun, 50),
      runs: perRun,
      pinned,
      client: wrk ? ('wrk' as const) : ('undici' as const),
      seconds: elapsed,
      requests,
      errors: whole.errors,
      firstError: whole.firstError,
      latencyMs: whole.latencyMs,
      // Server CPU per answered request: less sensitive to the machine's noise than req/s.
      cpuMicrosPerRequest: requests ? (cpuSeconds * 1e6) / requests : NaN,
      storesMicrosPerRequest: requests ? { postgres: (stores.postgres * 1e6) / requests, redis: (stores.redis * 1e6) / requests } : undefined,
      server: { peakRssBytes, cpuCores: cpuSeconds / Math.max(0.001, elapsed) },
    };
  } finally {
    if (pinned) {
      for (const [p, children] of [
        [process.pid, false],
        [upstream.pid, false],
        [pid, true],
      ] as const) {
        try {
          pinning.pin(p, pinning.allCpus, children);
        } catch {
          /* the server may have exited */
        }
      }
    }
  }
}

async function createPgDatabase(adminUrl: string, suffix = ''): Promise<string | null> {
  const name = `lumengate_bench_${process.pid}${suffix ? `_${suffix}` : ''}`;
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    log(`PostgreSQL skipped: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  } finally {
    await client.end().catch(() => {});
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function dropPgDatabase(adminUrl: string, dbUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${new URL(dbUrl).pathname.slice(1)} WITH (FORCE)`);
  await client.end();
}

async function pgVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const r = await client.query<{ server_version: string }>('SHOW server_version');
  await client.end();
  return r.rows[0]!.server_version;
}

export type { ProfileSummary };
