// `lumengate serve --workers 2`: two processes share the port and one SQLite file; the ledger
// stays exact when their hold/settle transactions interleave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeOpenAI, type FakeUpstream } from './support/fake-openai.js';
import type { PlanName } from '../src/config/catalog.js';
import { LineLog } from './support/waits.js';
import { rawStream } from './support/raw-stream.js';
import { openDatabase } from '../src/db/connect.js';
import { createAccount, getAccount } from '../src/accounts/service.js';
import { createKey } from '../src/accounts/keys.js';
import { ledgerMismatches } from '../src/billing/ledger.js';
import { freePort } from '../bench/processes.js';
import { SERVER_LAUNCH_FLAGS } from '../src/cli/heap.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

/**
 * `serve --workers 2` without Redis on a fresh SQLite file, in front of `fake`, once both workers
 * listen; an account of `plan` with 1000 tokens and its key. `stop()` sends SIGTERM and waits for
 * the exit; `close()` (in a finally) kills what is left and removes the file.
 */
async function startCluster(fake: FakeUpstream, plan: PlanName) {
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-cluster-'));
  const databaseUrl = `sqlite:${join(dir, 'c.db')}`;
  const db = await openDatabase(databaseUrl);
  const account = await createAccount(db, { plan, tokens: 1000 });
  const { key } = await createKey(db, account.id, 'cluster');
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'info',
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: `${fake.origin}/v1`,
  };
  delete env.REDIS_URL;
  // At info, so that each worker says when it listens (the workers write to the primary's stdout).
  const child = spawn(process.execPath, [main, 'serve', '--workers', '2'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const out = LineLog.of(child.stdout);
  const close = async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Waits for the event (each worker's "lumengate listening" line), as long as the primary lives:
    // a cold start of three processes on a machine whose cores are busy took 40 s in a measured run.
    // The test's timeout is the only ceiling; a primary that exits ends the output, and the wait fails.
    const listening = () => new Set(out.lines.filter((l) => l.includes('"msg":"lumengate listening"')).map((l) => JSON.parse(l).pid));
    await out.until(() => listening().size === 2, 'both workers listening (serve --workers 2 exited during start-up?)', 300_000);
  } catch (err) {
    await close();
    throw err;
  }
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  return { url: `http://127.0.0.1:${port}`, child, db, account, key, stop, close };
}

test('serve --workers 2: both workers serve, every request is charged once, ledger exact', { timeout: 300_000 }, async () => {
  const fake = await startFakeOpenAI();
  fake.respondWith({ chunks: ['Hel', 'lo'], delayMs: 2 });
  const c = await startCluster(fake, 'elite');
  try {
    const workerPids = () => readFileSync(`/proc/${c.child.pid}/task/${c.child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    const workers = () => workerPids().length;
    assert.equal(c.child.exitCode, null, 'serve --workers 2 exited during start-up');
    assert.equal(workers(), 2);
    // It answers; the body is read so no connection is left half-used.
    const up = await fetch(`${c.url}/api/v2/models`).then(async (r) => {
      await r.arrayBuffer();
      return r.ok;
    });
    assert.ok(up, 'the workers answer');
    // The primary was started without the start-up heap flags; its workers, the servers, have them.
    for (const pid of workerPids()) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      for (const flag of SERVER_LAUNCH_FLAGS) assert.ok(argv.includes(flag), `worker ${pid} runs with ${flag}: ${argv.join(' ')}`);
    }
    const n = 40;
    const results = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await fetch(`${c.url}/api/v2/generate${i % 2 ? '/stream' : ''}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${c.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-5-nano', prompt: `hi ${i}` }),
        });
        const text = await res.text();
        return { status: res.status, text };
      }),
    );
    for (const r of results) assert.equal(r.status, 200, r.text);
    assert.equal(results.filter((r) => r.text.includes('generation_end')).length, n / 2);
    await c.stop();
    assert.equal((await getAccount(c.db, c.account.id)).plan_tokens, 1000 - n);
    assert.deepEqual(await ledgerMismatches(c.db), []);
    const pending = await c.db.kysely.selectFrom('generations').select('id').where('status', '=', 'pending').execute();
    assert.equal(pending.length, 0);
  } finally {
    await c.close();
    await fake.close();
  }
});

// Without REDIS_URL a single process counts the plans' hourly and daily requests in its memory; the
// workers of `serve --workers N` are N processes, so each counting alone would let an account make
// N times its plan's requests. They count in the primary instead (src/limits/cluster.ts).
test('serve --workers 2 without Redis: an account allowed 60 requests an hour gets exactly 60 across both workers', { timeout: 300_000 }, async () => {
  const fake = await startFakeOpenAI();
  fake.respondWith({ chunks: ['Hi'] });
  const c = await startCluster(fake, 'pro');
  try {
    const n = 100;
    const results = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await fetch(`${c.url}/api/v2/generate`, {
          method: 'POST',
          headers: { authorization: `Bearer ${c.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-5-nano', prompt: `hi ${i}` }),
        });
        return { status: res.status, text: await res.text() };
      }),
    );
    const statuses: Record<number, number> = {};
    for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    assert.deepEqual(statuses, { 200: 60, 429: 40 });
    await c.stop();
    assert.equal((await getAccount(c.db, c.account.id)).plan_tokens, 1000 - 60);
    assert.deepEqual(await ledgerMismatches(c.db), []);
  } finally {
    await c.close();
    await fake.close();
  }
});

// Without Redis a running stream's re-attach log is in the memory of the worker serving it, and an
// ended stream's is in the SQLite file (src/generation/sqlite-ended-logs.ts): a re-attach that the
// primary hands to the other worker replays the whole ended stream too, not only its end.
test('serve --workers 2 without Redis: an ended stream is replayed whole by either worker', { timeout: 300_000 }, async () => {
  const fake = await startFakeOpenAI();
  fake.respondWith({ chunks: ['Once ', 'upon ', 'a ', 'time'] });
  const c = await startCluster(fake, 'elite');
  try {
    const first = await rawStream(`${c.url}/api/v2/generate/stream`, { method: 'POST', key: c.key, body: { model: 'gpt-5-nano', prompt: 'tell' }, agent: false });
    const gen = Number(first.headers['x-generation-id']);
    await first.ended;
    const sent = first.frames();
    assert.equal(sent.filter((f) => f.data.type === 'content_delta').length, 4);
    // The log is written in the group commit after the stream's end: wait for its row.
    const stored = c.db.sqlite!.prepare('select 1 from stream_logs where generation_id = ?');
    while (!stored.get(gen)) await new Promise<void>((resolve) => setImmediate(resolve));
    // Each re-attach on a connection of its own: the primary deals connections to its workers in
    // turn, so these reach both.
    for (let i = 0; i < 6; i++) {
      const again = await rawStream(`${c.url}/api/v2/generate/${gen}/stream`, { method: 'GET', key: c.key, headers: { 'last-event-id': `${gen}:1` }, agent: false });
      assert.equal(again.status, 200);
      await again.ended;
      assert.deepEqual(again.frames(), sent.slice(1), `re-attach ${i}: every event after the first, then [DONE]`);
    }
    await c.stop();
  } finally {
    await c.close();
    await fake.close();
  }
});
