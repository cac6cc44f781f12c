// `npm run bench:ab -- [--base DIR] [--streams 100,1000] [--rounds 4] [--chunks 50]`: server CPU
// per streamed event of this build against another checkout's (--base DIR, built there with `npm
// run build`) and the bare proxy, in one run with the rounds interleaved: the streaming scenarios
// of `npm run bench` (SQLite, `POST /api/v2/generate/stream`, chunks 20 ms apart) without the
// latency sides, for a before/after of a change of a few per cent in point 4's CPU ratio on one
// machine (each side's rounds alternate with the others', so machine noise hits all of them).
// Without --base, `--base-flags='--v8-flag …'` runs this build a second time with other node
// arguments (a V8 setting to compare); `--this-flags=…` adds some to this build's run, and
// `--floor-flags=…` to the bare proxy's. `--gap S` leaves every server idle S seconds after each
// of its batches, as `npm run bench`'s other sides (direct, nginx) do.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadAgent, runStream, upstreamBody, upstreamHeaders, type StreamTarget } from './load.js';
import { watchProcess } from './proc.js';
import { seedAccount, startFloorProxy, startLumengate, startUpstream, type Server } from './processes.js';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    streams: { type: 'string', default: '100,1000' },
    rounds: { type: 'string', default: '4' },
    chunks: { type: 'string', default: '50' },
    /** Node arguments for each lumengate (space-separated), e.g. a V8 setting to compare. */
    'base-flags': { type: 'string', default: '' },
    'this-flags': { type: 'string', default: '' },
    /** Node arguments for the bare proxy, to see what a setting does for the floor itself. */
    'floor-flags': { type: 'string', default: '' },
    /** Idle seconds after each batch, as `npm run bench`'s other sides (direct, nginx) leave each server idle. */
    gap: { type: 'string', default: '0' },
  },
});
const chunks = Number(args.chunks);
const rounds = Number(args.rounds);
const concurrencies = args.streams.split(',').map(Number);
const gapMs = Number(args.gap) * 1000;
const log = (msg: string) => process.stderr.write(`ab-stream: ${msg}\n`);
/** A flags option (space-separated) as node arguments. */
const nodeArgs = (flags: string) => flags.split(' ').filter(Boolean);

const agent = loadAgent();
const upstream = await startUpstream();
await upstream.setScript({ chunks: Array.from({ length: chunks }, (_, i) => `tok${i} `), delayMs: 20, firstChunkDelayMs: 20 });
const floorFlags = nodeArgs(args['floor-flags']);
const floor = await startFloorProxy(upstream.origin, floorFlags.length > 0 ? { execArgv: floorFlags } : {});
const work = mkdtempSync(join(tmpdir(), 'lumengate-ab-'));

async function lumengate(name: string, distRoot: string | undefined, flags: string): Promise<{ server: Server; target: StreamTarget }> {
  const url = `sqlite:${join(work, `${name}.db`)}`;
  const { key } = await seedAccount(url, 'elite', distRoot);
  const server = await startLumengate({ databaseUrl: url, upstreamOrigin: upstream.origin, workers: 1, distRoot, nodeFlags: nodeArgs(flags) });
  const body = JSON.stringify({ model: 'gpt-5-nano', prompt: 'Say something.' });
  return {
    server,
    target: { url: `${server.url}/api/v2/generate/stream`, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body, side: 'through', expectedDeltas: chunks },
  };
}

const sides: { name: string; pid: number; target: StreamTarget; stop(): Promise<void> }[] = [
  {
    name: 'bare proxy',
    pid: floor.pid,
    target: { url: `${floor.origin}/v1/chat/completions`, headers: upstreamHeaders, body: upstreamBody, side: 'floor', expectedDeltas: chunks },
    stop: () => floor.stop(),
  },
];
if (args.base || args['base-flags']) {
  const { server, target } = await lumengate('base', args.base ? join(args.base, 'dist') : undefined, args['base-flags']);
  sides.push({ name: 'base', pid: server.pid, target, stop: () => server.stop() });
}
{
  const { server, target } = await lumengate('this', undefined, args['this-flags']);
  sides.push({ name: 'this', pid: server.pid, target, stop: () => server.stop() });
}

const batch = async (t: StreamTarget, n: number) => {
  const rs = await Promise.all(Array.from({ length: n }, () => runStream(agent, t)));
  const failed = rs.find((r) => r.error !== null);
  if (failed) throw new Error(`a stream failed: ${failed.error}`);
  return rs.reduce((sum, r) => sum + r.deltas, 0);
};

for (let i = 0; i < 4; i++) for (const s of sides) await batch(s.target, 4);
const pooled = new Map(sides.map((s) => [s.name, { cpu: 0, main: 0, events: 0, rss: 0 }]));
for (const n of concurrencies) {
  const totals = new Map(sides.map((s) => [s.name, { cpu: 0, main: 0, events: 0, rss: 0 }]));
  for (const s of sides) await batch(s.target, n); // the opening batch: pools grow, not measured
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so no side always follows the same one.
    const order = sides.map((_, i) => sides[(i + r) % sides.length]!);
    const line: string[] = [];
    for (const s of order) {
      const watch = watchProcess(s.pid);
      const main0 = mainThreadSeconds(s.pid);
      const events = await batch(s.target, n);
      const { cpuSeconds, peakRssBytes } = watch.stop();
      const main = mainThreadSeconds(s.pid) - main0;
      for (const m of [totals, pooled]) {
        const t = m.get(s.name)!;
        t.cpu += cpuSeconds;
        t.main += main;
        t.events += events;
        t.rss = Math.max(t.rss, peakRssBytes);
      }
      line.push(`${s.name} ${((cpuSeconds * 1e6) / events).toFixed(1)} (main ${cpuSeconds > 0 ? ((100 * main) / cpuSeconds).toFixed(0) : '-'} %, peak RSS ${(peakRssBytes / 2 ** 20).toFixed(0)} MB)`);
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    log(`${n} streams, round ${r + 1}/${rounds}: µs per event ${line.join(', ')}`);
  }
  report(`${n} streams x ${rounds}`, totals);
}
report('pooled', pooled);
for (const s of sides) await s.stop();
await upstream.stop();
await agent.close();
rmSync(work, { recursive: true, force: true });

/**
 * One line per scenario: per side the server CPU per content event (and its ratio to the bare
 * proxy's), the main thread's share of that CPU (the rest is V8's helper threads: concurrent GC,
 * the optimizing compiler), the peak RSS, and the events counted.
 */
function report(label: string, totals: Map<string, { cpu: number; main: number; events: number; rss: number }>) {
  const floor = totals.get('bare proxy')!;
  const cells = sides.map((s) => {
    const t = totals.get(s.name)!;
    const per = (t.cpu * 1e6) / t.events;
    const ratio = s.name === 'bare proxy' ? '' : ` (${floor.cpu > 0 ? (per / ((floor.cpu * 1e6) / floor.events)).toFixed(3) : '-'}×)`;
    const main = t.cpu > 0 ? `${((100 * t.main) / t.cpu).toFixed(0)} %` : '-';
    return `${s.name} ${per.toFixed(1)} µs${ratio}, main thread ${main}, peak RSS ${(t.rss / 2 ** 20).toFixed(0)} MB, ${t.events} events`;
  });
  console.log(`${label}: ${cells.join('; ')}`);
}

/** CPU seconds of the process's main thread alone (the rest is V8's helper threads: GC, compiler). */
function mainThreadSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
