// `npm run bench:paths`: the request paths `npm run bench` does not time (issue #16, item 5), with
// the same processes (fake upstreams forked, `lumengate serve` spawned, the load client here):
//   a. tool-call streams against plain-text streams of as many upstream events, at 1 and 100 streams;
//   b. job polling: GET /api/v2/generate/{id} from 200 closed-loop pollers, pending and finished jobs;
//   c. /v1/responses against /v1/chat/completions: closed-loop req/s and CPU, streaming TTFT.
// Every comparison alternates its sides in one run. Writes the `paths` section of docs/BENCHMARKS.md.
// --smoke: tiny numbers, report to a temp file (proves the bench works; times nothing).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/config/env.js';
import { classifiers, jsonRequest, runGetLoop, timedStream, type Classify, type TimedStream } from './clients.js';
import { loadAgent, percentile, runThroughput, upstreamHeaders } from './load.js';
import { mediaEnv, startMediaUpstream } from './media-processes.js';
import { cpuPinning, watchProcess } from './proc.js';
import { auditLedger, seedAccount, startLumengate, startUpstream } from './processes.js';
import { fmtMicros, fmtMs, fmtRate, machineLines, writeSection } from './sections.js';

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    json: { type: 'string' },
    chunks: { type: 'string' },
    'gap-ms': { type: 'string' },
    'ttfc-ms': { type: 'string' },
    /** Closed-loop pollers of part b (half of them on pending jobs). */
    pollers: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
  },
});
const smoke = args.smoke;
const config = {
  /** Upstream events per stream, text or tool call alike (at least 3). */
  chunks: Math.max(3, Number(args.chunks ?? (smoke ? 3 : 50))),
  gapMs: Number(args['gap-ms'] ?? (smoke ? 2 : 20)),
  ttfcMs: Number(args['ttfc-ms'] ?? (smoke ? 2 : 20)),
  streams: smoke
    ? [{ streams: 2, rounds: 1 }]
    : [
        { streams: 1, rounds: 15 },
        { streams: 100, rounds: 4 },
      ],
  polling: { pollers: Number(args.pollers ?? (smoke ? 4 : 200)), ...(smoke ? { seconds: 0.5, warmupSeconds: 0.2, repeats: 1 } : { seconds: 5, warmupSeconds: 2, repeats: 3 }) },
  loop: smoke ? { concurrency: 4, seconds: 0.5, warmupSeconds: 0.2, repeats: 1 } : { concurrency: 64, seconds: 5, warmupSeconds: 2, repeats: 3 },
  responsesStreamRounds: smoke ? 1 : 20,
};
const outPath = args.out ?? (smoke ? join(mkdtempSync(join(tmpdir(), 'lumengate-paths-')), 'BENCHMARKS.md') : join(packageRoot(), 'docs/BENCHMARKS.md'));
const log = (msg: string) => process.stderr.write(`bench:paths: ${msg}\n`);

type Kind = 'text' | 'tools';
/** direct: the fake upstream; v1: lumengate's /v1/chat/completions; v2: lumengate's /api/v2/generate/stream. */
type Path = 'direct' | 'v1' | 'v2';
const KINDS: Kind[] = ['text', 'tools'];
const PATHS: Path[] = ['direct', 'v1', 'v2'];

const messages = [{ role: 'user', content: 'Weather in Oslo?' }];
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
/** The same number of upstream events either way: N text deltas, or a call's head and N-1 argument pieces. */
const scripts: Record<Kind, object> = {
  text: { chunks: Array.from({ length: config.chunks }, (_, i) => `tok${i} `), delayMs: config.gapMs, firstChunkDelayMs: config.ttfcMs },
  tools: {
    chunks: [],
    toolCalls: [{ id: 'call_bench', name: 'get_weather', arguments: ['{"city":"', ...Array.from({ length: config.chunks - 3 }, () => 'O'), '"}'] }],
    delayMs: config.gapMs,
    firstChunkDelayMs: config.ttfcMs,
  },
};
const instantScript = { chunks: ['Hello', ', world'], delayMs: 0 };

