// `npm run bench:rtt`: counts (never times) the PostgreSQL statements and Redis commands that one
// request costs, request by request, on PostgreSQL + Redis. Counts are deterministic, so they can
// be taken on a loaded machine where throughput figures cannot.
//
// How it counts, without touching product code: bench/round-trip-counter.ts.
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
import { RoundTripCounter, tripsOf, type Op } from './round-trip-counter.js';

const { values: args } = parseArgs({
  options: {
    pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    redis: { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    json: { type: 'string' },
    out: { type: 'string' },
  },
});

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

const counter = new RoundTripCounter(server.app.server);

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
  const rec = counter.start();
  await send();
  // Work after the response (the stream's last event-log append) belongs to the request: wait until
  // nothing of it has been in flight for a while. This is a counting tool, not a timed test.
  while (rec.inFlight > 0 || performance.now() - rec.lastActivity < 150) await new Promise((r) => setTimeout(r, 25));
  return counter.stop();
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

/** One line per counted request. */
export function summary(results: Counted[]): string {
  const lines = [
    '| request | plan | PostgreSQL statements (pool clients) | Redis commands / round trips | round trips in all | before the upstream call | after it |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of results) {
    const t = tripsOf(c.ops);
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
