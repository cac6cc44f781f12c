// `npm run bench:count`: what one non-streaming request costs the server, counted rather than
// timed. Wall-clock A/B on the VMs we measure on moves ±30 % between starts of the same build
// (bench/NOTES.md, fifth session); these two counts repeat within a few percent:
//  - instructions per request, from valgrind's callgrind (Debian's `valgrind`), split into the
//    mutator (JIT code, builtins, the runtime, libc), the garbage collector and the optimizing
//    compiler. The server runs with V8's --predictable and fixed seeds; callgrind counts only a
//    window of requests after a warm-up (`callgrind_control`), one turn at a time, so nothing
//    the machine does meanwhile changes the count.
//  - bytes allocated per request, from V8's sampling heap profiler with collected objects kept
//    (inspector, started and stopped around the same window in a second, plain server).
// Two modes:
//  - `request` (the default), the path of issue #16's point 3: PostgreSQL + Redis, plan `pro`
//    counted in Redis, every request authenticated, held and settled, on a fresh database
//    dropped afterwards. Figures are per request.
//  - `stream`, the path of point 4 (CPU per streamed event against the bare proxy): the bench's
//    streams (SQLite, `POST /api/v2/generate/stream`, 50 content chunks 20 ms apart, a few at a
//    time), counted the same way in lumengate and in the bare Node proxy (bench/floor-proxy.ts),
//    and divided by the content events delivered. The chunks are spaced so that each arrives in
//    a read of its own even under valgrind, as in the timed bench.
//   npm run bench:count [-- --mode request|stream] [--requests N] [--warmup N] [--concurrency N] [--repo DIR] [--node-flags='--v8-flag …']
// --repo measures another checkout's build (its dist/) with this one's client, to compare two
// builds in one session; --node PATH runs the measured lumengate on another Node binary. Each run
// prints one line per process (and --json FILE writes them).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { packageRoot } from '../src/config/env.js';
import { createTestDatabase, dropRedisKeys } from '../test/support/test-database.js';
import { runStream, upstreamBody, upstreamHeaders, type StreamTarget } from './load.js';
import { freePort, seedAccount, startFloorProxy, startUpstream } from './processes.js';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'request' },
    requests: { type: 'string' },
    warmup: { type: 'string' },
    concurrency: { type: 'string' },
    /** Content chunks per stream (stream mode). */
    chunks: { type: 'string', default: '50' },
    repo: { type: 'string', default: packageRoot() },
    /** The Node binary the measured lumengate runs on (default: this one), e.g. Node 24's for a checkout installed by it. */
    node: { type: 'string', default: process.execPath },
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    json: { type: 'string' },
    /** Stream mode: count lumengate only, not the bare proxy beside it (for a before/after of two builds). */
    'lumengate-only': { type: 'boolean', default: false },
    /** More node flags for the measured lumengate, space-separated (a V8 setting's before/after, e.g. '--heap-growing-percent=30'). */
    'node-flags': { type: 'string', default: '' },
    /** Keep each process's callgrind annotation and heap profile in this folder, to see where it goes. */
    keep: { type: 'string' },
  },
});
if (args.mode !== 'request' && args.mode !== 'stream') throw new Error(`--mode must be request or stream, not ${args.mode}`);
const streaming = args.mode === 'stream';
/** Requests (streams, in stream mode) counted, after `warmup` more; `concurrency` at a time. */
const requests = Number(args.requests ?? (streaming ? 40 : 2000));
const warmup = Number(args.warmup ?? (streaming ? 200 : 5000));
const concurrency = Number(args.concurrency ?? (streaming ? 2 : 4));
const CHUNKS = Number(args.chunks);
const log = (msg: string) => process.stderr.write(`bench:count: ${msg}\n`);
if (args.keep) mkdirSync(args.keep, { recursive: true });

const work = mkdtempSync(join(tmpdir(), 'lumengate-count-'));
const upstream = await startUpstream();
await upstream.setScript(streaming ? { chunks: Array.from({ length: CHUNKS }, (_, i) => `tok${i} `), delayMs: 20 } : { chunks: ['Hello', ', world'], delayMs: 0 });
const limitsPath = join(work, 'limits.json');
writeFileSync(limitsPath, JSON.stringify({ plans: { pro: { requests_per_hour: 1e9, requests_per_day: 2e9 } } }));
// valgrind's gdbserver names its pipes by user and host, from the environment of both sides.
const identity = { USER: process.env.USER || 'root', LOGNAME: process.env.LOGNAME || 'root', HOST: '127.0.0.1' };
const agent = new Agent({ connections: null, keepAliveTimeout: 30_000, headersTimeout: 600_000, bodyTimeout: 600_000 });