interface Stats {
  p50: number;
  p99: number;
  n: number;
}
const stats = (xs: number[]): Stats => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), n: xs.length });

interface StreamCell {
  streams: number;
  kind: Kind;
  path: Path;
  errors: number;
  firstError: string | null;
  first: Stats;
  last: Stats;
  marksPerStream: number;
  /** Server CPU per upstream event relayed (null for direct). */
  cpuMicrosPerEvent: number | null;
}

const work = mkdtempSync(join(tmpdir(), 'lumengate-paths-'));
const agent = loadAgent();
const upstream = await startUpstream();
const media = await startMediaUpstream();
const pinning = args['no-pin'] ? null : cpuPinning(cpus().length);
const databaseUrl = `sqlite:${join(work, 'bench.db')}`;
const filesDir = join(work, 'files');
mkdirSync(filesDir);
const { key } = await seedAccount(databaseUrl);
const auth = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
// Provider polls of held jobs every 2 s: part b measures the status route, not the job runner.
const server = await startLumengate({ databaseUrl, upstreamOrigin: upstream.origin, workers: 1, env: mediaEnv(media, filesDir, 2000) });

try {
  const startedAt = new Date().toISOString();
  const streaming = await toolStreams();
  const polling = await jobPolling();
  const responses = await responsesVsChat();
  await server.stop();
  const ledger = await auditLedger(databaseUrl);
  const results = { config, startedAt, pinned: pinning !== null, streaming, polling, responses, ledger };
  writeSection(outPath, 'paths', render(results));
  if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
  log(`wrote ${outPath}`);
} finally {
  await server.stop().catch(() => {});
  await media.stop();
  await upstream.stop();
  await agent.close();
  rmSync(work, { recursive: true, force: true });
}

// ---- a. tool-call streams vs text streams --------------------------------------------------------

function streamRequest(kind: Kind, path: Path): { url: string; headers: Record<string, string>; body: string; classify: Classify; expectedMarks?: number } {
  const withTools = kind === 'tools' ? { tools } : {};
  if (path === 'v2')
    return {
      url: `${server.url}/api/v2/generate/stream`,
      headers: auth,
      body: JSON.stringify({ model: 'gpt-5-nano', prompt: messages[0]!.content, ...withTools }),
      classify: kind === 'text' ? classifiers.v2Text : classifiers.v2Tools,
      // v2 sends one `tool_call` event per complete call.
      expectedMarks: kind === 'text' ? config.chunks : 1,
    };
  const body = JSON.stringify({ model: 'gpt-5-nano', messages, stream: true, stream_options: { include_usage: true }, ...withTools });
  return {
    url: `${path === 'direct' ? upstream.origin : server.url}/v1/chat/completions`,
    headers: path === 'direct' ? upstreamHeaders : auth,
    body,
    classify: kind === 'text' ? classifiers.chatText : classifiers.chatTools,
    expectedMarks: config.chunks,
  };
}

