// `npm test`: the whole suite twice, first on SQLite with in-memory rate limits, then on
// PostgreSQL with Redis counters (each test server gets its own fresh database and key prefix).
// Tests that are about PostgreSQL/Redis themselves (several instances, crash, outage) run in the
// second pass only. The bench's smoke tests (test/bench*) run in the first pass only: they start
// their own servers and databases whatever the pass (the bench's PostgreSQL + Redis part included),
// so a second run would repeat the same work. Ends with one line "N passed, N failed" summing both passes.
// LUMENGATE_TEST_PASSES=sqlite (or postgres; a comma list, default both) runs only those passes:
// CI's second Node version runs the SQLite pass only, to stay within its time budget.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { connect } from 'node:net';

const postgres = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const redis = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const targets = ['dist/', 'packages/client/dist/'];

const allPasses = [
  { id: 'sqlite', name: 'SQLite', env: { TEST_DATABASE_URL: '', TEST_REDIS_URL: '' }, targets },
  { id: 'postgres', name: 'PostgreSQL + Redis', env: { TEST_DATABASE_URL: postgres, TEST_REDIS_URL: redis }, targets: ['dist/'], exclude: /(^|[\\/])dist[\\/]test[\\/]bench/ },
];
const wanted = (process.env.LUMENGATE_TEST_PASSES || 'sqlite,postgres')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = wanted.filter((id) => !allPasses.some((p) => p.id === id));
if (unknown.length > 0 || wanted.length === 0) {
  process.stderr.write(`LUMENGATE_TEST_PASSES: unknown pass ${unknown.join(', ')} (sqlite, postgres)\n`);
  process.exit(2);
}
const passes = allPasses.filter((p) => wanted.includes(p.id));
for (const p of allPasses.filter((p) => !wanted.includes(p.id))) {
  process.stdout.write(`\n# ---- test pass: ${p.name} SKIPPED: LUMENGATE_TEST_PASSES=${wanted.join(',')} ----\n`);
}

/**
 * The test files under a directory, picked the way `node --test <dir>` does on Node 20: every
 * .js/.mjs/.cjs file inside a `test` directory, and test.js, test-*.js, *.test.js, *-test.js,
 * *_test.js anywhere; node_modules skipped. Node 22+ no longer expands directory arguments (they
 * are glob patterns there), so the runner lists the files itself and every version runs the same.
 */
function testFiles(dir, underTestDir = false) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...testFiles(path, underTestDir || entry.name === 'test'));
    } else if (/^\.[cm]?js$/.test(extname(entry.name))) {
      const stem = basename(entry.name, extname(entry.name));
      if (underTestDir || /^test$|^test-.+|.+[.\-_]test$/.test(stem)) out.push(path);
    }
  }
  return out;
}

function run(pass) {
  return new Promise((resolve) => {
    process.stdout.write(`\n# ---- test pass: ${pass.name} ----\n`);
    const env = { ...process.env, ...pass.env };
    for (const [k, v] of Object.entries(pass.env)) if (v === '') delete env[k];
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...pass.targets.flatMap((t) => testFiles(t)).filter((f) => !pass.exclude?.test(f))], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
      process.stdout.write(b);
    });
    child.on('close', (code) => {
      const count = (label) => Number(new RegExp(`^# ${label} (\\d+)$`, 'm').exec(out)?.[1] ?? 0);
      const failed = count('fail') + count('cancelled');
      // A runner that died without a summary still fails the run.
      resolve({ passed: count('pass'), failed: failed === 0 && code !== 0 ? 1 : failed });
    });
  });
}

/** True when something accepts TCP connections at the URL's host and port. */
function reachable(url, defaultPort) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port || defaultPort) });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

// On a developer's machine without PostgreSQL or Redis the second pass is skipped, saying so; in CI
// (CI=true, where .ci/run starts both) it always runs, so a missing service fails the build.
const needsServices = passes.some((p) => p.id === 'postgres');
if (needsServices && !process.env.CI && !((await reachable(postgres, 5432)) && (await reachable(redis, 6379)))) {
  passes.pop();
  process.stdout.write(`\n# ---- test pass: PostgreSQL + Redis SKIPPED: nothing listening at ${postgres} and ${redis} (bash .ci/run starts both) ----\n`);
}

let passed = 0;
let failed = 0;
for (const pass of passes) {
  const r = await run(pass);
  passed += r.passed;
  failed += r.failed;
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
