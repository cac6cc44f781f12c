// `npm run bench:soak` (issue #16, item 6): mixed traffic at a steady moderate rate against one
// `lumengate serve` for --minutes (default 10), its RSS sampled every 5 s from /proc. Goals: RSS
// growth ≤ 5 % between minute 2 and the end, no errors, a clean ledger afterwards. Writes the `soak`
// section of docs/BENCHMARKS.md.
//   npm run bench:soak [-- --minutes 10] [--rate 50] [--pg [--pg-url URL]] [--redis [--redis-url URL]] [--node-flags "F …"] [--out FILE] [--json FILE]
// SQLite by default; --pg runs on a fresh PostgreSQL database (dropped afterwards), --redis adds Redis.
// `--minutes 0.2 --out <tmp>` is a quick check.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/config/env.js';
import { createTestDatabase, dropRedisKeys } from '../test/support/test-database.js';
import { classifiers, jsonRequest, timedStream, type Answer, type Classify } from './clients.js';
import { loadAgent } from './load.js';
import { extraTextModels, mediaEnv, startMediaUpstream } from './media-processes.js';
import { sampleProcess } from './proc.js';
import { auditLedger, seedAccount, startLumengate, startUpstream } from './processes.js';
import { machineLines, writeSection } from './sections.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    /** Requests started per second, every kind together (media jobs and their polls come on top). */
    rate: { type: 'string', default: '50' },
    pg: { type: 'boolean', default: false },
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    redis: { type: 'boolean', default: false },
    /** LUMENGATE_STREAM_RETAIN_S for the server (default: the server's own, 300 s). */
    'retain-seconds': { type: 'string' },
    /** Node/V8 flags for the server after its launch flags (a later flag wins): GC settings to compare. */
    'node-flags': { type: 'string', default: '' },
    'redis-url': { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    out: { type: 'string' },
    json: { type: 'string' },
  },
});
const minutes = Number(args.minutes);
const rate = Number(args.rate);
const durationMs = minutes * 60_000;
/** The growth baseline: minute 2, or a fifth of a shorter run. */
const baselineMs = Math.min(120_000, durationMs / 5);
const SAMPLE_MS = 5_000;
/** Requests in flight beyond this are not started (counted as `client backlog` errors): a stalled server must not grow the client without bound. */
const MAX_IN_FLIGHT = 500;
/** One media job every this many ms, alternately waited for and polled. */
const MEDIA_EVERY_MS = 5_000;
const STREAM_CHUNKS = 20;
const TOOL_PIECES = 10;
const outPath = args.out ?? join(packageRoot(), 'docs/BENCHMARKS.md');
const log = (msg: string) => process.stderr.write(`bench:soak: ${msg}\n`);

/**
 * The mix, one kind per slot of a 20-slot cycle (so 50 req/s = 2.5 cycles a second). Streams last
 * ~0.4 s (20 chunks 20 ms apart): about 5 are open at any time at 50 req/s.
 */
const MIX = {
  'v2 stream': 4,
  'v2 sync': 6,
  'chat sync': 4,
  'chat stream': 2,
  'v2 tool call (stream)': 1,
  'chat tool call (stream)': 1,
  responses: 2,
} as const;
type Kind = keyof typeof MIX | 'media job (wait)' | 'media job (poll)' | 'media poll' | 'client backlog';
const cycle = (Object.entries(MIX) as Array<[Kind, number]>).flatMap(([k, n]) => Array.from({ length: n }, () => k));
// Interleave the cycle's kinds (v2 stream, v2 sync, chat sync, … then again) rather than in runs.
const slots = Array.from({ length: cycle.length }, (_, i) => cycle[(i * 7) % cycle.length]!);

const work = mkdtempSync(join(tmpdir(), 'lumengate-soak-'));
const filesDir = join(work, 'files');
mkdirSync(filesDir);
const agent = loadAgent();
// Three text upstreams, each with its own script: instant answers, slow streams, tool calls.
const instantUp = await startUpstream();
const streamUp = await startUpstream();
const toolsUp = await startUpstream();
const media = await startMediaUpstream();
await instantUp.setScript({ chunks: ['Hello', ', world'], delayMs: 0 });
await streamUp.setScript({ chunks: Array.from({ length: STREAM_CHUNKS }, (_, i) => `tok${i} `), delayMs: 20, firstChunkDelayMs: 20 });
await toolsUp.setScript({
  chunks: [],
  toolCalls: [{ id: 'call_soak', name: 'get_weather', arguments: ['{"city":"', ...Array.from({ length: TOOL_PIECES - 2 }, () => 'O'), '"}'] }],
  delayMs: 5,
});
await media.setDefaults({ polls: 1 });

