// Renders the bench results as docs/BENCHMARKS.md: machine, versions, numbers, goals, and the
// hand-written analysis kept in bench/NOTES.md (so re-running the bench never loses it).
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/config/env.js';
import type { Side } from './load.js';
import type { ProfileSummary } from './profile.js';

interface Stats {
  p50: number;
  p95: number;
  p99: number;
  n: number;
}
interface SideSummary {
  streams: number;
  errors: number;
  firstError: string | null;
  ttftMs: Stats;
  gapMs: Stats;
  totalMs: Stats;
}
/** One side's batches of a scenario: wall time, events delivered, the proxy's and the client's CPU. */
export interface SideLoad {
  seconds: number;
  /** Content deltas delivered in this side's batches. */
  events: number;
  /** The load client's (this process's) CPU time during these batches. */
  clientCpuSeconds: number;
  /** The proxy's CPU time during its own batches (null for direct: nothing in between). */
  serverCpuSeconds: number | null;
  peakRssBytes: number | null;
}
/**
 * floor: the bare pass-through proxy (floor-proxy.ts); nginx: nginx.ts. Both are absent in results
 * saved before they existed (nginx also when it is not installed), as is `load`.
 */
export interface ScenarioResult {
  streams: number;
  rounds: number;
  direct: SideSummary;
  floor?: SideSummary;
  nginx?: SideSummary;
  through: SideSummary;
  server: { peakRssBytes: number; cpuCores: number };
  floorPeakRssBytes?: number;
  nginxPeakRssBytes?: number;
  load?: Partial<Record<Side, SideLoad>>;
  /**
   * The unmeasured batch per side that opened the scenario (config.warmBatch): connection pools
   * still growing. Absent in results saved before it existed (their first round was measured).
   */
  firstBatch?: Partial<Record<Side, SideSummary>>;
}
export interface ThroughputRun {
  database: 'sqlite' | 'postgres';
  workers: number;
  concurrency: number;
  seconds: number;
  requests: number;
  errors: number;
  firstError: string | null;
  /** The median of `runs` (req/s of each measured run); results saved before repeats had one run. */
  perSecond: number;
  runs?: number[];
  latencyMs: { p50: number; p99: number };
  server: { peakRssBytes: number; cpuCores: number };
  /** Server CPU time per answered request, microseconds. */
  cpuMicrosPerRequest?: number;
  /** PostgreSQL's (every backend) and Redis's CPU time per answered request during the same runs, microseconds. */
  storesMicrosPerRequest?: { postgres: number; redis: number };
  /** The server ran alone on one CPU (taskset), client and upstream on the others. */
  pinned?: boolean;
  /** PostgreSQL + Redis: REDIS_URL set and the account on a plan rate-limited in Redis. */
  redis?: boolean;
  plan?: string;
  /** The closed-loop client: wrk, or the undici loop (results saved before wrk: undici). */
  client?: 'wrk' | 'undici';
}
/** A floor's closed loop (bare proxy, nginx): same fields as a ThroughputRun's. */
export type FloorThroughput = Pick<ThroughputRun, 'perSecond' | 'errors' | 'runs' | 'cpuMicrosPerRequest' | 'pinned' | 'client'> &
  Partial<Pick<ThroughputRun, 'firstError' | 'latencyMs'>> & { cpuCores: number };