async function toolStreams(): Promise<StreamCell[]> {
  const cells: StreamCell[] = [];
  // Warm every path (JIT, pools) before anything is measured.
  for (const kind of KINDS) {
    await upstream.setScript(scripts[kind]);
    for (const path of PATHS) await Promise.all(Array.from({ length: 4 }, () => timedStream(agent, streamRequest(kind, path))));
  }
  for (const { streams, rounds } of config.streams) {
    log(`a. tool calls vs text: ${streams} stream(s) x ${rounds} round(s)`);
    const got = new Map<string, { rs: TimedStream[]; cpuSeconds: number }>();
    for (let r = 0; r < rounds; r++) {
      // Alternate the order of kinds and of paths round by round, so machine noise hits every cell.
      const kinds = r % 2 === 0 ? KINDS : [...KINDS].reverse();
      const paths = r % 2 === 0 ? PATHS : [...PATHS].reverse();
      for (const kind of kinds) {
        await upstream.setScript(scripts[kind]);
        for (const path of paths) {
          const cell = got.get(`${kind}/${path}`) ?? { rs: [], cpuSeconds: 0 };
          got.set(`${kind}/${path}`, cell);
          const watch = watchProcess(server.pid);
          cell.rs.push(...(await Promise.all(Array.from({ length: streams }, () => timedStream(agent, streamRequest(kind, path))))));
          cell.cpuSeconds += watch.stop().cpuSeconds;
        }
      }
    }
    for (const kind of KINDS)
      for (const path of PATHS) {
        const { rs, cpuSeconds } = got.get(`${kind}/${path}`)!;
        const ok = rs.filter((x) => x.error === null);
        cells.push({
          streams,
          kind,
          path,
          errors: rs.length - ok.length,
          firstError: rs.find((x) => x.error)?.error ?? null,
          first: stats(ok.map((x) => x.firstMs)),
          last: stats(ok.map((x) => x.lastMs)),
          marksPerStream: ok.length ? ok.reduce((n, x) => n + x.marks, 0) / ok.length : NaN,
          cpuMicrosPerEvent: path === 'direct' || ok.length === 0 ? null : (cpuSeconds * 1e6) / (ok.length * config.chunks),
        });
      }
  }
  return cells;
}

// ---- b. job polling ---------------------------------------------------------------------------------

async function createJobs(n: number, body: object, expect: 'completed' | 'pending'): Promise<number[]> {
  const ids: number[] = [];
  // Twenty at a time: creating jobs is set-up, not measured.
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, n - i) }, () => jsonRequest(agent, 'POST', `${server.url}/api/v2/generate`, auth, { model: 'flux-1.1-pro', prompt: 'a red fox', ...body })),
    );
    for (const r of batch) {
      if (r.status !== 200 || r.json?.status !== expect || typeof r.json.id !== 'number') throw new Error(`job set-up: expected a ${expect} generation, got ${r.status} ${r.text.slice(0, 200)}`);
      ids.push(r.json.id);
    }
  }
  return ids;
}

async function jobPolling() {
  const { pollers, seconds, warmupSeconds, repeats } = config.polling;
  const half = Math.floor(pollers / 2);
  log(`b. job polling: ${pollers} pollers (${pollers - half} pending, ${half} finished jobs)`);
  // Finished: the fake answers the create call with the finished prediction; the gateway stores the file.
  await media.setDefaults({});
  const finished = await createJobs(half, {}, 'completed');
  // Pending: the fake keeps them processing; `wait: 0` answers at once.
  await media.setDefaults({ hold: true });
  const pending = await createJobs(pollers - half, { wait: 0 }, 'pending');
  const ids = [...pending, ...finished];
  const urls = ids.map((id) => `${server.url}/api/v2/generate/${id}`);
  const headers = { authorization: `Bearer ${key}` };
  const runs = await pinned(async () => {
    await runGetLoop(agent, urls, headers, warmupSeconds);
    const out = [];
    for (let i = 0; i < repeats; i++) {
      const watch = watchProcess(server.pid);
      const run = await runGetLoop(agent, urls, headers, seconds);
      out.push({ run, cpuSeconds: watch.stop().cpuSeconds });
    }
    return out;
  });
  // Cancel the held jobs so that nothing is left pending for the ledger audit.
  for (const id of pending) {
    const r = await jsonRequest(agent, 'POST', `${server.url}/api/v2/generate/${id}/cancel`, auth, {});
    if (r.status !== 200) throw new Error(`cancel ${id}: ${r.status} ${r.text.slice(0, 200)}`);
  }
  await media.setDefaults({});
  const latency = (from: number, to: number) => runs.flatMap(({ run }) => run.latencyMs.slice(from, to).flat());
  const requests = runs.reduce((n, { run }) => n + run.requests, 0);
  const cpuSeconds = runs.reduce((n, r) => n + r.cpuSeconds, 0);
  const perRun = runs.map(({ run }) => run.requests / run.seconds);
  return {
    pollers,
    pendingJobs: pending.length,
    finishedJobs: finished.length,
    perSecond: percentile(perRun, 50),
    runs: perRun,
    requests,
    errors: runs.reduce((n, { run }) => n + run.errors, 0),
    firstError: runs.find(({ run }) => run.firstError)?.run.firstError ?? null,
    pending: stats(latency(0, pending.length)),
    finished: stats(latency(pending.length, ids.length)),
    all: stats(latency(0, ids.length)),
    cpuMicrosPerPoll: requests ? (cpuSeconds * 1e6) / requests : NaN,
  };
}

