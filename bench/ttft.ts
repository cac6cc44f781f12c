// `npm run bench:ttft`: where one stream's added time to first token goes, lumengate beside the
// bare Node proxy (bench/floor-proxy.ts). Both run with bench/trace-hook.ts, which timestamps each
// request's milestones from diagnostics channels; the load client sends one stream at a time,
// alternating direct / bare proxy / lumengate, and times the first token as `npm run bench` does.
// Steps are medians over the measured streams; "outside the process" is the client's added TTFT
// minus the steps measured inside it: loopback hops, wake-ups, the kernel. Writes a section of
// docs/BENCHMARKS.md (--out elsewhere; --smoke: a few streams, a temp file).
// --idle 0,20,200: instead, lumengate's steps for streams sent after each of these pauses (ms),
// the upstream answering at once, printed and not written: how much of a step is the request's
// own work and how much the machine's having been quiet before it (bench/NOTES.md, eighteenth session).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/config/env.js';
import { writeSection } from './sections.js';
import { loadAgent, percentile, runStream, upstreamBody, upstreamHeaders, type Side, type StreamTarget } from './load.js';
import { seedAccount, startLumengate, startUpstream } from './processes.js';

const { values: args } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, streams: { type: 'string' }, out: { type: 'string' }, idle: { type: 'string' } } });
const rounds = Number(args.streams ?? (args.smoke ? 5 : 300));
const here = dirname(fileURLToPath(import.meta.url));
const hook = join(here, 'trace-hook.js');
const work = mkdtempSync(join(tmpdir(), 'lumengate-ttft-'));
const traceOut = join(work, 'trace');
const outPath = args.out ?? (args.smoke ? join(work, 'BENCHMARKS.md') : join(packageRoot(), 'docs/BENCHMARKS.md'));
const log = (msg: string) => process.stderr.write(`ttft: ${msg}\n`);

// Five chunks: the first after 20 ms (the upstream's own time to first token), then 10 ms apart.
const script = { chunks: ['one ', 'two ', 'three ', 'four ', 'five '], delayMs: 10, firstChunkDelayMs: 20 };

/** nginx's added TTFT is in `npm run bench`; it has no steps to break down here. */
type TtftSide = Exclude<Side, 'nginx'>;

const agent = loadAgent();
const upstream = await startUpstream();
await upstream.setScript(script);
const floor = fork(join(here, 'floor-proxy.js'), [upstream.origin], {
  execArgv: ['--import', hook],
  env: { ...process.env, BENCH_TRACE_OUT: traceOut },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const floorOrigin = ((await once(floor, 'message')) as [{ origin: string }])[0].origin;
const dbUrl = `sqlite:${join(work, 'ttft.db')}`;
const { key } = await seedAccount(dbUrl);
const server = await startLumengate({ databaseUrl: dbUrl, upstreamOrigin: upstream.origin, workers: 1, env: { NODE_OPTIONS: `--import ${hook}`, BENCH_TRACE_OUT: traceOut } });

const targets: Record<TtftSide, StreamTarget> = {
  direct: { side: 'direct', url: `${upstream.origin}/v1/chat/completions`, expectedDeltas: script.chunks.length, headers: upstreamHeaders, body: upstreamBody },
  floor: { side: 'floor', url: `${floorOrigin}/v1/chat/completions`, expectedDeltas: script.chunks.length, headers: upstreamHeaders, body: upstreamBody },
  through: {
    side: 'through',
    url: `${server.url}/api/v2/generate/stream`,
    expectedDeltas: script.chunks.length,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'gpt-5-nano', prompt: 'Say something.' }),
  },
};

interface Step {
  label: string;
  from: string;
  to: string;
}
/** The two steps no gateway that checks the key and holds before the upstream call can skip. */
const KEY_STEP = 'key check: one database read';
const HOLD_STEP = 'hold: the ledger transaction committed';
/** lumengate's milestones in order, up to the first content delta written to the client. */
const THROUGH_STEPS: Step[] = [
  { label: 'HTTP parse, onRequest hooks', from: 'request', to: 'authenticating' },
  { label: KEY_STEP, from: 'authenticating', to: 'authenticated' },
  { label: 'body read and parse, validation, handler entry', from: 'authenticated', to: 'handler' },
  { label: 'admission, limits', from: 'handler', to: 'holding' },
  { label: HOLD_STEP, from: 'holding', to: 'held' },
  { label: 'route and provider request built', from: 'held', to: 'upstream-create' },
  { label: 'subtotal: request received to upstream request created', from: 'request', to: 'upstream-create' },
  { label: 'undici: request to socket write', from: 'upstream-create', to: 'upstream-sent' },
  { label: 'first content chunk: read to client write', from: 'chunk-content', to: 'client-write' },
];
const FLOOR_STEPS: Step[] = [
  { label: 'subtotal: request received to upstream request created', from: 'request', to: 'upstream-create' },
  { label: 'undici: request to socket write', from: 'upstream-create', to: 'upstream-sent' },
  { label: 'first content chunk: read to client write', from: 'chunk-content', to: 'client-write' },
];

