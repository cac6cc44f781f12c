// `npm run bench:rtt`: counts (never times) the PostgreSQL statements and Redis commands that one
// request costs, request by request, on PostgreSQL + Redis. Counts are deterministic, so they can
// be taken on a loaded machine where throughput figures cannot.
//
// How it counts, without touching product code: the server runs in this process (startServer, as
// the tests start it) and every HTTP request it serves runs inside an AsyncLocalStorage context.
// pg's Client.prototype.query and ioredis's Redis.prototype.sendCommand are wrapped: a call made
// in that context is recorded with its pool client, its start and its end. Background work (the
// job runner's polls, sweeps) has no such context and is counted apart. Only this server's own
// connections are seen, so other users of the same PostgreSQL and Redis (test loops) do not
// skew the counts, which MONITOR or INFO commandstats would.
//
// Round trips: pg sends one query per client at a time (no pipelining), so each statement is one
// round trip. ioredis writes a MULTI/EXEC or pipeline in one write: Redis commands issued in one
// synchronous run (same tick) are counted as one round trip. undici's diagnostics channels mark
// when the upstream request leaves and when its response headers arrive, so the table shows which
// round trips happen before the upstream call (on the critical path to the first token) and after.
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import pino from 'pino';
import { settingsFromEnv } from '../src/config/env.js';
import { startServer } from '../src/server.js';
import { createAccount } from '../src/accounts/service.js';
import { createKey } from '../src/accounts/keys.js';
import type { PlanName } from '../src/config/catalog.js';
import { startFakeOpenAI } from '../test/support/fake-openai.js';