interface Measured {
  pid: number;
  /** n requests (streams), `concurrency` at a time; every one must succeed. */
  load(n: number): Promise<void>;
  stop(): Promise<void>;
}

/** How a process under measurement starts: `prefix… node <flags> …`, with `env` added. */
type Start = (prefix: string[], nodeFlags: string[], env?: Record<string, string>) => Promise<Measured>;

async function waitListening(url: string, child: ChildProcess) {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    const ok = await fetch(url).then(
      async (r) => (await r.arrayBuffer(), r.status < 500),
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** n calls of `one`, `concurrency` at a time. */
const inParallel = (n: number, one: () => Promise<void>) =>
  Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < n / concurrency; i++) await one();
    }),
  ).then(() => undefined);

const streamOnce = async (t: StreamTarget) => {
  const r = await runStream(agent, t);
  if (r.error || r.deltas !== CHUNKS) throw new Error(`stream failed: ${r.error ?? `${r.deltas} deltas`}`);
};

/** lumengate (`repo`'s build) on a fresh database: PostgreSQL + Redis (request mode) or SQLite (stream mode). */
const lumengate: Start = async (prefix, nodeFlags, env = {}) => {
  const db = streaming ? { url: `sqlite:${join(work, `count-${Date.now()}.db`)}`, name: '', drop: async () => {} } : await createTestDatabase(args['pg-url']);
  const { key } = await seedAccount(db.url, streaming ? 'elite' : 'pro', args.repo === packageRoot() ? undefined : join(args.repo, 'dist'));
  const port = await freePort();
  const extra = args['node-flags'].split(' ').filter(Boolean);
  const [command, ...rest] = [...prefix, args.node, ...nodeFlags, '--max-semi-space-size=8', ...extra, join(args.repo, 'dist/src/cli/main.js'), 'serve'];
  const child = spawn(command, rest, {
    env: {
      ...process.env,
      ...identity,
      PORT: String(port),
      DATABASE_URL: db.url,
      LOG_LEVEL: 'warn',
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: `${upstream.origin}/v1`,
      ...(streaming ? {} : { REDIS_URL: args['redis-url'], LUMENGATE_REDIS_PREFIX: db.name, LUMENGATE_CONFIG: limitsPath }),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitListening(`${url}/api/v2/models`, child);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const body = JSON.stringify({ model: 'gpt-5-nano', prompt: 'Say something.' });
  const target: StreamTarget = { side: 'through', url: `${url}/api/v2/generate/stream`, headers, body, expectedDeltas: CHUNKS };
  const one = streaming
    ? () => streamOnce(target)
    : async () => {
        const r = await fetch(`${url}/api/v2/generate`, { method: 'POST', headers, body });
        const text = await r.text();
        if (r.status !== 200) throw new Error(`${r.status} ${text}`);
      };
  return {
    pid: child.pid!,
    load: (n) => inParallel(n, one),
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      await db.drop();
      if (!streaming) await dropRedisKeys(args['redis-url'], db.name);
    },
  };
};

/** The bare proxy (bench/floor-proxy.ts, this checkout's) in front of the same upstream, stream mode only. */
const floor: Start = async (prefix, nodeFlags, env = {}) => {
  const [execPath, ...execArgv] = [...prefix, process.execPath, ...nodeFlags];
  const proxy = await startFloorProxy(upstream.origin, { execPath: execPath!, execArgv, env: { ...process.env, ...identity, ...env } });
  const target: StreamTarget = { side: 'floor', url: `${proxy.origin}/v1/chat/completions`, headers: upstreamHeaders, body: upstreamBody, expectedDeltas: CHUNKS };
  return { pid: proxy.pid, load: (n) => inParallel(n, () => streamOnce(target)), stop: proxy.stop };
};

/** Instructions per request (per event in stream mode) under callgrind, by part. */
async function instructions(name: string, start: Start, per: number) {
  const out = join(work, 'callgrind.out');
  const server = await start(
    ['valgrind', '-q', '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${out}`],
    ['--predictable', '--hash-seed=1', '--random-seed=1'],
  );
  try {
    log(`callgrind: ${warmup} of warm-up (slow under valgrind)`);
    await server.load(warmup);
    const control = (...a: string[]) => execFileSync('callgrind_control', [...a, String(server.pid)], { stdio: 'ignore', env: { ...process.env, ...identity } });
    control('-i', 'on');
    control('-z');
    log(`callgrind: counting ${requests}`);
    await server.load(requests);
    control('-d');
    control('-i', 'off');
  } finally {
    await server.stop();
  }
  const dump = readdirSync(work).find((f) => f.startsWith('callgrind.out.'));
  if (!dump) throw new Error('callgrind wrote no dump');
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', join(work, dump)], { maxBuffer: 256 << 20 }).toString();
  if (args.keep) writeFileSync(join(args.keep, `${name}.callgrind.txt`), annotated);
  rmSync(join(work, dump));
  const parts = { mutator: 0, gc: 0, compiler: 0 };
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!m || line.includes('PROGRAM TOTALS')) continue;
    const n = Number(m[1]!.replaceAll(',', ''));
    const fn = m[2]!;
    if (/Marking|Sweep|Scaven|MarkCompact|heap::|Heap::|Evacuat|IteratePointers|SizeFromMap|Compactor|RememberedSet|SlotSet|RecordWrite/.test(fn)) parts.gc += n;
    else if (/compiler::|maglev|turboshaft|Compiler/i.test(fn)) parts.compiler += n;
    else parts.mutator += n;
  }
  const each = (n: number) => Math.round(n / (requests * per));
  return { mutator: each(parts.mutator), gc: each(parts.gc), compiler: each(parts.compiler), total: each(parts.mutator + parts.gc + parts.compiler) };
}

/** Bytes allocated per request (per event), from the sampling heap profiler (collected objects included). */
async function allocations(name: string, start: Start, per: number) {
  const profilePath = join(work, 'heap.json');
  rmSync(profilePath, { force: true });
  rmSync(`${profilePath}.started`, { force: true });
  // This checkout's sampler, whichever build is measured (it only reads V8).
  const sampler = join(packageRoot(), 'dist/bench/heap-sampler.js');
  const cpuProfile = args.keep ? join(args.keep, `${name}.cpuprofile`) : undefined;
  const server = await start([], [`--import=${sampler}`], { HEAP_SAMPLE_OUT: profilePath, ...(cpuProfile ? { CPU_PROFILE_OUT: cpuProfile } : {}) });
  try {
    log(`allocations: ${warmup} of warm-up, ${requests} sampled`);
    await server.load(warmup);
    process.kill(server.pid, 'SIGUSR2');
    await waitFor(() => readFileSync(`${profilePath}.started`, 'utf8').length > 0);
    await server.load(requests);
    process.kill(server.pid, 'SIGUSR2');
    await waitFor(() => readFileSync(profilePath, 'utf8').length > 0);
  } finally {
    await server.stop();
  }
  interface Node {
    selfSize: number;
    children: Node[];
  }
  const sum = (n: Node): number => n.children.reduce((s, c) => s + sum(c), n.selfSize);
  if (args.keep) writeFileSync(join(args.keep, `${name}.heapprofile`), readFileSync(profilePath));
  const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as { head: Node };
  return { bytes: Math.round(sum(profile.head) / (requests * per)) };
}

async function waitFor(ready: () => boolean) {
  for (;;) {
    try {
      if (ready()) return;
    } catch {
      /* not written yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const k = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : String(n));
const unit = streaming ? 'event' : 'request';
try {
  const results: { process: string; instructions: { mutator: number }; [more: string]: unknown }[] = [];
  const processes: [string, Start][] = [['lumengate', lumengate]];
  if (streaming && !args['lumengate-only']) processes.push(['bare proxy', floor]);
  for (const [name, start] of processes) {
    const per = streaming ? CHUNKS : 1;
    const file = name.replace(' ', '-');
    const counted = await instructions(file, start, per);
    const allocated = await allocations(file, start, per);
    results.push({
      process: name,
      repo: name === 'lumengate' ? args.repo : packageRoot(),
      mode: args.mode,
      requests,
      warmup,
      concurrency,
      instructions: counted,
      allocatedBytes: allocated.bytes,
      per: unit,
    });
    process.stdout.write(
      `${name === 'lumengate' ? args.repo : 'bare proxy'}: ${k(counted.total)} instructions per ${unit} (mutator ${k(counted.mutator)}, GC ${k(counted.gc)}, compiler ${k(counted.compiler)}), ` +
        `${allocated.bytes >= 10_240 ? `${(allocated.bytes / 1024).toFixed(1)} KB` : `${allocated.bytes} bytes`} allocated per ${unit} (${requests} ${streaming ? `streams of ${CHUNKS} events` : 'requests'} after ${warmup}, ${concurrency} at a time)\n`,
    );
  }
  if (results.length === 2) {
    const [a, b] = results.map((r) => r.instructions.mutator);
    process.stdout.write(`mutator instructions per event, lumengate / bare proxy: ${(a! / b!).toFixed(2)}×\n`);
  }
  if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
} finally {
  await agent.close();
  await upstream.stop();
  rmSync(work, { recursive: true, force: true });
}
