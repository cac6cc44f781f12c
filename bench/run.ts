// `npm run bench`: fake upstream, lumengate and the load client in three processes. Streams go
// directly to the fake upstream and through lumengate, alternating round by round so machine noise
// hits both; the goal figures are "through minus direct". Writes docs/BENCHMARKS.md.
// --smoke: tiny numbers, report to a temp file (CI proves the bench works; it never times anything).
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { packageRoot } from '../src/config/env.js';
import { loadAgent, percentile, runStream, runThroughput, type Side, type StreamResult, type StreamTarget, type ThroughputResult } from './load.js';
import { cpuPinning, openFileLimit, watchProcess } from './proc.js';
import { auditLedger, seedAccount, startFloorProxy, startLumengate, startUpstream, type Upstream } from './processes.js';
import { summariseProfiles, type ProfileSummary } from './profile.js';
import { renderReport, type BenchResults, type ScenarioResult, type ThroughputRun } from './report.js';

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    json: { type: 'string' },
    profile: { type: 'boolean', default: false },
    chunks: { type: 'string' },
    'gap-ms': { type: 'string' },
    'ttfc-ms': { type: 'string' },
    pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'no-pg': { type: 'boolean', default: false },
    /** Leave every process free to run on every CPU during the one-worker throughput runs. */
    'no-pin': { type: 'boolean', default: false },
    /** Re-render the report from a saved --json file (e.g. after editing bench/NOTES.md). */
    from: { type: 'string' },
  },
});
if (args.from) {
  const out = args.out ?? join(packageRoot(), 'docs/BENCHMARKS.md');
  writeFileSync(out, withLocalSection(renderReport(JSON.parse(readFileSync(args.from, 'utf8')) as BenchResults), out));
  process.exit(0);
}

/** Keeps the local-model section that `npm run bench:local` maintains in the same file. */
function withLocalSection(report: string, path: string): string {
  const previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const localSection = /<!-- local-model:start -->[\s\S]*?<!-- local-model:end -->\n?/.exec(previous)?.[0];
  return report + (localSection ? `\n${localSection}` : '');
}

const smoke = args.smoke;
const config = {
  chunks: Number(args.chunks ?? (smoke ? 3 : 50)),
  gapMs: Number(args['gap-ms'] ?? (smoke ? 5 : 20)),
  ttfcMs: Number(args['ttfc-ms'] ?? (smoke ? 5 : 20)),
  /** Concurrent streams and alternating rounds (each round: one direct batch and one through batch). */
  scenarios: smoke
    ? [{ streams: 2, rounds: 1 }]
    : [
        { streams: 1, rounds: 20 },
        { streams: 100, rounds: 4 },
        { streams: 1000, rounds: 3 },
      ],
  // Several measured runs per figure (the median is reported, with the range): one run on this VM
  // moves by ±20 %.
  throughput: smoke ? { seconds: 1, warmupSeconds: 0.2, concurrency: 4, repeats: 1 } : { seconds: 5, warmupSeconds: 2, concurrency: 64, repeats: 3 },
  workers: smoke ? [1] : [1, 2],
  postgres: !smoke && !args['no-pg'],
};
const outPath = args.out ?? (smoke ? join(mkdtempSync(join(tmpdir(), 'lumengate-bench-')), 'BENCHMARKS.md') : join(packageRoot(), 'docs/BENCHMARKS.md'));

/** What the load client sends to the fake upstream, directly or through the bare proxy. */
const upstreamBody = JSON.stringify({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'Say something.' }], stream: true, stream_options: { include_usage: true } });
const upstreamHeaders = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
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
/** One-worker throughput runs with the server alone on one CPU, client and upstream on the others. */
const pinning = args['no-pin'] ? null : cpuPinning(cpus().length);