const { values: args } = parseArgs({
  options: {
    pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    redis: { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    json: { type: 'string' },
    out: { type: 'string' },
  },
});

/** One recorded operation of a request. */
export interface Op {
  kind: 'pg' | 'redis' | 'mark';
  /** Normalised statement or command (first ~100 characters), or the marker's name. */
  text: string;
  /** pg: which pool client (1, 2, … in order of first use); redis: which connection. */
  conn: number;
  /** A named (prepared) pg statement. */
  prepared?: boolean;
  /** Redis: commands written in the same synchronous run share a batch (one round trip). */
  batch?: number;
  start: number;
  end: number;
}

interface Recording {
  ops: Op[];
  inFlight: number;
  lastActivity: number;
}

const als = new AsyncLocalStorage<Recording>();
/** Operations made outside any request (background loops), while a request was being counted. */
let background: Op[] | null = null;

const connIds = new WeakMap<object, number>();
const nextConn = { pg: 1, redis: 1 };
function connOf(kind: 'pg' | 'redis', c: object): number {
  let id = connIds.get(c);
  if (id === undefined) {
    id = nextConn[kind]++;
    connIds.set(c, id);
  }
  return id;
}

function track<T>(op: Op, rec: Recording | undefined, run: () => T, settled: (r: T) => Promise<unknown> | undefined): T {
  if (!rec) {
    background?.push(op);
    return run();
  }
  rec.ops.push(op);
  rec.inFlight++;
  const done = () => {
    op.end = performance.now();
    rec.inFlight--;
    rec.lastActivity = op.end;
  };
  const result = run();
  const p = settled(result);
  if (p) p.then(done, done);
  else done();
  return result;
}

/** Collapses whitespace and literal noise; keeps the first ~100 characters. */
export function normaliseSql(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim().slice(0, 100);
}

// --- pg: every statement through a pool client ---
type QueryFn = (this: pg.Client, config: unknown, values?: unknown, cb?: unknown) => unknown;
const pgQuery = pg.Client.prototype.query as unknown as QueryFn;
(pg.Client.prototype as unknown as { query: QueryFn }).query = function (this: pg.Client, config, values, cb) {
  const text = typeof config === 'string' ? config : ((config as { text?: string } | null)?.text ?? '?');
  const prepared = typeof config === 'object' && config !== null && 'name' in config && !!(config as { name?: string }).name;
  const now = performance.now();
  const op: Op = { kind: 'pg', text: normaliseSql(text), conn: connOf('pg', this), prepared, start: now, end: now };
  return track(
    op,
    als.getStore(),
    () => pgQuery.call(this, config, values, cb),
    (r) => (r && typeof (r as Promise<unknown>).then === 'function' ? (r as Promise<unknown>) : undefined),
  );
};

// --- ioredis: every command, batched by synchronous run ---
let redisBatch = 0;
let batchOpen = false;
type SendCommand = (this: Redis, command: { name: string; args: unknown[]; promise: Promise<unknown> }, stream?: unknown) => unknown;
const sendCommand = Redis.prototype.sendCommand as unknown as SendCommand;
(Redis.prototype as unknown as { sendCommand: SendCommand }).sendCommand = function (this: Redis, command, stream) {
  if (!batchOpen) {
    batchOpen = true;
    redisBatch++;
    queueMicrotask(() => {
      batchOpen = false;
    });
  }
  const now = performance.now();
  const op: Op = { kind: 'redis', text: redisText(command.name, command.args), conn: connOf('redis', this), batch: redisBatch, start: now, end: now };
  return track(
    op,
    als.getStore(),
    () => sendCommand.call(this, command, stream),
    () => command.promise,
  );
};

/** Command name and its key with the account id and generation ids replaced, for grouping. */
function redisText(name: string, cmdArgs: unknown[]): string {
  const str = (a: unknown) => (a instanceof Buffer ? a.toString() : typeof a === 'string' || typeof a === 'number' ? String(a) : '');
  // EVALSHA's first argument is the script hash; the key comes after the key count.
  const script = name === 'evalsha' || name === 'eval';
  const key = str(script ? cmdArgs[2] : cmdArgs[0])
    .replace(/^rtt_\d+:/, '{prefix}:')
    .replace(/\d+/g, 'N');
  return `${name.toUpperCase()}${script ? ` <${str(cmdArgs[0]).slice(0, 8)}…>` : ''} ${key}`.slice(0, 100);
}

// --- markers: the upstream call ---
const mark = (text: string) => {
  const rec = als.getStore();
  if (!rec) return;
  const now = performance.now();
  rec.ops.push({ kind: 'mark', text, conn: 0, start: now, end: now });
};
subscribe('undici:request:create', () => mark('→ upstream request sent'));
subscribe('undici:request:headers', () => mark('← upstream response headers'));

// --- the run ---
const log = (msg: string) => process.stderr.write(`rtt: ${msg}\n`);

const dbName = `rtt_${process.pid}`;
const admin = new pg.Client({ connectionString: args.pg, connectionTimeoutMillis: 3000 });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const dbUrl = new URL(args.pg);
dbUrl.pathname = `/${dbName}`;
const fake = await startFakeOpenAI();
const filesDir = mkdtempSync(join(tmpdir(), 'lumengate-rtt-'));
const settings = settingsFromEnv({
  HOST: '127.0.0.1',
  PORT: '0',
  DATABASE_URL: dbUrl.toString(),
  REDIS_URL: args.redis,
  LUMENGATE_REDIS_PREFIX: dbName,
  OPENAI_API_KEY: 'sk-rtt',
  OPENAI_BASE_URL: `${fake.origin}/v1`,
  LUMENGATE_FILES_DIR: filesDir,
  LOG_LEVEL: 'warn',
});
const server = await startServer({ settings, logger: pino({ level: 'warn' }) });

// Every request the server serves is counted in the recording that is current when it arrives.
let current: Recording | null = null;
const httpServer = server.app.server;
const listeners = httpServer.listeners('request') as Array<(...a: unknown[]) => void>;
httpServer.removeAllListeners('request');
for (const l of listeners) {
  httpServer.on('request', (req: unknown, res: { once(e: string, f: () => void): void }) => {
    if (!current) return l.call(httpServer, req, res);
    const rec = current;
    rec.ops.push({ kind: 'mark', text: '→ HTTP request received', conn: 0, start: performance.now(), end: performance.now() });
    res.once('finish', () => rec.ops.push({ kind: 'mark', text: '← HTTP response finished', conn: 0, start: performance.now(), end: performance.now() }));
    als.run(rec, () => l.call(httpServer, req, res));
  });
}

interface Scenario {
  name: string;
  send(key: string): Promise<string>;
  /** The upstream's answer (default: two chunks at once, as the bench's throughput runs). */
  script?: { chunks: string[]; delayMs: number };
}
const instant = { chunks: ['Hello', ', world'], delayMs: 0 };

const post = async (path: string, body: unknown, key: string) => {
  const res = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text;
};
let lastGenerationId = '';
const scenarios: Scenario[] = [
  {
    name: 'POST /api/v2/generate (non-streaming)',
    async send(key) {
      const text = await post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'Say something.' }, key);
      lastGenerationId = JSON.parse(text).id;
      return text;
    },
  },
  { name: 'POST /api/v2/generate/stream (streamed, 2 chunks at once)', send: (key) => post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'Say something.' }, key) },
  {
    // Chunks apart in time leave in separate flushes: shows what grows with the chunk count.
    name: 'POST /api/v2/generate/stream (streamed, 10 chunks 5 ms apart)',
    script: { chunks: Array.from({ length: 10 }, (_, i) => `tok${i} `), delayMs: 5 },
    send: (key) => post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'Say something.' }, key),
  },
  {
    name: 'GET /api/v2/generate/{id} (polling a finished generation)',
    async send(key) {
      const res = await fetch(`${server.url}/api/v2/generate/${lastGenerationId}`, { headers: { authorization: `Bearer ${key}` } });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`GET generation: HTTP ${res.status} ${text.slice(0, 200)}`);
      return text;
    },
  },
  { name: 'POST /v1/chat/completions (non-streaming)', send: (key) => post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'Say something.' }] }, key) },
];

