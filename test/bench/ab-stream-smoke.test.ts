// CI runs bench:ab only as a tiny smoke run: it proves the command works (two lumengates and the
// bare proxy side by side, rounds interleaved) and prints a CPU figure per side. Nothing here is a
// timing assertion (benchmarks are never timed tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const script = join(dirname(fileURLToPath(import.meta.url)), '../../bench/ab-stream.js');

test('bench:ab: this build twice (the second with other node flags) beside the bare proxy, a figure per side', { timeout: 180_000 }, async () => {
  // Without --base, --base-flags runs this build as "base" with the given node arguments.
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--streams', '2', '--rounds', '1', '--chunks', '3', '--base-flags=--max-semi-space-size=8'], { timeout: 170_000 });
  const lines = stdout.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.slice(0, l.indexOf(':'))),
    ['2 streams x 1', 'pooled'],
  );
  for (const line of lines) {
    for (const side of ['bare proxy', 'base', 'this']) {
      // Figures, not timings: a run this short may well count 0 ticks of CPU.
      const m = new RegExp(`${side} ([\\d.]+) µs[^;]*, (\\d+) events`).exec(line);
      assert.ok(m && Number.isFinite(Number(m[1])), `${side} in: ${line}`);
      assert.equal(Number(m[2]), 2 * 3, `${side}: 2 streams × 3 content events, in: ${line}`);
    }
  }
});