// ---- c. /v1/responses vs /v1/chat/completions ------------------------------------------------------

interface LoopRun {
  perSecond: number;
  requests: number;
  errors: number;
  firstError: string | null;
  cpuSeconds: number;
  latency: number[];
}

async function responsesVsChat() {
  const { concurrency, seconds, warmupSeconds, repeats } = config.loop;
  log(`c. /v1/responses vs /v1/chat/completions: closed loop, ${concurrency} callers`);
  const bodies = {
    chat: JSON.stringify({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'Say something.' }] }),
    responses: JSON.stringify({ model: 'gpt-5-nano', input: 'Say something.' }),
  };
  const url = { chat: `${server.url}/v1/chat/completions`, responses: `${server.url}/v1/responses` };
  const sides = ['chat', 'responses'] as const;
  await upstream.setScript(instantScript);
  const loops = await pinned(async () => {
    const got: Record<(typeof sides)[number], LoopRun[]> = { chat: [], responses: [] };
    for (const side of sides) await runThroughput(agent, url[side], auth, bodies[side], concurrency, warmupSeconds);
    for (let i = 0; i < repeats; i++) {
      for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
        const watch = watchProcess(server.pid);
        const t = await runThroughput(agent, url[side], auth, bodies[side], concurrency, seconds);
        got[side].push({ perSecond: t.perSecond, requests: t.requests, errors: t.errors, firstError: t.firstError, cpuSeconds: watch.stop().cpuSeconds, latency: t.latencyMs });
      }
    }
    return got;
  });
  const loop = (side: (typeof sides)[number]) => {
    const rs = loops[side];
    const requests = rs.reduce((n, r) => n + r.requests, 0);
    return {
      perSecond: percentile(
        rs.map((r) => r.perSecond),
        50,
      ),
      runs: rs.map((r) => r.perSecond),
      requests,
      errors: rs.reduce((n, r) => n + r.errors, 0),
      firstError: rs.find((r) => r.firstError)?.firstError ?? null,
      latency: stats(rs.flatMap((r) => r.latency)),
      cpuMicrosPerRequest: requests ? (rs.reduce((n, r) => n + r.cpuSeconds, 0) * 1e6) / requests : NaN,
    };
  };

  log(`c. streaming TTFT, 1 stream x ${config.responsesStreamRounds} round(s)`);
  await upstream.setScript(scripts.text);
  const streamReq = {
    direct: streamRequest('text', 'direct'),
    chat: streamRequest('text', 'v1'),
    responses: {
      url: url.responses,
      headers: auth,
      body: JSON.stringify({ model: 'gpt-5-nano', input: messages[0]!.content, stream: true }),
      classify: classifiers.responsesText,
      expectedMarks: config.chunks,
    },
  };
  const order = ['direct', 'chat', 'responses'] as const;
  const ttft = { direct: [] as TimedStream[], chat: [] as TimedStream[], responses: [] as TimedStream[] };
  for (const side of order) await timedStream(agent, streamReq[side]); // warm-up
  for (let r = 0; r < config.responsesStreamRounds; r++) {
    for (const side of r % 2 === 0 ? order : [...order].reverse()) ttft[side].push(await timedStream(agent, streamReq[side]));
  }
  const streamSide = (rs: TimedStream[]) => {
    const ok = rs.filter((x) => x.error === null);
    return { errors: rs.length - ok.length, firstError: rs.find((x) => x.error)?.error ?? null, ttft: stats(ok.map((x) => x.firstMs)) };
  };
  return {
    concurrency,
    chat: loop('chat'),
    responses: loop('responses'),
    streaming: { direct: streamSide(ttft.direct), chat: streamSide(ttft.chat), responses: streamSide(ttft.responses) },
  };
}