/** Runs one request inside a recording and waits until its database and Redis work has stopped. */
async function record(send: () => Promise<string>): Promise<{ ops: Op[]; background: Op[] }> {
  const rec: Recording = { ops: [], inFlight: 0, lastActivity: performance.now() };
  current = rec;
  background = [];
  await send();
  // Work after the response (settlement, event-log expiry) belongs to the request: wait until
  // nothing of it has been in flight for a while. This is a counting tool, not a timed test.
  while (rec.inFlight > 0 || performance.now() - rec.lastActivity < 150) await new Promise((r) => setTimeout(r, 25));
  current = null;
  const bg = background;
  background = null;
  return { ops: rec.ops.sort((a, b) => a.start - b.start), background: bg };
}

interface Counted {
  plan: string;
  scenario: string;
  ops: Op[];
  background: Op[];
}
const results: Counted[] = [];
try {
  for (const plan of ['pro', 'elite'] as PlanName[]) {
    const account = await createAccount(server.db, { name: `rtt-${plan}`, plan, tokens: 1_000_000 });
    const { key } = await createKey(server.db, account.id, 'rtt');
    for (const s of plan === 'pro' ? scenarios : scenarios.slice(0, 1)) {
      log(`${plan}: ${s.name}`);
      fake.respondWith(s.script ?? instant);
      // Once to warm (compiled queries, Redis script loading, pool connections), once counted.
      await record(() => s.send(key));
      const counted = await record(() => s.send(key));
      results.push({ plan, scenario: s.name, ...counted });
    }
  }
} finally {
  await server.close();
  await fake.close();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  rmSync(filesDir, { recursive: true, force: true });
  const redis = new Redis(args.redis);
  const keys = await redis.keys(`${dbName}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}

const report = `${summary(results)}\n${results.map(render).join('\n')}`;
if (args.out) writeFileSync(args.out, report);
else process.stdout.write(report);
if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));

/** Round trips of one request: in all, and before the upstream request leaves. */
function trips(c: Counted) {
  const upstreamAt = c.ops.find((o) => o.text.startsWith('→ upstream'))?.start ?? Infinity;
  const count = (ops: Op[]) => ({
    pg: ops.filter((o) => o.kind === 'pg').length,
    redis: new Set(ops.filter((o) => o.kind === 'redis').map((o) => o.batch)).size,
  });
  const all = count(c.ops);
  const before = count(c.ops.filter((o) => o.start < upstreamAt));
  return {
    upstream: upstreamAt !== Infinity,
    ...all,
    redisCommands: c.ops.filter((o) => o.kind === 'redis').length,
    pgClients: new Set(c.ops.filter((o) => o.kind === 'pg').map((o) => o.conn)).size,
    before: before.pg + before.redis,
    after: all.pg + all.redis - before.pg - before.redis,
  };
}

/** One line per counted request. */
export function summary(results: Counted[]): string {
  const lines = [
    '| request | plan | PostgreSQL statements (pool clients) | Redis commands / round trips | round trips in all | before the upstream call | after it |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of results) {
    const t = trips(c);
    lines.push(`| ${c.scenario} | ${c.plan} | ${t.pg} (${t.pgClients}) | ${t.redisCommands} / ${t.redis} | ${t.pg + t.redis} | ${t.upstream ? t.before : '–'} | ${t.upstream ? t.after : '–'} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** A Markdown table of one request's round trips, in order, with the upstream call marked. */
export function render(c: Counted): string {
  const pgOps = c.ops.filter((o) => o.kind === 'pg');
  const redisOps = c.ops.filter((o) => o.kind === 'redis');
  const redisTrips = new Set(redisOps.map((o) => o.batch)).size;
  const upstreamAt = c.ops.find((o) => o.text.startsWith('→ upstream'))?.start ?? Infinity;
  const before = c.ops.filter((o) => o.kind !== 'mark' && o.start < upstreamAt);
  const beforeTrips = before.filter((o) => o.kind === 'pg').length + new Set(before.filter((o) => o.kind === 'redis').map((o) => o.batch)).size;
  const lines = [
    `### ${c.scenario}, plan ${c.plan}`,
    '',
    `PostgreSQL: ${pgOps.length} statements (${pgOps.filter((o) => o.prepared).length} prepared) on ${new Set(pgOps.map((o) => o.conn)).size} pool client(s); ` +
      `Redis: ${redisOps.length} commands in ${redisTrips} round trip(s); ` +
      (upstreamAt === Infinity ? 'no upstream call.' : `${beforeTrips} round trip(s) before the upstream request leaves.`),
    '',
    '| # | with | round trip | concurrent with the previous | statement / command |',
    '| --- | --- | --- | --- | --- |',
  ];
  let n = 0;
  let prev: Op | null = null;
  let prevBatch = -1;
  for (const o of c.ops) {
    if (o.kind === 'mark') {
      lines.push(`| | | | | *${o.text}* |`);
      continue;
    }
    const sameTrip = o.kind === 'redis' && o.batch === prevBatch;
    if (!sameTrip) n++;
    const overlaps = prev !== null && !sameTrip && o.start < prev.end;
    lines.push(
      `| ${sameTrip ? '' : n} | ${o.kind === 'pg' ? `pg client ${o.conn}` : 'redis'} | ${sameTrip ? '(same write)' : o.kind === 'pg' && o.prepared ? 'prepared' : ''} | ${overlaps ? 'yes' : ''} | \`${o.text.replace(/\|/g, '\\|')}\` |`,
    );
    prev = o;
    prevBatch = o.kind === 'redis' ? (o.batch ?? -1) : -1;
  }
  if (c.background.length)
    lines.push(
      '',
      `Meanwhile, outside any request (background loops, not counted above): ${c.background.length} operation(s): ${[...new Set(c.background.map((o) => o.text))].join('; ').slice(0, 300)}`,
    );
  lines.push('');
  return `${lines.join('\n')}\n`;
}
