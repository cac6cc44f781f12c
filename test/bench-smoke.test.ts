// CI runs the bench only as a tiny smoke run: it proves the bench works and produced numbers.
// Nothing here is a timing assertion (benchmarks are never timed tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = join(dirname(fileURLToPath(import.meta.url)), '../bench/run.js');

test('npm run bench --smoke produces a report with numbers, to a temp path', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const out = join(dir, 'BENCHMARKS.md');
    const json = join(dir, 'results.json');
    await promisify(execFile)(process.execPath, [run, '--smoke', '--out', out, '--json', json], { timeout: 290_000 });
    const r = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(r.scenarios.length, 1);
    const s = r.scenarios[0];
    for (const side of [s.direct, s.floor, s.through]) {
      assert.equal(side.errors, 0, side.firstError ?? '');
      assert.equal(side.streams, 2);
      assert.ok(Number.isFinite(side.ttftMs.p50) && side.ttftMs.p50 > 0);
      assert.ok(Number.isFinite(side.totalMs.p99) && side.totalMs.p99 >= side.ttftMs.p50);
      assert.equal(side.gapMs.n, 2 * 2, 'two gaps per 3-chunk stream');
    }
    assert.ok(s.server.peakRssBytes > 0, 'server RSS was read from /proc');
    assert.equal(r.throughput.length, 1);
    assert.ok(r.throughput[0].requests > 0);
    assert.equal(r.throughput[0].errors, 0, r.throughput[0].firstError ?? '');
    assert.equal(r.throughput[0].runs.length, 1, 'one measured run in a smoke run');
    assert.ok(r.throughput[0].cpuMicrosPerRequest > 0, 'server CPU per request was read from /proc');
    assert.equal(typeof r.throughput[0].pinned, 'boolean');
    assert.ok(r.floorThroughput.perSecond > 0 && r.floorThroughput.errors === 0, 'the bare proxy floor was measured');
    // Audited after the streams and after the throughput run (fresh processes in between).
    assert.deepEqual(
      r.ledger.map((l: { mismatches: number; pending: number }) => [l.mismatches, l.pending]),
      [
        [0, 0],
        [0, 0],
      ],
    );
    const md = readFileSync(out, 'utf8');
    assert.match(md, /^# Benchmarks/);
    assert.match(md, /\| 2 × 1 \| direct \|/);
    assert.match(md, /\| \| bare proxy \|/);
    assert.match(md, /\| sqlite \| 1 \| (CPU 0 only|all) \| \d[\d,]* req\/s \| \d+ µs \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
