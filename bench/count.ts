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
// The path is the goal's (issue #16, point 3): PostgreSQL + Redis, plan `pro` counted in Redis,
// every request authenticated, held and settled, on a fresh database dropped afterwards.
//   npm run bench:count [-- --requests 2000] [--warmup 5000] [--concurrency 4] [--repo DIR]
// --repo measures another checkout's build (its dist/) with this one's client, to compare two
// builds in one session; each run prints one line (and --json FILE writes it).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/config/env.js';
import { createTestDatabase, dropRedisKeys } from '../test/support/test-database.js';
import { freePort, seedAccount, startUpstream } from './processes.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '4' },
    repo: { type: 'string', default: packageRoot() },
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    json: { type: 'string' },
  },
});
const requests = Number(args.requests);
const warmup = Number(args.warmup);
const concurrency = Number(args.concurrency);
const log = (msg: string) => process.stderr.write(`bench:count: ${msg}\n`);

const work = mkdtempSync(join(tmpdir(), 'lumengate-count-'));
const upstream = await startUpstream();
await upstream.setScript({ chunks: ['Hello', ', world'], delayMs: 0 });
const limitsPath = join(work, 'limits.json');
writeFileSync(limitsPath, JSON.stringify({ plans: { pro: { requests_per_hour: 1e9, requests_per_day: 2e9 } } }));
// valgrind's gdbserver names its pipes by user and host, from the environment of both sides.
const identity = { USER: process.env.USER || 'root', LOGNAME: process.env.LOGNAME || 'root', HOST: '127.0.0.1' };

/** One server on a fresh database, run as `prefix… node <flags> main.js serve`; stopped and dropped by the returned function. */
async function startServer(prefix: string[], nodeFlags: string[], env: Record<string, string> = {}) {
  const db = await createTestDatabase(args['pg-url']);
  const { key } = await seedAccount(db.url, 'pro');
  const port = await freePort();
  const [command, ...rest] = [...prefix, process.execPath, ...nodeFlags, '--max-semi-space-size=8', join(args.repo, 'dist/src/cli/main.js'), 'serve'];
  const child = spawn(command, rest, {
    env: {
      ...process.env,
      ...identity,
      PORT: String(port),
      DATABASE_URL: db.url,
      LOG_LEVEL: 'warn',
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: `${upstream.origin}/v1`,
      REDIS_URL: args['redis-url'],
      LUMENGATE_REDIS_PREFIX: db.name,
      LUMENGATE_CONFIG: limitsPath,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/api/v2/models`).then(
      async (r) => (await r.arrayBuffer(), r.ok),
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const body = JSON.stringify({ model: 'gpt-5-nano', prompt: 'Say something.' });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  /** n requests, `concurrency` at a time, each connection one after another; every one must succeed. */
  const load = (n: number) =>
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < n / concurrency; i++) {
          const r = await fetch(`${url}/api/v2/generate`, { method: 'POST', headers, body });
          const text = await r.text();
          if (r.status !== 200) throw new Error(`${r.status} ${text}`);
        }
      }),
    );
  return {
    pid: child.pid!,
    load,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      await db.drop();
      await dropRedisKeys(args['redis-url'], db.name);
    },
  };
}

/** Instructions per request under callgrind, by part. */
async function instructions() {
  const out = join(work, 'callgrind.out');
  const server = await startServer(
    ['valgrind', '-q', '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${out}`],
    ['--predictable', '--hash-seed=1', '--random-seed=1'],
  );
  try {
    log(`callgrind: ${warmup} requests of warm-up (slow under valgrind)`);
    await server.load(warmup);
    const control = (...a: string[]) => execFileSync('callgrind_control', [...a, String(server.pid)], { stdio: 'ignore', env: { ...process.env, ...identity } });
    control('-i', 'on');
    control('-z');
    log(`callgrind: counting ${requests} requests`);
    await server.load(requests);
    control('-d');
    control('-i', 'off');
  } finally {
    await server.stop();
  }
  const dump = readdirSync(work).find((f) => f.startsWith('callgrind.out.'));
  if (!dump) throw new Error('callgrind wrote no dump');
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', join(work, dump)], { maxBuffer: 256 << 20 }).toString();
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
  const per = (n: number) => Math.round(n / requests);
  return { mutator: per(parts.mutator), gc: per(parts.gc), compiler: per(parts.compiler), total: per(parts.mutator + parts.gc + parts.compiler) };
}

/** Bytes allocated per request, from the sampling heap profiler (collected objects included). */
async function allocations() {
  const profilePath = join(work, 'heap.json');
  // This checkout's sampler, whichever build is measured (it only reads V8).
  const sampler = join(packageRoot(), 'dist/bench/heap-sampler.js');
  const server = await startServer([], [`--import=${sampler}`], { HEAP_SAMPLE_OUT: profilePath });
  try {
    log(`allocations: ${warmup} requests of warm-up, ${requests} sampled`);
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
  const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as { head: Node };
  return { bytes: Math.round(sum(profile.head) / requests) };
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

try {
  const counted = await instructions();
  const allocated = await allocations();
  const result = { repo: args.repo, requests, warmup, concurrency, instructionsPerRequest: counted, allocatedBytesPerRequest: allocated.bytes };
  const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
  process.stdout.write(
    `${args.repo}: ${k(counted.total)} instructions per request (mutator ${k(counted.mutator)}, GC ${k(counted.gc)}, compiler ${k(counted.compiler)}), ` +
      `${(allocated.bytes / 1024).toFixed(1)} KB allocated per request (${requests} requests after ${warmup}, ${concurrency} at a time)\n`,
  );
  if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2));
} finally {
  await upstream.stop();
  rmSync(work, { recursive: true, force: true });
}
