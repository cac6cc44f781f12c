// Renders the bench results as docs/BENCHMARKS.md: machine, versions, numbers, goals, and the
// hand-written analysis kept in bench/NOTES.md (so re-running the bench never loses it).
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/config/env.js';
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
/** floor: the bare pass-through proxy (floor-proxy.ts); absent in results saved before it existed. */
export interface ScenarioResult {
  streams: number;
  rounds: number;
  direct: SideSummary;
  floor?: SideSummary;
  through: SideSummary;
  server: { peakRssBytes: number; cpuCores: number };
  floorPeakRssBytes?: number;
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
  /** The server ran alone on one CPU (taskset), client and upstream on the others. */
  pinned?: boolean;
}
/** The bare proxy's closed loop: same fields as a ThroughputRun's. */
export type FloorThroughput = Pick<ThroughputRun, 'perSecond' | 'errors' | 'runs' | 'cpuMicrosPerRequest' | 'pinned'> & { cpuCores: number };
export interface BenchResults {
  config: {
    chunks: number;
    gapMs: number;
    ttfcMs: number;
    scenarios: Array<{ streams: number; rounds: number }>;
    throughput: { seconds: number; warmupSeconds: number; concurrency: number; repeats?: number };
    workers: number[];
    postgres: boolean;
  };
  startedAt: string;
  openFileLimit: number | null;
  scenarios: ScenarioResult[];
  throughput: ThroughputRun[];
  /** Non-streaming closed loop through the bare proxy (no auth, no database). */
  floorThroughput?: FloorThroughput;
  profile: ProfileSummary | null;
  ledger: Array<{ label: string; mismatches: number; pending: number; generations: number }>;
  postgresVersion?: string;
  postgresSkipped?: string;
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
  floor?: string;
}

export function goals(r: BenchResults): Goal[] {
  const sc = (n: number) => r.scenarios.find((s) => s.streams === n);
  const out: Goal[] = [];
  const one = sc(1),
    hundred = sc(100),
    thousand = sc(1000);
  const add = (goal: string, value: number | undefined, limit: number, unit: string, fmt = ms, floorValue?: number) => {
    const floor = floorValue !== undefined && Number.isFinite(floorValue) ? `${fmt(floorValue)}${unit}` : undefined;
    if (value === undefined || !Number.isFinite(value)) {
      out.push({ goal, measured: 'not run', met: null, margin: '', floor });
      return;
    }
    const met = value <= limit;
    out.push({ goal, measured: `${fmt(value)}${unit}`, met, margin: met ? `${fmt(limit - value)}${unit} under` : `over by ${fmt(value - limit)}${unit}`, floor });
  };
  // What the bare proxy adds over direct for the same metric (undefined when not measured).
  const floorAdded = (s: ScenarioResult | undefined, pick: (x: SideSummary) => number) => (s?.floor ? pick(s.floor) - pick(s.direct) : undefined);
  add(
    'added TTFT p50, 1 stream ≤ 1 ms',
    one && one.through.ttftMs.p50 - one.direct.ttftMs.p50,
    1,
    ' ms',
    ms,
    floorAdded(one, (x) => x.ttftMs.p50),
  );
  add(
    'added TTFT p99, 100 streams ≤ 10 ms',
    hundred && hundred.through.ttftMs.p99 - hundred.direct.ttftMs.p99,
    10,
    ' ms',
    ms,
    floorAdded(hundred, (x) => x.ttftMs.p99),
  );
  if (thousand) {
    const errors = thousand.through.errors + thousand.direct.errors;
    out.push({
      goal: '1000-stream burst: 0 errors',
      measured: `${thousand.through.errors} through, ${thousand.direct.errors} direct`,
      met: errors === 0,
      margin: errors === 0 ? '' : `${errors} errors`,
    });
  } else out.push({ goal: '1000-stream burst: 0 errors', measured: 'not run', met: null, margin: '' });
  add(
    'added TTFT p99, 1000 streams ≤ 300 ms',
    thousand && thousand.through.ttftMs.p99 - thousand.direct.ttftMs.p99,
    300,
    ' ms',
    ms,
    floorAdded(thousand, (x) => x.ttftMs.p99),
  );
  add(
    'gap p99 through / direct, 1000 streams ≤ 1.2×',
    thousand && thousand.through.gapMs.p99 / thousand.direct.gapMs.p99,
    1.2,
    '×',
    (x) => x.toFixed(2),
    thousand?.floor && thousand.floor.gapMs.p99 / thousand.direct.gapMs.p99,
  );
  add(
    'server RSS, 1000 open streams ≤ 150 MB',
    thousand && thousand.server.peakRssBytes / 1024 / 1024,
    150,
    ' MB',
    (x) => x.toFixed(0),
    thousand?.floorPeakRssBytes && thousand.floorPeakRssBytes / 1024 / 1024,
  );
  const sqlite1 = r.throughput.find((t) => t.database === 'sqlite' && t.workers === 1);
  const perSec = sqlite1?.perSecond;
  if (perSec === undefined) out.push({ goal: 'non-streaming ≥ 3,000 req/s, 1 core, SQLite', measured: 'not run', met: null, margin: '' });
  else
    out.push({
      goal: 'non-streaming ≥ 3,000 req/s, 1 core, SQLite',
      measured: reqPerSecond(sqlite1!),
      met: perSec >= 3000,
      margin: perSec >= 3000 ? `${(perSec - 3000).toFixed(0)} req/s over` : `short by ${(3000 - perSec).toFixed(0)} req/s (${((100 * (3000 - perSec)) / 3000).toFixed(0)} %)`,
      floor: r.floorThroughput ? reqPerSecond(r.floorThroughput) : undefined,
    });
  const pg1 = r.throughput.find((t) => t.database === 'postgres' && t.workers === 1);
  out.push({ goal: 'non-streaming, 1 core, PostgreSQL (reported)', measured: pg1 ? reqPerSecond(pg1) : (r.postgresSkipped ?? 'not run'), met: null, margin: '' });
  return out;
}