const database = await createTestDatabase(args.pg ? args['pg-url'] : `sqlite:${join(work, 'soak.db')}`);
const redisEnv: Record<string, string> = args.redis ? { REDIS_URL: args['redis-url'], LUMENGATE_REDIS_PREFIX: database.name } : {};
const { key } = await seedAccount(database.url);
const auth = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
const server = await startLumengate({
  databaseUrl: database.url,
  upstreamOrigin: instantUp.origin,
  workers: 1,
  nodeFlags: args['node-flags'].split(' ').filter(Boolean),
  env: {
    ...mediaEnv(media, filesDir, 100),
    ...redisEnv,
    ...(args['retain-seconds'] ? { LUMENGATE_STREAM_RETAIN_S: args['retain-seconds'] } : {}),
    ...extraTextModels(join(work, 'catalog.json'), [
      { slug: 'soak-stream', provider: 'soakstream', origin: streamUp.origin },
      { slug: 'soak-tools', provider: 'soaktools', origin: toolsUp.origin },
    ]),
  },
});

const counts = new Map<Kind, number>();
const errors = new Map<Kind, { n: number; first: string }>();
const count = (kind: Kind) => counts.set(kind, (counts.get(kind) ?? 0) + 1);
const fail = (kind: Kind, error: string) => {
  const e = errors.get(kind);
  if (e) e.n++;
  else errors.set(kind, { n: 1, first: error });
};

const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
const messages = [{ role: 'user', content: 'Say something.' }];

/** One request of a kind, checked: null when it answered as it should, else what went wrong. */
async function send(kind: Kind): Promise<string | null> {
  const stream = async (path: string, body: object, classify: Classify, expectedMarks: number) =>
    (await timedStream(agent, { url: `${server.url}${path}`, headers: auth, body: JSON.stringify(body), classify, expectedMarks })).error;
  const post = async (path: string, body: object, ok: (json: Answer) => boolean) => {
    const r = await jsonRequest(agent, 'POST', `${server.url}${path}`, auth, body);
    return r.status === 200 && r.json !== null && ok(r.json) ? null : `HTTP ${r.status}: ${r.text.slice(0, 200)}`;
  };
  switch (kind) {
    case 'v2 stream':
      return stream('/api/v2/generate/stream', { model: 'soak-stream', prompt: 'Say something.' }, classifiers.v2Text, STREAM_CHUNKS);
    case 'v2 sync':
      return post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'Say something.' }, (g) => g.status === 'completed');
    case 'chat sync':
      return post('/v1/chat/completions', { model: 'gpt-5-nano', messages }, (c) => typeof c.choices?.[0]?.message?.content === 'string');
    case 'chat stream':
      return stream('/v1/chat/completions', { model: 'soak-stream', messages, stream: true }, classifiers.chatText, STREAM_CHUNKS);
    case 'v2 tool call (stream)':
      return stream('/api/v2/generate/stream', { model: 'soak-tools', prompt: 'Weather in Oslo?', tools }, classifiers.v2Tools, 1);
    case 'chat tool call (stream)':
      return stream('/v1/chat/completions', { model: 'soak-tools', messages, tools, stream: true }, classifiers.chatTools, TOOL_PIECES + 1);
    case 'responses':
      return post('/v1/responses', { model: 'gpt-5-nano', input: 'Say something.' }, (r) => r.status === 'completed');
    case 'media job (wait)':
      return post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'a red fox' }, (g) => g.status === 'completed');
    case 'media job (poll)':
      return mediaPolled();
    default:
      return `no such kind ${kind}`;
  }
}

/** A job answered pending at once (`wait: 0`), then polled every 250 ms until it completes. */
async function mediaPolled(): Promise<string | null> {
  const r = await jsonRequest(agent, 'POST', `${server.url}/api/v2/generate`, auth, { model: 'flux-1.1-pro', prompt: 'a red fox', wait: 0 });
  if (r.status !== 200 || typeof r.json?.id !== 'number') return `HTTP ${r.status}: ${r.text.slice(0, 200)}`;
  const deadline = performance.now() + 60_000;
  for (;;) {
    await new Promise((res) => setTimeout(res, 250));
    const g = await jsonRequest(agent, 'GET', `${server.url}/api/v2/generate/${r.json.id}`, { authorization: auth.authorization });
    count('media poll');
    if (g.status !== 200) fail('media poll', `HTTP ${g.status}: ${g.text.slice(0, 200)}`);
    else if (g.json?.status === 'completed') return null;
    else if (g.json?.status !== 'pending') return `job ended ${g.json?.status}: ${g.text.slice(0, 200)}`;
    if (performance.now() > deadline) return `job ${r.json.id} still pending after 60 s`;
  }
}