try {
  const results: BenchResults = { config, startedAt: new Date().toISOString(), openFileLimit: openFileLimit(), scenarios: [], throughput: [], profile: null, ledger: [] };

  // Streaming scenarios against one server; throughput and the profile each on servers of their own
  // (a sampling profiler costs CPU, so no goal figure is taken under it).
  const sqliteUrl = `sqlite:${join(work, 'bench.db')}`;
  const { key } = await seedAccount(sqliteUrl);
  let server = await startLumengate({ databaseUrl: sqliteUrl, upstreamOrigin: upstream.origin, workers: 1 });
  const targets = streamTargets(upstream, floor.origin, server.url, key);
  await upstream.setScript(streamingScript);
  // Warm both paths (JIT, connection pools) before anything is measured.
  await Promise.all(Array.from({ length: 4 }, () => Promise.all([runStream(agent, targets.direct), runStream(agent, targets.floor), runStream(agent, targets.through)])));
  for (const sc of config.scenarios) {
    log(`${sc.streams} concurrent stream(s) x ${sc.rounds} round(s)`);
    results.scenarios.push(await streamingScenario(sc.streams, sc.rounds, targets, { through: server.pid, floor: floor.pid }));
  }
  await server.stop();
  results.ledger.push({ label: 'sqlite, 1 worker, streams', ...(await auditLedger(sqliteUrl)) });

  // Throughput on fresh processes: after a 1000-stream burst every process (the client's pool of
  // thousands of idle connections above all) served a closed loop with 25–40 % more server CPU per
  // request, measured on the bare proxy and on lumengate alike.
  await freshProcesses();
  await upstream.setScript(instantScript);
  results.floorThroughput = await floorThroughput(floor);
  server = await startLumengate({ databaseUrl: sqliteUrl, upstreamOrigin: upstream.origin, workers: 1 });
  results.throughput.push(await throughput('sqlite', 1, server.url, key, server.pid));
  await server.stop();
  results.ledger.push({ label: 'sqlite, 1 worker', ...(await auditLedger(sqliteUrl)) });
  if (args.profile) results.profile = await profilePass(sqliteUrl, key);

  for (const workers of config.workers.filter((w) => w > 1)) {
    server = await startLumengate({ databaseUrl: sqliteUrl, upstreamOrigin: upstream.origin, workers });
    results.throughput.push(await throughput('sqlite', workers, server.url, key, server.pid));
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
          results.throughput.push(await throughput('postgres', workers, server.url, pgKey, server.pid));
          await server.stop();
          results.ledger.push({ label: `postgres, ${workers} worker(s)`, ...(await auditLedger(pgUrl)) });
        }
        results.postgresVersion = await pgVersion(pgUrl);
      } finally {
        await dropPgDatabase(args.pg, pgUrl);
      }
    } else results.postgresSkipped = `PostgreSQL not reachable at ${args.pg}`;
  }

  writeFileSync(outPath, withLocalSection(renderReport(results), outPath));
  if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
  log(`wrote ${outPath}`);
} finally {
  await floor.stop();
  await upstream.stop();
  await agent.close();
  rmSync(work, { recursive: true, force: true });
}

/** A new upstream, bare proxy and load client, so that no measurement inherits another's connections or heap. */
async function freshProcesses(): Promise<void> {
  await floor.stop();
  await upstream.stop();
  await agent.close();
  agent = loadAgent();
  upstream = await startUpstream();
  floor = await startFloorProxy(upstream.origin);
}

