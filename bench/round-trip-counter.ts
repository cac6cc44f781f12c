// Counts the PostgreSQL statements and Redis commands a server in this process makes for each HTTP
// request (bench:rtt, and the round-trip guard test). Nothing in the product is changed: the server
// is started in this process (as the tests start it) and every HTTP request it serves runs inside
// an AsyncLocalStorage context. pg's Client.prototype.query and ioredis's Redis.prototype.sendCommand
// are wrapped (once, by installCounters): a call made in that context is recorded with its pool
// client, its start and its end. Background work (the job runner's polls, sweeps) has no such
// context and is kept apart. Only this process's own connections are seen, so other users of the
// same PostgreSQL and Redis (test loops) do not skew the counts, which MONITOR or
// INFO commandstats would.
//
// Round trips: pg sends one query per client at a time (no pipelining), so each statement is one
// round trip. ioredis writes a MULTI/EXEC or pipeline in one write: Redis commands issued in one
// synchronous run (same tick) are counted as one round trip. undici's diagnostics channels mark
// when the upstream request leaves and when its response headers arrive.
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Redis } from 'ioredis';

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

export interface Recording {
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

let installed = false;

/** Wraps pg and ioredis (idempotent). */
export function installCounters(): void {
  if (installed) return;
  installed = true;
  wrapPg();
  wrapRedis();
  subscribe('undici:request:create', () => mark('→ upstream request sent'));
  subscribe('undici:request:headers', () => mark('← upstream response headers'));
}

// --- pg: every statement through a pool client ---
type QueryFn = (this: pg.Client, config: unknown, values?: unknown, cb?: unknown) => unknown;
function wrapPg(): void {
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
}

// --- ioredis: every command, batched by synchronous run ---
let redisBatch = 0;
let batchOpen = false;
type SendCommand = (this: Redis, command: { name: string; args: unknown[]; promise: Promise<unknown> }, stream?: unknown) => unknown;
function wrapRedis(): void {
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
}

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

/**
 * Counts the requests `httpServer` serves: between start() and stop(), every request it receives
 * is recorded (requests are counted one at a time).
 */
export class RoundTripCounter {
  private current: Recording | null = null;

  constructor(httpServer: Server) {
    installCounters();
    const listeners = httpServer.listeners('request') as Array<(...a: unknown[]) => void>;
    httpServer.removeAllListeners('request');
    for (const l of listeners) {
      httpServer.on('request', (req: unknown, res: { once(e: string, f: () => void): void }) => {
        const rec = this.current;
        if (!rec) return l.call(httpServer, req, res);
        const now = performance.now();
        rec.ops.push({ kind: 'mark', text: '→ HTTP request received', conn: 0, start: now, end: now });
        res.once('finish', () => {
          const t = performance.now();
          rec.ops.push({ kind: 'mark', text: '← HTTP response finished', conn: 0, start: t, end: t });
        });
        als.run(rec, () => l.call(httpServer, req, res));
      });
    }
  }

  start(): Recording {
    const rec: Recording = { ops: [], inFlight: 0, lastActivity: performance.now() };
    this.current = rec;
    background = [];
    return rec;
  }

  /** The operations of the requests since start(), in the order they were issued, and the background ones. */
  stop(): { ops: Op[]; background: Op[] } {
    const rec = this.current;
    this.current = null;
    const bg = background ?? [];
    background = null;
    return { ops: (rec?.ops ?? []).sort((a, b) => a.start - b.start), background: bg };
  }
}

/** Round trips of one request: in all, and before the upstream request leaves. */
export function tripsOf(ops: Op[]) {
  const upstreamAt = ops.find((o) => o.text.startsWith('→ upstream'))?.start ?? Infinity;
  const count = (list: Op[]) => ({
    pg: list.filter((o) => o.kind === 'pg').length,
    redis: new Set(list.filter((o) => o.kind === 'redis').map((o) => o.batch)).size,
  });
  const all = count(ops);
  const before = count(ops.filter((o) => o.start < upstreamAt));
  return {
    upstream: upstreamAt !== Infinity,
    ...all,
    redisCommands: ops.filter((o) => o.kind === 'redis').length,
    pgClients: new Set(ops.filter((o) => o.kind === 'pg').map((o) => o.conn)).size,
    before: before.pg + before.redis,
    after: all.pg + all.redis - before.pg - before.redis,
  };
}
