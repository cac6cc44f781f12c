// CI runs the bench only as a tiny smoke run: it proves the bench works and produced numbers.
// Nothing here is a timing assertion (benchmarks are never timed tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = join(dirname(fileURLToPath(import.meta.url)), '../bench/run.js');
// The nginx floor and the wrk client are used when installed (Debian: nginx-light, wrk), skipped with a note otherwise.
const hasNginx = existsSync(process.env.BENCH_NGINX ?? '/usr/sbin/nginx');
const hasWrk = existsSync(process.env.BENCH_WRK ?? '/usr/bin/wrk');

test('npm run bench --smoke produces a report with numbers, to a temp path', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const out = join(dir, 'BENCHMARKS.md');
    const json = join(dir, 'results.json');
    await promisify(execFile)(process.execPath, [run, '--smoke', '--out', out, '--json', json], { timeout: 290_000 });
    const r = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(r.scenarios.length, 1);
    const s = r.scenarios[0];
    const sides = hasNginx ? [s.direct, s.floor, s.nginx, s.through] : [s.direct, s.floor, s.through];
    if (!hasNginx) assert.equal(s.nginx, undefined);
    for (const side of sides) {
      assert.equal(side.errors, 0, side.firstError ?? '');
      assert.equal(side.streams, 2);
      assert.ok(Number.isFinite(side.ttftMs.p50) && side.ttftMs.p50 > 0);
      assert.ok(Number.isFinite(side.totalMs.p99) && side.totalMs.p99 >= side.ttftMs.p50);
      assert.equal(side.gapMs.n, 2 * 2, 'two gaps per 3-chunk stream');
    }
    assert.ok(s.server.peakRssBytes > 0, 'server RSS was read from /proc');
    // The scenario opened with one unmeasured batch per side (new connections), reported apart.
    assert.equal(r.config.warmBatch, true);
    for (const name of hasNginx ? ['direct', 'floor', 'nginx', 'through'] : ['direct', 'floor', 'through']) {
      assert.equal(s.firstBatch[name].errors, 0, s.firstBatch[name].firstError ?? name);
      assert.equal(s.firstBatch[name].ttftMs.n, 2, `${name}: the opening batch has the scenario's 2 streams`);
    }
    // Per side: the content deltas delivered (CPU per event divides by them) and the client's own CPU.
    for (const name of hasNginx ? ['direct', 'floor', 'nginx', 'through'] : ['direct', 'floor', 'through']) {
      assert.equal(s.load[name].events, 2 * 3, `${name}: 2 streams × 3 deltas`);
      assert.ok(s.load[name].clientCpuSeconds > 0, `${name}: the client's CPU was read`);
      assert.equal(s.load[name].serverCpuSeconds === null, name === 'direct', `${name}: a proxy's CPU is watched, direct has none`);
    }
    const sqlite = r.throughput.find((t: { database: string }) => t.database === 'sqlite');
    assert.ok(sqlite.requests > 0);
    assert.equal(sqlite.errors, 0, sqlite.firstError ?? '');
    assert.equal(sqlite.runs.length, 1, 'one measured run in a smoke run');
    assert.ok(sqlite.cpuMicrosPerRequest > 0, 'server CPU per request was read from /proc');
    assert.equal(typeof sqlite.pinned, 'boolean');
    assert.equal(sqlite.client, hasWrk ? 'wrk' : 'undici');
    assert.match(r.throughputClient, hasWrk ? /^wrk/ : /^undici/);
    assert.ok(r.floorThroughput.perSecond > 0 && r.floorThroughput.errors === 0, 'the bare proxy floor was measured');
    if (hasNginx) assert.ok(r.nginxThroughput.perSecond > 0 && r.nginxThroughput.errors === 0, r.nginxThroughput.firstError ?? 'the nginx floor was measured');
    else assert.match(r.nginxSkipped, /nginx/);
    // Audited after the streams and after each throughput run (fresh processes in between); a
    // rate-limited run's Redis day counter equals its generations (every request was counted).
    assert.ok(r.ledger.length >= 2);
    for (const l of r.ledger) {
      assert.deepEqual([l.mismatches, l.pending], [0, 0], l.label);
      if (l.rateLimitCounted !== undefined) assert.equal(l.rateLimitCounted, l.generations, l.label);
    }
    const md = readFileSync(out, 'utf8');
    assert.match(md, /^# Benchmarks/);
    assert.match(md, /\| 2 × 1 \| direct \|/);
    assert.match(md, /\| \| bare proxy \|/);
    assert.match(md, /\| 2 \| [\d.]+ \/ [\d.]+ \| [\d.]+ \/ [\d.]+ \| .*\| 0 \|$/m, 'the opening batch, reported apart');
    assert.match(md, /\| sqlite \| 1 \| (CPU 0 only|all) \| \d[\d,]* req\/s \| \d+ µs \|/);
    assert.match(md, /\| goal \| lumengate \| met \| margin \| Node floor \(bare proxy\) \| nginx \|/);
    if (hasNginx) assert.match(md, /\| \| nginx \|/);
    // The goal's PostgreSQL + Redis path: measured with its round trips, or skipped with the reason.
    if (r.redisSkipped) assert.match(md, /PostgreSQL \+ Redis: /);
    else {
      const pgRedis = r.throughput.find((t: { redis?: boolean }) => t.redis);
      assert.ok(pgRedis.requests > 0 && pgRedis.errors === 0, pgRedis.firstError ?? '');
      assert.ok(
        r.ledger.some((l: { rateLimitCounted?: number }) => typeof l.rateLimitCounted === 'number' && l.rateLimitCounted > 0),
        'Redis counted the requests',
      );
      assert.match(md, /\| postgres \+ redis \(plan pro\) \| 1 \| (CPU 0 only|all) \| \d[\d,]* req\/s \| \d+ µs \|/);
      const rtt = r.roundTrips.find((t: { plan: string; scenario: string }) => t.plan === 'pro' && t.scenario.startsWith('POST /api/v2/generate (non-streaming)'));
      assert.ok(rtt.redis > 0 && rtt.pg > 0, 'round trips of the rate-limited request were counted');
      assert.match(md, /## Round trips per request, PostgreSQL \+ Redis/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