/** Round trips of one request kind, counted by bench/round-trips.ts (`npm run bench:rtt`). */
export interface RoundTripRow {
  scenario: string;
  plan: string;
  pg: number;
  pgClients: number;
  redisCommands: number;
  redis: number;
  /** Round trips before / after the upstream request leaves (null: no upstream call). */
  before: number | null;
  after: number | null;
}
export interface BenchResults {
  config: {
    chunks: number;
    gapMs: number;
    ttfcMs: number;
    scenarios: Array<{ streams: number; rounds: number }>;
    throughput: { seconds: number; warmupSeconds: number; concurrency: number; repeats?: number };
    workers: number[];
    postgres: boolean;
    redis?: boolean;
    mode?: string;
    /** Each scenario opened with one unmeasured batch per side at its concurrency (ScenarioResult.firstBatch). */
    warmBatch?: boolean;
  };
  startedAt: string;
  openFileLimit: number | null;
  scenarios: ScenarioResult[];
  throughput: ThroughputRun[];
  /** Non-streaming closed loop through the bare proxy (no auth, no database). */
  floorThroughput?: FloorThroughput;
  /** The same through nginx; nginxSkipped says why not when absent. */
  nginxThroughput?: FloorThroughput;
  nginxVersion?: string;
  nginxSkipped?: string;
  /** Which closed-loop client took the throughput figures. */
  throughputClient?: string;
  /** The measured runs were windows of one wrk run (requests counted at the upstream), not a wrk per run. */
  throughputWindows?: boolean;
  profile: ProfileSummary | null;
  /** rateLimitCounted: the Redis day counter read back after a rate-limited run (it should equal generations). */
  ledger: Array<{ label: string; mismatches: number; pending: number; generations: number; rateLimitCounted?: number | null }>;
  postgresVersion?: string;
  postgresSkipped?: string;
  redisSkipped?: string;
  roundTrips?: RoundTripRow[];
  roundTripsSkipped?: string;
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : '–');
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;

function version(pkg: string): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

/** "2,150 req/s (1,980–2,300)": the median run, and the range when there were several. */
function reqPerSecond(t: Pick<ThroughputRun, 'perSecond' | 'runs'>): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const range = t.runs && t.runs.length > 1 ? ` (${n(Math.min(...t.runs))}–${n(Math.max(...t.runs))})` : '';
  return `${n(t.perSecond)} req/s${range}`;
}

