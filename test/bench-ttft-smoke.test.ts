// `npm run bench:ttft --smoke`: proves the TTFT breakdown works end to end, in particular that
// lumengate's diagnostics channels (src/core/trace.ts) publish: every step gets a number. Nothing
// here is a timing assertion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ttft = join(dirname(fileURLToPath(import.meta.url)), '../bench/ttft.js');

test('npm run bench:ttft --smoke times every step inside lumengate and the bare proxy', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ttft-'));
  try {
    const out = join(dir, 'BENCHMARKS.md');
    await promisify(execFile)(process.execPath, [ttft, '--smoke', '--out', out], { timeout: 110_000 });
    const md = readFileSync(out, 'utf8');
    assert.match(md, /<!-- ttft:start -->[\s\S]*<!-- ttft:end -->/);
    const cell = '(\\d+\\.\\d{3}) ms';
    for (const step of [
      'HTTP parse, onRequest hooks',
      'key check: one database read',
      'body read and parse, validation, handler entry',
      'admission, limits',
      'hold: the ledger transaction committed',
      'route and provider request built',
    ]) {
      assert.match(md, new RegExp(`\\| ${step} \\| ${cell} \\|  \\|`), step);
    }
    for (const step of ['\\*\\*subtotal: request received to upstream request created\\*\\*', 'undici: request to socket write', 'first content chunk: read to client write']) {
      assert.match(md, new RegExp(`\\| ${step} \\| ${cell} \\| ${cell} \\|`), step);
    }
    assert.match(md, new RegExp(`\\| \\*\\*added TTFT p50\\*\\* \\(client\\) \\| -?${cell} \\| -?${cell} \\|`));
    // The floor of point 2: the bare proxy's added TTFT plus the key check and the hold, a number.
    assert.match(md, new RegExp(`plus those two steps: -?${cell} in this run\\.`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm run bench:ttft --idle prints every step of lumengate for each pause', { timeout: 120_000 }, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [ttft, '--smoke', '--streams', '3', '--idle', '0,5'], { timeout: 110_000 });
  const rows = stdout.split('\n').filter((l) => l.startsWith('| '));
  assert.equal(rows.length, 3, stdout);
  assert.match(rows[0]!, /^\| pause before each stream \| HTTP parse, onRequest hooks \| key check: one database read \|/);
  // Nine steps and the client's TTFT, each a number, for each pause.
  for (const [i, pause] of [0, 5].entries()) assert.match(rows[i + 1]!, new RegExp(`^\\| ${pause} ms( \\| \\d+\\.\\d{3} ms){9} \\| \\d+\\.\\d{2} ms \\|$`), rows[i + 1]);
});