type Trace = Array<[number, string]>;
/** Asks a traced process for its milestones (SIGUSR2) and clears them. */
async function collect(pid: number): Promise<Trace> {
  const file = `${traceOut}.${pid}`;
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  while (!existsSync(file)) await new Promise((r) => setTimeout(r, 10));
  // Written in one writeFileSync: wait until it parses.
  for (;;) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Trace;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

try {
  if (args.idle) await idleSweep(args.idle.split(',').map(Number));
  else await measure();
} finally {
  await server.stop();
  floor.disconnect();
  await once(floor, 'exit');
  await upstream.stop();
  await agent.close();
  // A smoke run without --out leaves its report in the work folder (its path is printed); --idle writes none.
  if (args.out || !args.smoke || args.idle) rmSync(work, { recursive: true, force: true });
}

async function measure(): Promise<void> {
  log('warming up');
  for (let i = 0; i < (args.smoke ? 2 : 50); i++) for (const side of ['direct', 'floor', 'through'] as TtftSide[]) await runStream(agent, targets[side]);
  await collect(server.pid);
  await collect(floor.pid!);
  log(`${rounds} streams per side, one at a time`);
  const ttft: Record<TtftSide, number[]> = { direct: [], floor: [], through: [] };
  for (let r = 0; r < rounds; r++) {
    for (const side of (r % 2 === 0 ? ['direct', 'floor', 'through'] : ['through', 'floor', 'direct']) as TtftSide[]) {
      const res = await runStream(agent, targets[side]);
      if (res.error) throw new Error(`${side}: ${res.error}`);
      ttft[side].push(res.ttftMs);
    }
  }
  const through = steps(await collect(server.pid), THROUGH_STEPS);
  const bare = steps(await collect(floor.pid!), FLOOR_STEPS);
  writeSection(outPath, 'ttft', render(ttft, through, bare));
  log(`wrote ${outPath}`);
}

/** lumengate alone, one two-chunk stream at a time, each stream sent `pause` ms after the last one ended. */
async function idleSweep(pauses: number[]): Promise<void> {
  await upstream.setScript({ chunks: ['one ', 'two '], delayMs: 0, firstChunkDelayMs: 0 });
  const target: StreamTarget = { ...targets.through, expectedDeltas: 2 };
  log('warming up');
  for (let i = 0; i < (args.smoke ? 2 : 300); i++) await runStream(agent, target);
  console.log(`| pause before each stream | ${THROUGH_STEPS.map((s) => s.label).join(' | ')} | client TTFT p50 |`);
  for (const pause of pauses) {
    await collect(server.pid);
    const ttft: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const res = await runStream(agent, target);
      if (res.error) throw new Error(`through: ${res.error}`);
      ttft.push(res.ttftMs);
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
    const m = steps(await collect(server.pid), THROUGH_STEPS);
    const cells = THROUGH_STEPS.map((s) => `${percentile(m.get(s.label)!, 50).toFixed(3)} ms`);
    console.log(`| ${pause} ms | ${cells.join(' | ')} | ${percentile(ttft, 50).toFixed(2)} ms |`);
  }
}

/** Per stream (a `request` mark starts one), the time from each step's mark to the next `to` mark after it. */
function steps(trace: Trace, list: Step[]): Map<string, number[]> {
  const out = new Map<string, number[]>(list.map((s) => [s.label, []]));
  const starts = trace.flatMap(([, k], i) => (k === 'request' ? [i] : []));
  starts.forEach((start, n) => {
    const stream = trace.slice(start, starts[n + 1] ?? trace.length);
    for (const s of list) {
      const from = stream.find(([, k]) => k === s.from);
      const to = from && stream.find(([t, k]) => k === s.to && t >= from[0]);
      if (from && to) out.get(s.label)!.push(to[0] - from[0]);
    }
  });
  return out;
}

function render(ttft: Record<TtftSide, number[]>, through: Map<string, number[]>, bare: Map<string, number[]>): string {
  const p50 = (xs: number[] | undefined) => (xs && xs.length ? percentile(xs, 50) : NaN);
  const ms = (x: number) => (Number.isNaN(x) ? '' : `${x.toFixed(3)} ms`);
  const added = (side: TtftSide) => p50(ttft[side]) - p50(ttft.direct);
  /** The steps that do not overlap: the subtotal row and the ones after it. */
  const inside = (m: Map<string, number[]>) => FLOOR_STEPS.reduce((a, s) => a + p50(m.get(s.label)), 0);
  const rows = THROUGH_STEPS.map((s) => {
    const bold = s.label.startsWith('subtotal') ? '**' : '';
    return `| ${bold}${s.label}${bold} | ${ms(p50(through.get(s.label)))} | ${ms(p50(bare.get(s.label)))} |`;
  });
  return [
    "## Where one stream's added time to first token goes (`npm run bench:ttft`)",
    '',
    `Generated by bench/ttft.ts on ${new Date().toISOString()}, Node ${process.version}. One stream at a time, ${ttft.direct.length} per side, alternating direct / bare proxy / lumengate; the upstream sends its first of ${script.chunks.length} chunks after ${script.firstChunkDelayMs} ms. Steps are medians of the server's own timestamps (bench/trace-hook.ts, from Node's, Fastify's, undici's and lumengate's diagnostics channels); the bare proxy has only the subtotal of the steps before it.`,
    '',
    '| step | lumengate | bare Node proxy |',
    '| --- | --- | --- |',
    ...rows,
    `| **inside the process** (subtotal + the two steps after it) | ${ms(inside(through))} | ${ms(inside(bare))} |`,
    `| outside the process (added TTFT minus inside) | ${ms(added('through') - inside(through))} | ${ms(added('floor') - inside(bare))} |`,
    `| **added TTFT p50** (client) | ${ms(added('through'))} | ${ms(added('floor'))} |`,
    '',
    `Direct TTFT p50: ${ms(p50(ttft.direct))}.`,
    '',
    // What #16's one-stream goal is measured against: the Node floor plus the work it requires.
    `A gateway in Node that checks the key and commits the hold before it calls the upstream adds at least the bare proxy's added TTFT plus those two steps: ${ms(added('floor') + p50(through.get(KEY_STEP)) + p50(through.get(HOLD_STEP)))} in this run.`,
  ].join('\n');
}