/** A separate `--cpu-prof` server through the same workloads (streams, then the closed loop), numbers discarded. */
async function profilePass(databaseUrl: string, key: string): Promise<ProfileSummary> {
  log('CPU profile pass');
  const profileDir = join(work, 'profile');
  mkdirSync(profileDir);
  const server = await startLumengate({ databaseUrl, upstreamOrigin: upstream.origin, workers: 1, profileDir });
  try {
    const through = streamTargets(upstream, floor.origin, server.url, key).through;
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

function streamTargets(up: Upstream, floorOrigin: string, lumengateUrl: string, key: string): Record<Side, StreamTarget> {
  return {
    direct: { side: 'direct', url: `${up.origin}/v1/chat/completions`, expectedDeltas: config.chunks, headers: upstreamHeaders, body: upstreamBody },
    floor: { side: 'floor', url: `${floorOrigin}/v1/chat/completions`, expectedDeltas: config.chunks, headers: upstreamHeaders, body: upstreamBody },
    through: {
      side: 'through',
      url: `${lumengateUrl}/api/v2/generate/stream`,
      expectedDeltas: config.chunks,
      headers: generateHeaders(key),
      body: generateBody,
    },
  };
}

async function streamingScenario(streams: number, rounds: number, targets: Record<Side, StreamTarget>, pids: { through: number; floor: number }): Promise<ScenarioResult> {
  const collected: Record<Side, StreamResult[]> = { direct: [], floor: [], through: [] };
  let peakRssBytes = 0;
  let cpuSeconds = 0;
  let throughSeconds = 0;
  let floorPeakRssBytes = 0;
  for (let r = 0; r < rounds; r++) {
    const order: Side[] = r % 2 === 0 ? ['direct', 'floor', 'through'] : ['through', 'floor', 'direct'];
    for (const side of order) {
      const watch = side === 'through' ? watchProcess(pids.through) : null;
      const floorWatch = side === 'floor' ? watchProcess(pids.floor) : null;
      const t0 = Date.now();
      const batch = await Promise.all(Array.from({ length: streams }, () => runStream(agent, targets[side])));
      collected[side].push(...batch);
      if (floorWatch) floorPeakRssBytes = Math.max(floorPeakRssBytes, floorWatch.stop().peakRssBytes);
      if (watch) {
        const w = watch.stop();
        peakRssBytes = Math.max(peakRssBytes, w.peakRssBytes);
        cpuSeconds += w.cpuSeconds;
        throughSeconds += (Date.now() - t0) / 1000;
      }
    }
  }
  return {
    streams,
    rounds,
    direct: summarise(collected.direct),
    floor: summarise(collected.floor),
    through: summarise(collected.through),
    server: { peakRssBytes, cpuCores: cpuSeconds / Math.max(0.001, throughSeconds) },
    floorPeakRssBytes,
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

async function throughput(database: 'sqlite' | 'postgres', workers: number, url: string, key: string, pid: number): Promise<ThroughputRun> {
  log(`non-streaming throughput: ${database}, ${workers} worker(s)`);
  // "On one core": one worker is pinned; N workers get every CPU (that is what they are for).
  const m = await measuredLoop(`${url}/api/v2/generate`, generateHeaders(key), generateBody, pid, workers === 1);
  return { database, workers, concurrency: config.throughput.concurrency, ...m };
}

/** The same closed loop against the bare proxy: the most any Node gateway serves here with this client and upstream. */
async function floorThroughput(proxy: { origin: string; pid: number }): Promise<NonNullable<BenchResults['floorThroughput']>> {
  log('non-streaming throughput: bare proxy');
  const m = await measuredLoop(`${proxy.origin}/v1/chat/completions`, upstreamHeaders, upstreamBody, proxy.pid, true);
  return { perSecond: m.perSecond, errors: m.errors, cpuCores: m.server.cpuCores, runs: m.runs, cpuMicrosPerRequest: m.cpuMicrosPerRequest, pinned: m.pinned };
}

/**
 * Warm-up, then `repeats` closed-loop runs with the serving process (pid) watched. req/s is the
 * median run; latency percentiles pool every run. With `pin` (and pinning available) the server
 * runs on CPU 0 and the client (this process) and the upstream on the other CPUs, restored after.
 */
async function measuredLoop(url: string, headers: Record<string, string>, body: string, pid: number, pin: boolean) {
  const { concurrency, seconds, warmupSeconds, repeats } = config.throughput;
  const pinned = pin && pinning !== null;
  if (pinned) {
    pinning.pin(pid, pinning.serverCpus);
    pinning.pin(process.pid, pinning.otherCpus);
    pinning.pin(upstream.pid, pinning.otherCpus);
  }
  try {
    await runThroughput(agent, url, headers, body, concurrency, warmupSeconds);
    const runs: ThroughputResult[] = [];
    let peakRssBytes = 0;
    let cpuSeconds = 0;
    for (let i = 0; i < repeats; i++) {
      const watch = watchProcess(pid);
      runs.push(await runThroughput(agent, url, headers, body, concurrency, seconds));
      const w = watch.stop();
      peakRssBytes = Math.max(peakRssBytes, w.peakRssBytes);
      cpuSeconds += w.cpuSeconds;
    }
    const perRun = runs.map((r) => r.perSecond);
    const latency = runs.flatMap((r) => r.latencyMs);
    const requests = runs.reduce((n, r) => n + r.requests, 0);
    const elapsed = runs.reduce((n, r) => n + r.seconds, 0);
    return {
      perSecond: percentile(perRun, 50),
      runs: perRun,
      pinned,
      seconds: elapsed,
      requests,
      errors: runs.reduce((n, r) => n + r.errors, 0),
      firstError: runs.find((r) => r.firstError)?.firstError ?? null,
      latencyMs: { p50: percentile(latency, 50), p99: percentile(latency, 99) },
      // Server CPU per answered request: less sensitive to the machine's noise than req/s.
      cpuMicrosPerRequest: requests ? (cpuSeconds * 1e6) / requests : NaN,
      server: { peakRssBytes, cpuCores: cpuSeconds / Math.max(0.001, elapsed) },
    };
  } finally {
    if (pinned) {
      for (const p of [process.pid, upstream.pid, pid]) {
        try {
          pinning.pin(p, pinning.allCpus);
        } catch {
          /* the server may have exited */
        }
      }
    }
  }
}

async function createPgDatabase(adminUrl: string): Promise<string | null> {
  const name = `lumengate_bench_${process.pid}`;
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
