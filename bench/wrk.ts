// The non-streaming load client when wrk is installed: wrk (C, epoll, one thread) costs far less
// CPU per request than an undici loop in Node, so the client is less likely to be what limits a
// closed loop on a two-CPU machine. One run = `wrk -t1 -c<concurrency> -d<s>s --latency -s <lua>`,
// optionally under `taskset -c <cpus>`; its text output is parsed here.
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const WRK = process.env.BENCH_WRK ?? '/usr/bin/wrk';

/** "wrk 4.1.0", or null when wrk is not installed here. */
export function wrkVersion(): string | null {
  try {
    accessSync(WRK, constants.X_OK);
  } catch {
    return null;
  }
  try {
    // `wrk --version` prints its banner and usage, exiting non-zero.
    execFileSync(WRK, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? '');
    const m = /^wrk (\S+)/m.exec(out);
    if (m) return `wrk ${m[1]}`;
  }
  return 'wrk';
}

/** The Lua script that turns wrk's GETs into our POST (long bracket strings: no escaping needed). */
export function wrkScript(headers: Record<string, string>, body: string): string {
  const long = (s: string) => `[==[${s}]==]`;
  return [
    'wrk.method = "POST"',
    `wrk.body = ${long(body)}`,
    // The spaces in `wrk.headers[ [==[…]==] ]` matter: `[[` would open a long string.
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[ ${long(k)} ] = ${long(v)}`),
    '',
  ].join('\n');
}

export interface WrkResult {
  /** 2xx/3xx responses (wrk's requests minus its non-2xx-or-3xx count). */
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number };
  firstError: string | null;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses wrk's report (with --latency). Exported for its unit test. */
export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const latency = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) * UNIT_MS[m[2]!]! : NaN;
  };
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(out);
  if (!done) throw new Error(`unexpected wrk output: ${out.slice(0, 300)}`);
  const total = Number(done[1]);
  const seconds = (Number(done[2]) * UNIT_MS[done[3]!]!) / 1000;
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/) || 0;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  const requests = total - non2xx;
  const errors = non2xx + socketErrors;
  const firstError = errors ? [non2xx ? `${non2xx} non-2xx responses` : '', sock && socketErrors ? sock[0] : ''].filter(Boolean).join('; ') : null;
  return { requests, errors, seconds, perSecond: requests / seconds, latencyMs: { p50: latency('50'), p99: latency('99') }, firstError };
}

/** One closed-loop run of wrk against `url` (on `cpus` when given). */
export async function runWrk(url: string, headers: Record<string, string>, body: string, opts: { concurrency: number; seconds: number; cpus?: string }): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-bench-wrk-'));
  try {
    const script = join(dir, 'post.lua');
    writeFileSync(script, wrkScript(headers, body));
    // wrk takes whole seconds.
    const wrkArgs = ['-t1', `-c${opts.concurrency}`, `-d${Math.max(1, Math.round(opts.seconds))}s`, '--latency', '-s', script, url];
    const [cmd, args] = opts.cpus ? ['taskset', ['-c', opts.cpus, WRK, ...wrkArgs]] : [WRK, wrkArgs];
    const { stdout, stderr } = await promisify(execFile)(cmd, args, { encoding: 'utf8', timeout: (opts.seconds + 30) * 1000 });
    // A script wrk cannot load is reported on stderr, and wrk then sends plain GETs: never a figure.
    if (stderr.trim()) throw new Error(`wrk: ${stderr.trim().slice(0, 300)}`);
    return parseWrk(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