const inFlight = new Set<Promise<void>>();
function launch(kind: Kind): void {
  if (inFlight.size >= MAX_IN_FLIGHT) {
    count('client backlog');
    fail('client backlog', `${MAX_IN_FLIGHT} requests in flight`);
    return;
  }
  count(kind);
  const p: Promise<void> = send(kind)
    .then(
      (error) => {
        if (error) fail(kind, error);
      },
      (err: unknown) => fail(kind, err instanceof Error ? `${err.name}: ${err.message}` : String(err)),
    )
    .finally(() => inFlight.delete(p));
  inFlight.add(p);
}

/** RSS and CPU from /proc; the V8 heap and external memory from the server's own /metrics (filled in when it answers). */
type Sample = { atMs: number; rssBytes: number; cpuSeconds: number; heapUsedBytes?: number; heapTotalBytes?: number; externalBytes?: number };
const samples: Sample[] = [];

/** Where the RSS goes: prom-client's process metrics (V8 heap used and reserved, memory outside it). */
async function heapOf(s: Sample): Promise<void> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  s.heapUsedBytes = metric('nodejs_heap_size_used_bytes');
  s.heapTotalBytes = metric('nodejs_heap_size_total_bytes');
  s.externalBytes = metric('nodejs_external_memory_bytes');
}
try {
  log(`${minutes} min at ${rate} req/s, ${args.pg ? 'PostgreSQL' : 'SQLite'}${args.redis ? ' + Redis' : ''}`);
  const t0 = performance.now();
  const heapReads = new Set<Promise<void>>();
  const sample = () => {
    const s: Sample = { atMs: performance.now() - t0, ...sampleProcess(server.pid) };
    samples.push(s);
    const read = heapOf(s).catch(() => {});
    heapReads.add(read);
    void read.finally(() => heapReads.delete(read));
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);
  let started = 0;
  let mediaJobs = 0;
  // Open loop: each tick starts the requests due by now, whatever the server's answers are doing.
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - t0;
      if (elapsed >= durationMs) {
        clearInterval(tick);
        resolve();
        return;
      }
      const due = Math.floor((rate * elapsed) / 1000);
      while (started < due) launch(slots[started++ % slots.length]!);
      const mediaDue = Math.floor(elapsed / MEDIA_EVERY_MS) + 1;
      while (mediaJobs < mediaDue) launch(mediaJobs++ % 2 === 0 ? 'media job (wait)' : 'media job (poll)');
    }, 10);
  });
  await Promise.all(inFlight);
  clearInterval(sampler);
  sample();
  await Promise.all(heapReads);
  await server.stop();
  const ledger = await auditLedger(database.url);
  const results = summarise(samples, ledger);
  // One section per database: the SQLite soak and the PostgreSQL one (--pg) side by side.
  writeSection(outPath, args.pg ? 'soak-postgres' : 'soak', render(results));
  if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
  log(`wrote ${outPath}: RSS ${results.growthPercent.toFixed(1)} % from ${results.baseline.atSeconds.toFixed(0)} s to the end, ${results.errorCount} errors`);
} finally {
  await server.stop().catch(() => {});
  for (const p of [media, toolsUp, streamUp, instantUp]) await p.stop();
  await agent.close();
  await database.drop();
  if (args.redis) await dropRedisKeys(args['redis-url'], database.name);
  rmSync(work, { recursive: true, force: true });
}

/** The run's figures: RSS at the baseline and at the end, requests and errors by kind, the ledger. */
function summarise(samples: Sample[], ledger: Awaited<ReturnType<typeof auditLedger>>) {
  const base = samples.find((s) => s.atMs >= baselineMs) ?? samples.at(-1)!;
  const end = samples.at(-1)!;
  const elapsedS = end.atMs / 1000;
  return {
    startedAt: new Date(Date.now() - end.atMs).toISOString(),
    minutes,
    rate,
    database: args.pg ? 'postgres' : 'sqlite',
    redis: args.redis,
    retainSeconds: Number(args['retain-seconds'] ?? 300),
    nodeFlags: args['node-flags'],
    seconds: elapsedS,
    baseline: { atSeconds: base.atMs / 1000, rssBytes: base.rssBytes },
    end: { atSeconds: end.atMs / 1000, rssBytes: end.rssBytes },
    growthPercent: (100 * (end.rssBytes - base.rssBytes)) / base.rssBytes,
    heap: { baseline: heapFigures(base), end: heapFigures(end) },
    peakRssBytes: Math.max(...samples.map((s) => s.rssBytes)),
    cpuCores: (end.cpuSeconds - samples[0]!.cpuSeconds) / Math.max(0.001, elapsedS),
    requests: Object.fromEntries(counts),
    errors: Object.fromEntries(errors),
    errorCount: [...errors.values()].reduce((n, e) => n + e.n, 0),
    ledger,
    samples: samples.map((s) => ({ atSeconds: Math.round(s.atMs / 100) / 10, rssMB: toMB(s.rssBytes), heapUsedMB: toMB(s.heapUsedBytes), heapTotalMB: toMB(s.heapTotalBytes) })),
  };
}