/**
 * Runs a closed loop with the server alone on CPU 0 and this client and the upstreams on the others
 * (as `npm run bench` takes its one-core figures); every process free again afterwards.
 */
async function pinned<T>(fn: () => Promise<T>): Promise<T> {
  if (!pinning) return fn();
  const others = [process.pid, upstream.pid, media.pid];
  pinning.pin(server.pid, pinning.serverCpus);
  for (const p of others) pinning.pin(p, pinning.otherCpus);
  try {
    return await fn();
  } finally {
    for (const p of [server.pid, ...others]) {
      try {
        pinning.pin(p, pinning.allCpus);
      } catch {
        /* exited */
      }
    }
  }
}

// ---- report -----------------------------------------------------------------------------------------

type Results = {
  config: typeof config;
  startedAt: string;
  pinned: boolean;
  streaming: StreamCell[];
  polling: Awaited<ReturnType<typeof jobPolling>>;
  responses: Awaited<ReturnType<typeof responsesVsChat>>;
  ledger: { mismatches: number; pending: number; generations: number };
};

function render(r: Results): string {
  const c = r.config;
  const pair = (s: Stats) => `${fmtMs(s.p50)} / ${fmtMs(s.p99)}`;
  const minus = (a: Stats, b: Stats) => `${fmtMs(a.p50 - b.p50)} / ${fmtMs(a.p99 - b.p99)}`;
  const L: string[] = [];
  L.push('## Other request paths: tool calls, job polling, /v1/responses', '');
  L.push(
    `Generated by \`npm run bench:paths\` (bench/paths.ts), run started ${r.startedAt}${smoke ? ' (**--smoke**: tiny numbers, nothing timed)' : ''}. The same processes as \`npm run bench\`: the fake OpenAI upstream and a fake Replicate (test/support/fake-replicate.ts) each in a process of its own, \`lumengate serve\` (SQLite, one worker, LOG_LEVEL=warn), and the load client (undici). Every comparison alternates its sides in the same run; "added" = through lumengate minus directly to the fake upstream, at the same percentile.`,
    '',
  );
  L.push(...machineLines(), '');

  L.push(
    '### Tool-call streaming vs plain text',
    '',
    `The upstream sends ${c.chunks} events per stream either way, ${c.ttfcMs} ms to the first and ${c.gapMs} ms apart: ${c.chunks} content deltas, or one tool call (its head with id and name, then ${c.chunks - 1} argument pieces), with \`tools\` in the request. Milliseconds, p50 / p99. "First" = request start to the first content delta or tool-call delta. On \`/v1/chat/completions\` the call streams as \`delta.tool_calls\` pieces; on \`/api/v2/generate/stream\` there is no tool-call delta event: one \`tool_call\` event carries each complete call (docs/api.md, Tools), so its "added" is measured against the direct stream's **last** event (the moment the call is complete upstream). Server CPU per event = the server's CPU time (/proc) over the batch divided by the upstream events relayed (streams × ${c.chunks}); it includes each request's fixed work (auth, hold, settle).`,
    '',
  );
  L.push('| streams | kind | path | first event | added | last event | events / stream | server CPU per event | errors |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const label: Record<Path, string> = { direct: 'direct', v1: '/v1/chat/completions', v2: '/api/v2/generate/stream' };
  for (const cell of r.streaming) {
    const direct = r.streaming.find((x) => x.streams === cell.streams && x.kind === cell.kind && x.path === 'direct')!;
    const added = cell.path === 'direct' ? '' : cell.kind === 'tools' && cell.path === 'v2' ? `${minus(cell.first, direct.last)} (vs direct last)` : minus(cell.first, direct.first);
    L.push(
      `| ${cell.streams} | ${cell.kind} | ${label[cell.path]} | ${pair(cell.first)} | ${added} | ${pair(cell.last)} | ${Number.isFinite(cell.marksPerStream) ? cell.marksPerStream.toFixed(0) : '–'} | ${cell.cpuMicrosPerEvent === null ? '' : fmtMicros(cell.cpuMicrosPerEvent)} | ${cell.errors} |`,
    );
  }
  L.push('');

  const p = r.polling;
  L.push(
    '### Job polling',
    '',
    `\`GET /api/v2/generate/{id}\`, closed loop: ${p.pollers} pollers, each polling its own job again as soon as the last answer arrived: ${p.pendingJobs} pending image jobs (the fake Replicate keeps them processing; the gateway's worker polls it every 2 s) and ${p.finishedJobs} finished ones (file stored). ${c.polling.warmupSeconds} s of warm-up, then ${c.polling.repeats} run(s) of ${c.polling.seconds} s; req/s is the median run; latency pools the runs. ${r.pinned ? 'The server alone on CPU 0 (taskset), the client and fakes on the others.' : 'Unpinned.'} The pending jobs are cancelled afterwards.`,
    '',
  );
  L.push('| jobs | latency p50 / p99 (ms) | polls |', '| --- | --- | --- |');
  L.push(`| pending | ${pair(p.pending)} | ${p.pending.n} |`, `| finished | ${pair(p.finished)} | ${p.finished.n} |`, `| all | ${pair(p.all)} | ${p.all.n} |`, '');
  L.push(
    `${fmtRate(p.perSecond)} polls/s (runs: ${p.runs.map(fmtRate).join(', ')}), ${fmtMicros(p.cpuMicrosPerPoll)} of server CPU per poll, ${p.errors} errors${p.firstError ? ` (first: \`${p.firstError}\`)` : ''}.`,
    '',
  );

  const x = r.responses;
  L.push(
    '### /v1/responses vs /v1/chat/completions',
    '',
    `The same prompt, model and upstream. Non-streaming: closed loop with ${x.concurrency} callers, the upstream answering at once (2 chunks); ${c.loop.warmupSeconds} s warm-up per side, then ${c.loop.repeats} run(s) of ${c.loop.seconds} s per side, alternating; req/s is the median run. ${r.pinned ? 'Server alone on CPU 0.' : 'Unpinned.'} Streaming: 1 stream at a time, ${c.responsesStreamRounds} round(s) alternating direct, chat and responses; TTFT = request start to the first \`delta.content\` chunk or \`response.output_text.delta\` event.`,
    '',
  );
  L.push('| API | req/s | server CPU per request | latency p50 / p99 (ms) | errors | streaming TTFT p50 / p99 | added TTFT | stream errors |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  const d = x.streaming.direct;
  L.push(`| direct to the upstream | | | | | ${pair(d.ttft)} | | ${d.errors} |`);
  for (const side of ['chat', 'responses'] as const) {
    const l = x[side];
    const s = x.streaming[side];
    L.push(
      `| ${side === 'chat' ? '/v1/chat/completions' : '/v1/responses'} | ${fmtRate(l.perSecond)} (${l.runs.map(fmtRate).join(', ')}) | ${fmtMicros(l.cpuMicrosPerRequest)} | ${pair(l.latency)} | ${l.errors} | ${pair(s.ttft)} | ${minus(s.ttft, d.ttft)} | ${s.errors} |`,
    );
  }
  const firstErrors = [...r.streaming.map((s) => s.firstError), x.chat.firstError, x.responses.firstError, d.firstError, x.streaming.chat.firstError, x.streaming.responses.firstError].filter(Boolean);
  if (firstErrors.length) L.push('', `First errors: ${firstErrors.map((e) => `\`${e}\``).join('; ')}`);
  L.push('', `Ledger after the run: ${r.ledger.generations} generations, ${r.ledger.pending} left pending, ${r.ledger.mismatches} accounts whose balance ≠ sum of ledger.`);
  return L.join('\n');
}