export function renderReport(r: BenchResults): string {
  const c = r.config;
  const lines: string[] = [];
  const cpu = cpus();
  lines.push('# Benchmarks', '');
  lines.push(
    'Generated by `npm run bench` (bench/run.ts); the analysis at the end is bench/NOTES.md. Four processes on one machine:',
    "the fake upstream (the test suite's byte-exact OpenAI streaming fake), `lumengate serve` (LOG_LEVEL=warn), and the load",
    'client (undici), plus a bare pass-through proxy as the floor. Every figure for lumengate is compared with the same streams sent **directly** to the fake upstream in the',
    'same run, alternating round by round; "added" = through lumengate minus direct, at the same percentile.',
    '',
  );
  lines.push('## Machine and versions', '');
  lines.push(`- ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${type()} ${release()}`);
  lines.push(`- Node ${process.version}; open-file limit ${r.openFileLimit ?? '?'}; run started ${r.startedAt}`);
  lines.push(
    `- lumengate ${JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version}, fastify ${version('fastify')}, undici ${version('undici')}, eventsource-parser ${version('eventsource-parser')}, better-sqlite3 ${version('better-sqlite3')}, pg ${version('pg')}${r.postgresVersion ? ` (PostgreSQL ${r.postgresVersion})` : ''}`,
  );
  lines.push(`- Upstream script: ${c.chunks} content chunks, ${c.ttfcMs} ms to the first, ${c.gapMs} ms between chunks`, '');

  lines.push(
    '## Goals',
    '',
    'The last column is the same figure for a bare pass-through proxy (bench/floor-proxy.ts: node:http + undici, no auth, no database, no parsing) measured in the same run: the least a Node gateway adds on this machine.',
    '',
  );
  lines.push('| goal | measured | met | margin | bare proxy, same run |', '| --- | --- | --- | --- | --- |');
  for (const g of goals(r)) lines.push(`| ${g.goal} | ${g.measured} | ${g.met === null ? '–' : g.met ? 'yes' : '**no**'} | ${g.margin} | ${g.floor ?? ''} |`);
  lines.push('');

  lines.push('## Streaming', '', 'Milliseconds, p50 / p95 / p99. TTFT = request start to the first content delta; gap = between consecutive deltas; total = start to `[DONE]`.', '');
  lines.push('| streams × rounds | side | TTFT | gap | total | errors | server peak RSS | server CPU |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  const trio = (s: Stats) => `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}`;
  for (const s of r.scenarios) {
    lines.push(`| ${s.streams} × ${s.rounds} | direct | ${trio(s.direct.ttftMs)} | ${trio(s.direct.gapMs)} | ${trio(s.direct.totalMs)} | ${s.direct.errors} | | |`);
    if (s.floor)
      lines.push(`| | bare proxy | ${trio(s.floor.ttftMs)} | ${trio(s.floor.gapMs)} | ${trio(s.floor.totalMs)} | ${s.floor.errors} | ${s.floorPeakRssBytes ? mb(s.floorPeakRssBytes) : ''} | |`);
    lines.push(
      `| | through | ${trio(s.through.ttftMs)} | ${trio(s.through.gapMs)} | ${trio(s.through.totalMs)} | ${s.through.errors} | ${mb(s.server.peakRssBytes)} | ${(100 * s.server.cpuCores).toFixed(0)} % of a core |`,
    );
    const d = (a: Stats, b: Stats) => `${ms(b.p50 - a.p50)} / ${ms(b.p95 - a.p95)} / ${ms(b.p99 - a.p99)}`;
    if (s.floor) lines.push(`| | bare proxy added | ${d(s.direct.ttftMs, s.floor.ttftMs)} | ${d(s.direct.gapMs, s.floor.gapMs)} | ${d(s.direct.totalMs, s.floor.totalMs)} | | | |`);
    lines.push(`| | **added** | ${d(s.direct.ttftMs, s.through.ttftMs)} | ${d(s.direct.gapMs, s.through.gapMs)} | ${d(s.direct.totalMs, s.through.totalMs)} | | | |`);
  }
  const errs = r.scenarios.flatMap((s) => [s.direct.firstError, s.floor?.firstError, s.through.firstError]).filter(Boolean);
  if (errs.length) lines.push('', `First errors: ${errs.map((e) => `\`${e}\``).join('; ')}`);
  lines.push('');

  const repeats = c.throughput.repeats ?? 1;
  lines.push(
    '## Non-streaming throughput',
    '',
    `\`POST /api/v2/generate\`, closed loop with ${c.throughput.concurrency} concurrent callers, ${c.throughput.warmupSeconds} s of warm-up, then ${repeats > 1 ? `${repeats} measured runs of ${c.throughput.seconds} s (req/s is the median run, the range beside it; latency pools the runs)` : `${c.throughput.seconds} s measured`}; the upstream answers at once (2 chunks, 0 ms). Every request authenticates, holds, runs and settles a generation. "CPUs": a one-worker server runs alone on CPU 0 (taskset) while the client and the upstream use the other CPU, which is the goal's "one core"; more workers get every CPU. "CPU per request" is the server's CPU time divided by the requests answered, steadier than req/s on a noisy machine.`,
    '',
  );
  lines.push('| database | workers | CPUs | req/s | CPU per request | latency p50 / p99 | errors | server peak RSS | server CPU |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const t of r.throughput) {
    lines.push(
      `| ${t.database} | ${t.workers} | ${t.pinned ? 'CPU 0 only' : 'all'} | ${reqPerSecond(t)} | ${micros(t.cpuMicrosPerRequest)} | ${ms(t.latencyMs.p50)} / ${ms(t.latencyMs.p99)} ms | ${t.errors} | ${mb(t.server.peakRssBytes)} | ${(100 * t.server.cpuCores).toFixed(0)} % of a core |`,
    );
  }
  for (const db of ['sqlite', 'postgres'] as const) {
    const one = r.throughput.find((t) => t.database === db && t.workers === 1);
    const two = r.throughput.find((t) => t.database === db && t.workers === 2);
    if (one && two)
      lines.push(
        '',
        `Scaling 1 → 2 workers on ${db}: ×${(two.perSecond / one.perSecond).toFixed(2)}${one.pinned && !two.pinned ? ' (one worker on one CPU → two workers on every CPU, shared with the client and the upstream)' : ''}.`,
      );
  }
  if (r.floorThroughput) {
    const f = r.floorThroughput;
    lines.push(
      '',
      `The bare proxy, same client, upstream and loop${f.pinned ? ', alone on CPU 0' : ''}: ${reqPerSecond(f)} (${f.errors} errors), ${micros(f.cpuMicrosPerRequest)} of CPU per request, at ${(100 * f.cpuCores).toFixed(0)} % of a core.`,
    );
  }
  if (r.postgresSkipped) lines.push('', `PostgreSQL: ${r.postgresSkipped}.`);
  lines.push('');

  lines.push('## Ledger after the runs', '', '| server | generations | left pending | accounts whose balance ≠ sum of ledger |', '| --- | --- | --- | --- |');
  for (const l of r.ledger) lines.push(`| ${l.label} | ${l.generations} | ${l.pending} | ${l.mismatches} |`);
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
