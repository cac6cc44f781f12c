// CI runs bench:paths and bench:soak only as tiny smoke runs: they prove the commands work, write
// their marked sections into an existing report without touching the rest, and saw no errors.
// Nothing here is a timing assertion (benchmarks are never timed tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const bench = join(dirname(fileURLToPath(import.meta.url)), '../../bench');
const run = (script: string, args: string[]) => promisify(execFile)(process.execPath, [join(bench, script), ...args], { timeout: 170_000 });

/** A report that already has another command's section and a stale copy of the one being written. */
const existing = (name: string) =>
  `# Benchmarks\n\nHand-written text kept as it is.\n\n<!-- local-model:start -->\nlocal section\n<!-- local-model:end -->\n\n<!-- ${name}:start -->\nstale\n<!-- ${name}:end -->\n`;

/** The section's text; asserts the rest of the file was kept and the stale copy replaced. */
function section(md: string, name: string): string {
  assert.match(md, /^# Benchmarks\n\nHand-written text kept as it is\./);
  assert.match(md, /<!-- local-model:start -->\nlocal section\n<!-- local-model:end -->/);
  assert.equal(md.split(`<!-- ${name}:start -->`).length, 2, 'one section, replaced in place');
  const body = md.slice(md.indexOf(`<!-- ${name}:start -->`), md.indexOf(`<!-- ${name}:end -->`));
  assert.doesNotMatch(body, /stale/);
  return body;
}

test('bench:paths --smoke: tool-call and text streams, job polling, /v1/responses vs chat, no errors', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'paths-smoke-'));
  try {
    const out = join(dir, 'BENCHMARKS.md');
    const json = join(dir, 'paths.json');
    writeFileSync(out, existing('paths'));
    await run('paths.js', ['--smoke', '--out', out, '--json', json]);
    const r = JSON.parse(readFileSync(json, 'utf8'));
    // 2 kinds × 3 paths at one stream count, every stream correct (its marked events counted).
    assert.equal(r.streaming.length, 6);
    for (const cell of r.streaming) {
      assert.equal(cell.errors, 0, cell.firstError ?? '');
      assert.ok(cell.first.p50 > 0, `${cell.kind}/${cell.path} timed`);
      // /proc counts CPU in 10 ms ticks: a smoke batch of 2 short streams may well read 0.
      if (cell.path !== 'direct') assert.ok(Number.isFinite(cell.cpuMicrosPerEvent) && cell.cpuMicrosPerEvent >= 0, 'server CPU per event read from /proc');
    }
    assert.equal(r.streaming.find((c: { kind: string; path: string }) => c.kind === 'tools' && c.path === 'v2').marksPerStream, 1, 'one tool_call event per call on v2');
    assert.equal(r.polling.errors, 0, r.polling.firstError ?? '');
    assert.ok(r.polling.pending.n > 0 && r.polling.finished.n > 0, 'pending and finished jobs polled');
    assert.ok(r.polling.cpuMicrosPerPoll > 0);
    for (const side of ['chat', 'responses']) {
      assert.equal(r.responses[side].errors, 0, r.responses[side].firstError ?? '');
      assert.ok(r.responses[side].requests > 0);
      assert.equal(r.responses.streaming[side].errors, 0, r.responses.streaming[side].firstError ?? '');
    }
    assert.deepEqual([r.ledger.mismatches, r.ledger.pending], [0, 0]);
    const body = section(readFileSync(out, 'utf8'), 'paths');
    assert.match(body, /### Tool-call streaming vs plain text/);
    assert.match(body, /\| 2 \| tools \| \/api\/v2\/generate\/stream \|/);
    assert.match(body, /### Job polling/);
    assert.match(body, /\| \/v1\/responses \| \d/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench:soak --minutes 0.1: every kind of request sent, no errors, clean ledger, RSS and V8 heap sampled', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'soak-smoke-'));
  try {
    const out = join(dir, 'BENCHMARKS.md');
    const json = join(dir, 'soak.json');
    writeFileSync(out, existing('soak'));
    await run('soak.js', ['--minutes', '0.1', '--out', out, '--json', json]);
    const r = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(r.errorCount, 0, JSON.stringify(r.errors));
    for (const kind of ['v2 stream', 'v2 sync', 'chat sync', 'chat stream', 'v2 tool call (stream)', 'chat tool call (stream)', 'responses', 'media job (wait)']) {
      assert.ok(r.requests[kind] > 0, `${kind} sent`);
    }
    assert.deepEqual([r.ledger.mismatches, r.ledger.pending], [0, 0]);
    assert.ok(r.baseline.rssBytes > 0 && r.end.rssBytes > 0, 'RSS read from /proc');
    assert.ok(r.samples.length >= 2);
    assert.ok(r.heap.end.usedMB > 0 && r.heap.end.totalMB >= r.heap.end.usedMB, `V8 heap read from the server's /metrics: ${JSON.stringify(r.heap)}`);
    const body = section(readFileSync(out, 'utf8'), 'soak');
    assert.match(body, /V8 heap used, same samples/);
    assert.match(body, /\| no errors \| 0 \| yes \|/);
    assert.match(body, /\| ledger: 0 mismatches, 0 pending \| 0 mismatches, 0 pending/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