const micros = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${x.toFixed(0)} µs` : '–');

interface Goal {
  goal: string;
  measured: string;
  met: boolean | null;
  margin: string;
  /** The same figure for the bare Node proxy and for nginx in the same run (blank when not measured). */
  floor?: string;
  nginx?: string;
}

/** Server CPU per streamed event, pooled over every scenario's batches of that side (µs), or undefined. */
export function cpuPerEvent(r: BenchResults, side: Side): number | undefined {
  let cpu = 0;
  let events = 0;
  for (const s of r.scenarios) {
    const l = s.load?.[side];
    if (!l || l.serverCpuSeconds === null) continue;
    cpu += l.serverCpuSeconds;
    events += l.events;
  }
  return events ? (cpu * 1e6) / events : undefined;
}

export function goals(r: BenchResults): Goal[] {
  const sc = (n: number) => r.scenarios.find((s) => s.streams === n);
  const out: Goal[] = [];
  const one = sc(1),
    hundred = sc(100),
    thousand = sc(1000);
  const shown = (x: number | undefined | null, fmt: (x: number) => string, unit: string) => (x !== undefined && x !== null && Number.isFinite(x) ? `${fmt(x)}${unit}` : undefined);
  /** A goal "value ≤ limit", with the floors' values for the same figure beside it. */
  const atMost = (goal: string, value: number | undefined, limit: number, unit: string, fmt: (x: number) => string, floors: { floor?: number; nginx?: number } = {}) => {
    const floor = shown(floors.floor, fmt, unit);
    const nginx = shown(floors.nginx, fmt, unit);
    if (value === undefined || !Number.isFinite(value)) {
      out.push({ goal, measured: 'not run', met: null, margin: '', floor, nginx });
      return;
    }
    const met = value <= limit;
    out.push({ goal, measured: `${fmt(value)}${unit}`, met, margin: met ? `${fmt(limit - value)}${unit} under` : `over by ${fmt(value - limit)}${unit}`, floor, nginx });
  };
  /** A goal "req/s ≥ limit" on a throughput run, with the floors' closed loops beside it. */
  const atLeastPerSecond = (goal: string, t: ThroughputRun | undefined, limit: number, notRun: string) => {
    const floors = { floor: r.floorThroughput ? reqPerSecond(r.floorThroughput) : undefined, nginx: r.nginxThroughput ? reqPerSecond(r.nginxThroughput) : undefined };
    if (!t) {
      out.push({ goal, measured: notRun, met: null, margin: '', ...floors });
      return;
    }
    const x = t.perSecond;
    const met = x >= limit;
    const n = (v: number) => Math.round(v).toLocaleString('en-US');
    out.push({ goal, measured: reqPerSecond(t), met, margin: met ? `${n(x - limit)} req/s over` : `short by ${n(limit - x)} req/s (${((100 * (limit - x)) / limit).toFixed(0)} %)`, ...floors });
  };
  // What a side adds over direct for the same metric (undefined when not measured).
  const added = (s: ScenarioResult | undefined, side: 'floor' | 'nginx' | 'through', pick: (x: SideSummary) => number) => {
    const x = s?.[side];
    return x && s ? pick(x) - pick(s.direct) : undefined;
  };
  const addedGoal = (goal: string, s: ScenarioResult | undefined, limit: number, pick: (x: SideSummary) => number) =>
    atMost(goal, added(s, 'through', pick), limit, ' ms', ms, { floor: added(s, 'floor', pick), nginx: added(s, 'nginx', pick) });

  addedGoal('added TTFT p50, 1 stream ≤ 1 ms', one, 1, (x) => x.ttftMs.p50);
  addedGoal('added TTFT p99, 100 streams ≤ 10 ms', hundred, 10, (x) => x.ttftMs.p99);

  // CPU per streamed event: relative to the bare proxy measured in the same run.
  const perEvent = { through: cpuPerEvent(r, 'through'), floor: cpuPerEvent(r, 'floor'), nginx: cpuPerEvent(r, 'nginx') };
  const perEventGoal = 'server CPU per streamed event ≤ 1.2× the bare proxy (all streaming batches)';
  const us = (x: number) => x.toFixed(1);
  if (perEvent.through === undefined || perEvent.floor === undefined)
    out.push({ goal: perEventGoal, measured: 'not run', met: null, margin: '', floor: shown(perEvent.floor, us, ' µs'), nginx: shown(perEvent.nginx, us, ' µs') });
  else {
    const ratio = perEvent.through / perEvent.floor;
    out.push({
      goal: perEventGoal,
      measured: `${us(perEvent.through)} µs (${ratio.toFixed(2)}×)`,
      met: ratio <= 1.2,
      margin: ratio <= 1.2 ? `${(1.2 - ratio).toFixed(2)}× under` : `over by ${(ratio - 1.2).toFixed(2)}×`,
      floor: `${us(perEvent.floor)} µs`,
      nginx: shown(perEvent.nginx, (x) => `${us(x)} µs (${(x / perEvent.floor!).toFixed(2)}×)`, ''),
    });
  }

  if (thousand) {
    // The opening batch (config.warmBatch) is a burst too: its errors count.
    const errorsOf = (side: Side) => (thousand[side]?.errors ?? 0) + (thousand.firstBatch?.[side]?.errors ?? 0);
    const errors = errorsOf('through') + errorsOf('direct');
    out.push({
      goal: '1000-stream burst: 0 errors',
      measured: `${errorsOf('through')} through, ${errorsOf('direct')} direct`,
      met: errors === 0,
      margin: errors === 0 ? '' : `${errors} errors`,
      floor: thousand.floor ? `${errorsOf('floor')} errors` : undefined,
      nginx: thousand.nginx ? `${errorsOf('nginx')} errors` : undefined,
    });
  } else out.push({ goal: '1000-stream burst: 0 errors', measured: 'not run', met: null, margin: '' });
  addedGoal('added TTFT p99, 1000 streams ≤ 300 ms', thousand, 300, (x) => x.ttftMs.p99);
  const gapRatio = (side: 'floor' | 'nginx' | 'through') => {
    const x = thousand?.[side];
    return x && thousand ? x.gapMs.p99 / thousand.direct.gapMs.p99 : undefined;
  };
  atMost('gap p99 through / direct, 1000 streams ≤ 1.2×', gapRatio('through'), 1.2, '×', (x) => x.toFixed(2), { floor: gapRatio('floor'), nginx: gapRatio('nginx') });
  const toMb = (b: number | undefined) => (b ? b / 1024 / 1024 : undefined);
  atMost('server RSS, 1000 open streams ≤ 150 MB', toMb(thousand?.server.peakRssBytes), 150, ' MB', (x) => x.toFixed(0), {
    floor: toMb(thousand?.floorPeakRssBytes),
    nginx: toMb(thousand?.nginxPeakRssBytes),
  });

  const run = (db: 'sqlite' | 'postgres', redis: boolean) => r.throughput.find((t) => t.database === db && !!t.redis === redis && t.workers === 1);
  atLeastPerSecond('non-streaming ≥ 3,000 req/s, 1 core, SQLite', run('sqlite', false), 3000, 'not run');
  const pgRedis = run('postgres', true);
  const pgRedisNotRun = r.redisSkipped ?? r.postgresSkipped ?? 'not run';
  atLeastPerSecond('non-streaming ≥ 1,500 req/s, 1 core, PostgreSQL + Redis (rate-limited plan)', pgRedis, 1500, pgRedisNotRun);
  atMost('server CPU per request ≤ 500 µs, 1 core, PostgreSQL + Redis', pgRedis?.cpuMicrosPerRequest, 500, ' µs', (x) => x.toFixed(0), {
    floor: r.floorThroughput?.cpuMicrosPerRequest,
    nginx: r.nginxThroughput?.cpuMicrosPerRequest,
  });
  if (!pgRedis) out[out.length - 1]!.measured = pgRedisNotRun;
  const pg1 = run('postgres', false);
  out.push({
    goal: 'non-streaming, 1 core, PostgreSQL without Redis, unlimited plan (reported)',
    measured: pg1 ? reqPerSecond(pg1) : (r.postgresSkipped ?? 'not run'),
    met: null,
    margin: '',
    floor: r.floorThroughput ? reqPerSecond(r.floorThroughput) : undefined,
    nginx: r.nginxThroughput ? reqPerSecond(r.nginxThroughput) : undefined,
  });
  return out;
}

const pct = (x: number) => `${(100 * x).toFixed(0)} %`;

export function renderReport(r: BenchResults): string {
  const c = r.config;
  const lines: string[] = [];
  const cpu = cpus();
  lines.push('# Benchmarks', '');
  lines.push(
    'Generated by `npm run bench` (bench/run.ts); the analysis at the end is bench/NOTES.md. Separate processes on one machine:',
    "the fake upstream (the test suite's byte-exact OpenAI streaming fake), `lumengate serve` (LOG_LEVEL=warn), the load",
    'client, and two floors in front of the same upstream: a bare Node pass-through proxy (bench/floor-proxy.ts) and nginx (bench/nginx.ts). Every figure for lumengate is compared with the same streams sent **directly** to the fake upstream in the',
    'same run, alternating round by round; "added" = through lumengate (or a floor) minus direct, at the same percentile.',
    '',
  );
  if (c.mode && c.mode !== 'full') lines.push(`**A ${c.mode} run** (\`--${c.mode}\`): fewer rounds and shorter loops than the goal figures need; read it as a check that the bench works.`, '');
  lines.push('## Machine and versions', '');
  lines.push(`- ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${type()} ${release()}`);
  lines.push(`- Node ${process.version}; open-file limit ${r.openFileLimit ?? '?'}; run started ${r.startedAt}`);
  lines.push(
    `- lumengate ${JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version}, fastify ${version('fastify')}, undici ${version('undici')}, eventsource-parser ${version('eventsource-parser')}, better-sqlite3 ${version('better-sqlite3')}, pg ${version('pg')}${r.postgresVersion ? ` (PostgreSQL ${r.postgresVersion})` : ''}`,
  );
  lines.push(
    `- Floors: bare Node proxy (node:http + undici); ${r.nginxVersion ? `nginx ${r.nginxVersion} (one worker, no buffering, upstream keep-alive 64)` : `nginx: ${r.nginxSkipped ?? 'not run'}`}`,
  );
  if (r.throughputClient) lines.push(`- Non-streaming client: ${r.throughputClient}`);
  lines.push(`- Upstream script: ${c.chunks} content chunks, ${c.ttfcMs} ms to the first, ${c.gapMs} ms between chunks`, '');

  lines.push(
    '## Goals',
    '',
    "The last two columns are the same figure, measured in the same run, for the two floors: a bare pass-through Node proxy (bench/floor-proxy.ts: node:http + undici, no auth, no database, no parsing), the least a Node gateway adds on this machine, and nginx as a pass-through proxy (bench/nginx.ts), the least a C proxy adds. Non-streaming rows give the floors' own closed loop (they have no database).",
    '',
  );
  lines.push('| goal | lumengate | met | margin | Node floor (bare proxy) | nginx |', '| --- | --- | --- | --- | --- | --- |');
  for (const g of goals(r)) lines.push(`| ${g.goal} | ${g.measured} | ${g.met === null ? '–' : g.met ? 'yes' : '**no**'} | ${g.margin} | ${g.floor ?? ''} | ${g.nginx ?? ''} |`);
  if (r.nginxSkipped) lines.push('', `nginx: ${r.nginxSkipped}.`);
  lines.push('');

  lines.push(
    '## Streaming',
    '',
    'Milliseconds, p50 / p95 / p99. TTFT = request start to the first content delta; gap = between consecutive deltas; total = start to `[DONE]`. Peak RSS and CPU are the proxy\'s (from /proc, during its own batches); "per event" is its CPU time over the content deltas delivered. "Client CPU" is the load client\'s own CPU during those batches (this process: its JavaScript runs on one core, so a figure well below 100 % means the client was not what limited them).',
    '',
  );
  lines.push('| streams × rounds | side | TTFT | gap | total | errors | proxy peak RSS | proxy CPU | per event | client CPU |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const trio = (s: Stats) => `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}`;
  const d = (a: Stats, b: Stats) => `${ms(b.p50 - a.p50)} / ${ms(b.p95 - a.p95)} / ${ms(b.p99 - a.p99)}`;
  const sideLabel: Record<Side, string> = { direct: 'direct', floor: 'bare proxy', nginx: 'nginx', through: 'through' };
  for (const s of r.scenarios) {
    const proc = (side: Side) => {
      const l = s.load?.[side];
      const rss = side === 'through' ? s.server.peakRssBytes : side === 'floor' ? s.floorPeakRssBytes : side === 'nginx' ? s.nginxPeakRssBytes : undefined;
      const cpu = side === 'through' ? s.server.cpuCores : l && l.serverCpuSeconds !== null ? l.serverCpuSeconds / Math.max(0.001, l.seconds) : undefined;
      const perEvent = l && l.serverCpuSeconds !== null && l.events ? `${((l.serverCpuSeconds * 1e6) / l.events).toFixed(1)} µs` : '';
      const client = l ? pct(l.clientCpuSeconds / Math.max(0.001, l.seconds)) : '';
      return `${rss ? mb(rss) : ''} | ${cpu !== undefined ? `${pct(cpu)} of a core` : ''} | ${perEvent} | ${client}`;
    };
    let first = true;
    for (const side of ['direct', 'floor', 'nginx', 'through'] as const) {
      const x = s[side];
      if (!x) continue;
      lines.push(`${first ? `| ${s.streams} × ${s.rounds} |` : '| |'} ${sideLabel[side]} | ${trio(x.ttftMs)} | ${trio(x.gapMs)} | ${trio(x.totalMs)} | ${x.errors} | ${proc(side)} |`);
      first = false;
    }
    for (const side of ['floor', 'nginx', 'through'] as const) {
      const x = s[side];
      if (!x) continue;
      const label = side === 'through' ? '**added**' : `${sideLabel[side]} added`;
      lines.push(`| | ${label} | ${d(s.direct.ttftMs, x.ttftMs)} | ${d(s.direct.gapMs, x.gapMs)} | ${d(s.direct.totalMs, x.totalMs)} | | | | | |`);
    }
  }
  const opened = r.scenarios.filter((s) => s.firstBatch);
  if (opened.length) {
    lines.push(
      '',
      'Each scenario opened with one unmeasured batch per side at its own concurrency, not in the table above: the warm-up before the scenarios opens 4 connections per pool, so that batch is the one whose client and upstream connections are new (a first burst after start). Its TTFT, p50 / p99 (ms), and errors:',
      '',
      '| streams | direct | bare proxy | nginx | through | added p99 (through) | errors |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const s of opened) {
      const f = s.firstBatch!;
      const cell = (side: Side) => (f[side] ? `${ms(f[side].ttftMs.p50)} / ${ms(f[side].ttftMs.p99)}` : '');
      const added = f.through && f.direct ? ms(f.through.ttftMs.p99 - f.direct.ttftMs.p99) : '–';
      const errors = Object.values(f).reduce((n, b) => n + b.errors, 0);
      lines.push(`| ${s.streams} | ${cell('direct')} | ${cell('floor')} | ${cell('nginx')} | ${cell('through')} | ${added} | ${errors} |`);
    }
  }
  const errs = r.scenarios
    .flatMap((s) => [s.direct.firstError, s.floor?.firstError, s.nginx?.firstError, s.through.firstError, ...Object.values(s.firstBatch ?? {}).map((b) => b.firstError)])
    .filter(Boolean);
  if (errs.length) lines.push('', `First errors: ${errs.map((e) => `\`${e}\``).join('; ')}`);
  lines.push('');

  const repeats = c.throughput.repeats ?? 1;
  lines.push(
    '## Non-streaming throughput',
    '',
    `\`POST /api/v2/generate\`, closed loop with ${c.throughput.concurrency} concurrent connections, ${c.throughput.warmupSeconds} s of warm-up, then ${
      r.throughputWindows
        ? `${repeats} measured runs of ${c.throughput.seconds} s as back-to-back windows of the same wrk run, on the same connections (each window's requests counted at the upstream; req/s is the median window's, the range beside it; the latency percentiles are wrk's over the whole run, warm-up included)`
        : repeats > 1
          ? `${repeats} measured runs of ${c.throughput.seconds} s (req/s and the latency percentiles are the median run's, the req/s range beside it)`
          : `${c.throughput.seconds} s measured`
    }; the upstream answers at once (2 chunks, 0 ms). Client: ${r.throughputClient ?? 'undici closed loop in the bench process'}. Every request authenticates, holds, runs and settles a generation; on "postgres + redis" it is also rate-limited in Redis (plan \`pro\`, whose hourly and daily limits an operator file raises far above bench rates: counted on every request, never refusing one). "postgres" alone is the unlimited \`elite\` plan without Redis. "CPUs": a one-worker server runs alone on CPU 0 (taskset) while the client and the upstream use the other CPU, which is the goal's "one core"; more workers get every CPU. "CPU per request" is the server's CPU time divided by the requests answered, steadier than req/s on a noisy machine. "PostgreSQL / Redis CPU per request": the same for every PostgreSQL backend and the Redis server during the same runs (they are not pinned: on a 2-core machine they share both CPUs with the rest, so the server's core is not all its own; "server CPU" shows how much of it the server got).`,
    '',
  );
  lines.push(
    '| database | workers | CPUs | req/s | CPU per request | PostgreSQL / Redis CPU per request | latency p50 / p99 | errors | server peak RSS | server CPU | client |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  // The stores' CPU where the run used them (results saved before this column: empty).
  const stores = (t: ThroughputRun) => {
    const s = t.storesMicrosPerRequest;
    if (!s || t.database !== 'postgres') return '';
    return `${micros(s.postgres)} / ${t.redis ? micros(s.redis) : '–'}`;
  };
  const dbLabel = (t: ThroughputRun) => (t.redis ? `postgres + redis (plan ${t.plan ?? '?'})` : t.database);
  for (const t of r.throughput) {
    lines.push(
      `| ${dbLabel(t)} | ${t.workers} | ${t.pinned ? 'CPU 0 only' : 'all'} | ${reqPerSecond(t)} | ${micros(t.cpuMicrosPerRequest)} | ${stores(t)} | ${ms(t.latencyMs.p50)} / ${ms(t.latencyMs.p99)} ms | ${t.errors} | ${mb(t.server.peakRssBytes)} | ${pct(t.server.cpuCores)} of a core | ${t.client ?? 'undici'} |`,
    );
  }
  for (const f of [
    ['bare proxy', r.floorThroughput],
    ['nginx', r.nginxThroughput],
  ] as const) {
    const [label, t] = f;
    if (t)
      lines.push(
        `| *floor: ${label}* | 1 | ${t.pinned ? 'CPU 0 only' : 'all'} | ${reqPerSecond(t)} | ${micros(t.cpuMicrosPerRequest)} | | ${t.latencyMs ? `${ms(t.latencyMs.p50)} / ${ms(t.latencyMs.p99)} ms` : ''} | ${t.errors} | | ${pct(t.cpuCores)} of a core | ${t.client ?? 'undici'} |`,
      );
  }
  for (const db of ['sqlite', 'postgres', 'postgres + redis'] as const) {
    const of = (w: number) => r.throughput.find((t) => dbLabel(t).startsWith(db) && (db !== 'postgres' || !t.redis) && t.workers === w);
    const one = of(1);
    const two = of(2);
    if (one && two)
      lines.push(
        '',
        `Scaling 1 → 2 workers on ${db}: ×${(two.perSecond / one.perSecond).toFixed(2)}${one.pinned && !two.pinned ? ' (one worker on one CPU → two workers on every CPU, shared with the client and the upstream)' : ''}.`,
      );
  }
  lines.push('', 'The floors (no auth, no database) get the same client, upstream, loop and pinning, with the streaming request body sent to `/v1/chat/completions`: the most a proxy serves here.');
  const floorErrors = [r.floorThroughput?.firstError, r.nginxThroughput?.firstError, ...r.throughput.map((t) => t.firstError)].filter(Boolean);
  if (floorErrors.length) lines.push('', `First errors: ${floorErrors.map((e) => `\`${e}\``).join('; ')}`);
  if (r.postgresSkipped) lines.push('', `PostgreSQL: ${r.postgresSkipped}.`);
  if (r.redisSkipped) lines.push('', `PostgreSQL + Redis: ${r.redisSkipped}.`);
  lines.push('');

  if (r.roundTrips?.length || r.roundTripsSkipped) {
    lines.push(
      '## Round trips per request, PostgreSQL + Redis',
      '',
      'Counted, not timed, by `npm run bench:rtt` (bench/round-trips.ts, run by the bench after the PostgreSQL + Redis pass, on its own database and key prefix): PostgreSQL statements and Redis commands made inside each request, one warm-up request first. A pg statement is one round trip; Redis commands written in one synchronous run are one. `pro` is rate-limited in Redis (the goal\'s path, the "postgres + redis" rows above); `elite` has no limits (the "postgres" rows).',
      '',
    );
    if (r.roundTrips?.length) {
      lines.push(
        '| request | plan | PostgreSQL statements (pool clients) | Redis commands / round trips | round trips in all | before the upstream call | after it |',
        '| --- | --- | --- | --- | --- | --- | --- |',
      );
      for (const t of r.roundTrips)
        lines.push(`| ${t.scenario} | ${t.plan} | ${t.pg} (${t.pgClients}) | ${t.redisCommands} / ${t.redis} | ${t.pg + t.redis} | ${t.before ?? '–'} | ${t.after ?? '–'} |`);
    } else lines.push(`Not counted: ${r.roundTripsSkipped}.`);
    lines.push('');
  }

  lines.push(
    '## Ledger after the runs',
    '',
    'On rate-limited runs, "counted in Redis" is the day window\'s counter read back from the X-RateLimit headers of one more request after the loop: it should equal the generations (every request counted).',
    '',
    '| server | generations | left pending | accounts whose balance ≠ sum of ledger | counted in Redis |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const l of r.ledger) lines.push(`| ${l.label} | ${l.generations} | ${l.pending} | ${l.mismatches} | ${l.rateLimitCounted ?? (l.rateLimitCounted === null ? '?' : '')} |`);
  lines.push('');

  if (r.profile) {
    const p = r.profile;
    lines.push(
      '## CPU profile of this run',
      '',
      `\`--cpu-prof\` of a separate server (SQLite, one worker) taken after the measured runs, through the same streaming scenarios and one closed-loop run; no figure above was measured under the profiler (${p.seconds.toFixed(0)} s, ${p.idlePercent.toFixed(0)} % idle). Share of busy time:`,
      '',
    );
    lines.push('| package / area | % |', '| --- | --- |');
    for (const x of p.byPackage) lines.push(`| ${x.name} | ${x.percent.toFixed(1)} |`);
    lines.push('', '| function (self time) | where | % |', '| --- | --- | --- |');
    for (const x of p.byFunction) lines.push(`| ${x.name} | ${x.where} | ${x.percent.toFixed(1)} |`);
    lines.push('');
  }

  const notes = join(packageRoot(), 'bench/NOTES.md');
  if (existsSync(notes)) lines.push(readFileSync(notes, 'utf8').trim(), '');
  return `${lines.join('\n')}\n`;
}