function toMB(b: number | undefined): number | null {
  return b === undefined || Number.isNaN(b) ? null : Math.round(b / 1024 / 102.4) / 10;
}

function heapFigures(s: Sample) {
  return { usedMB: toMB(s.heapUsedBytes), totalMB: toMB(s.heapTotalBytes), externalMB: toMB(s.externalBytes) };
}

function render(r: ReturnType<typeof summarise>): string {
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
  const met = (ok: boolean) => (ok ? 'yes' : '**no**');
  const L: string[] = [];
  L.push(`## Soak: mixed traffic, memory over time${r.database === 'postgres' ? ` (PostgreSQL${r.redis ? ' + Redis' : ''})` : ''}`, '');
  L.push(
    `Generated by \`npm run bench:soak\` (bench/soak.ts), run started ${r.startedAt}: ${r.minutes} min against one \`lumengate serve\` (${r.database === 'postgres' ? 'PostgreSQL' : 'SQLite'}${r.redis ? ' + Redis' : ''}, one worker, LOG_LEVEL=warn), ${r.rate} requests started per second in an open loop (started on schedule whatever the answers do), cycling through a fixed mix; one image job every ${MEDIA_EVERY_MS / 1000} s on the fake Replicate, alternately waited for and polled (every 250 ms) until it completes. Streams: ${STREAM_CHUNKS} chunks 20 ms apart from their own fake upstream, a few open at any time; tool calls: one call in ${TOOL_PIECES + 1} deltas from a third. Ended streams stay re-attachable for ${r.retainSeconds} s (\`LUMENGATE_STREAM_RETAIN_S\`${r.retainSeconds === 300 ? ', the default' : ''}${r.redis ? ', in Redis' : r.database === 'postgres' ? ", in the server's memory" : ', in the SQLite file once ended'}). The server's RSS (VmRSS from /proc) is sampled every ${SAMPLE_MS / 1000} s.${r.nodeFlags ? ` Server started with \`${r.nodeFlags}\` after its launch flags.` : ''}`,
    '',
  );
  L.push(...machineLines(), '');
  L.push('| goal | measured | met |', '| --- | --- | --- |');
  L.push(
    `| RSS growth ≤ 5 % from ${r.baseline.atSeconds >= 119 ? 'minute 2' : `${r.baseline.atSeconds.toFixed(0)} s`} to the end | ${mb(r.baseline.rssBytes)} → ${mb(r.end.rssBytes)} at ${(r.end.atSeconds / 60).toFixed(1)} min: ${r.growthPercent >= 0 ? '+' : ''}${r.growthPercent.toFixed(1)} % | ${met(r.growthPercent <= 5)} |`,
  );
  L.push(`| no errors | ${r.errorCount} | ${met(r.errorCount === 0)} |`);
  L.push(
    `| ledger: 0 mismatches, 0 pending | ${r.ledger.mismatches} mismatches, ${r.ledger.pending} pending of ${r.ledger.generations} generations | ${met(r.ledger.mismatches === 0 && r.ledger.pending === 0)} |`,
  );
  L.push('');
  L.push(`Peak RSS ${mb(r.peakRssBytes)}; server CPU ${(100 * r.cpuCores).toFixed(0)} % of a core on average.`, '');
  const h = (f: ReturnType<typeof heapFigures>) => `${f.usedMB ?? '?'} MB used of ${f.totalMB ?? '?'} MB reserved, ${f.externalMB ?? '?'} MB external`;
  L.push(`V8 heap (the server's /metrics) at the baseline: ${h(r.heap.baseline)}; at the end: ${h(r.heap.end)}.`, '');
  L.push('| kind | requests | errors | first error |', '| --- | --- | --- | --- |');
  const kinds = new Set([...Object.keys(r.requests), ...Object.keys(r.errors)]);
  for (const k of kinds) {
    const e = r.errors[k];
    L.push(`| ${k} | ${r.requests[k] ?? 0} | ${e?.n ?? 0} | ${e ? `\`${e.first.replace(/\|/g, '\\|').replace(/`/g, "'")}\`` : ''} |`);
  }
  L.push('', `RSS samples (s: MB): ${r.samples.map((s) => `${s.atSeconds.toFixed(0)}: ${s.rssMB}`).join(', ')}.`);
  L.push('', `V8 heap used, same samples (s: MB): ${r.samples.map((s) => `${s.atSeconds.toFixed(0)}: ${s.heapUsedMB ?? '?'}`).join(', ')}.`);
  return L.join('\n');
}
