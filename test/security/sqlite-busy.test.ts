// Another process holding SQLite's write lock must not freeze the server: better-sqlite3 is
// synchronous, so waiting for the lock inside SQLite (busy_timeout) would block the event loop.
// Reads (health, auth, Kysely) answer while the lock is held; a generation started meanwhile waits
// for the lock without blocking anything, completes after the release and is charged exactly once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../src/config/env.js';
import { startHarness, type Harness } from '../support/harness.js';

// Opens the same file, takes BEGIN IMMEDIATE (the write lock), says "locked", and commits when a
// line arrives on stdin.
const HOLDER = `
const db = new (require('better-sqlite3'))(process.argv[1]);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.stdout.write('released\\n'); process.exit(0); });
`;

async function holdWriteLock(path: string): Promise<{ child: ChildProcess; release(): Promise<void> }> {
  const child = spawn(process.execPath, ['-e', HOLDER, path], { cwd: packageRoot(), stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const [first] = await once(lines, 'line');
  assert.equal(first, 'locked');
  return {
    child,
    async release() {
      const released = once(lines, 'line');
      child.stdin.write('release\n');
      assert.deepEqual(await released, ['released']);
      await once(child, 'exit').catch(() => {});
    },
  };
}

describe('SQLite write lock held by another process', { skip: process.env.TEST_DATABASE_URL ? 'SQLite only' : false }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('reads answer during the lock; a generation waits for it without blocking and is charged once', async () => {
    const acct = await h.account({ tokens: 1000 });
    const earlier = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'before the lock' }, acct.key);
    assert.equal(earlier.status, 200, earlier.text);
    const balanceBefore = await h.balance(acct.id);
    const upstreamCalls = h.fake.requests.length;

    const path = h.server.app.services.settings.databaseUrl.slice('sqlite:'.length);
    const lock = await holdWriteLock(path);
    const events: string[] = [];
    try {
      const generation = h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'during the lock' }, acct.key).then((r) => {
        events.push('generation answered');
        return r;
      });
      // Each answers while the lock is still held (the release below waits for them). A blocked
      // event loop would answer none of them until the lock went away.
      const health = await h.get('/healthz');
      assert.equal(health.status, 200, health.text);
      events.push('healthz answered');
      const balance = await h.get('/api/v2/balance', acct.key); // the synchronous auth read
      assert.equal(balance.status, 200, balance.text);
      assert.equal(balance.json.token_balance, balanceBefore);
      events.push('balance answered');
      const old = await h.get(`/api/v2/generate/${earlier.json.id}`, acct.key); // a Kysely read
      assert.equal(old.status, 200, old.text);
      events.push('kysely read answered');
      // The generation has not got past its hold (a write): the upstream was not called.
      assert.equal(h.fake.requests.length, upstreamCalls, 'no upstream call while the ledger cannot write');
      events.push('release');
      await lock.release();

      const g = await generation;
      assert.equal(g.status, 200, g.text);
      assert.equal(g.json.status, 'completed');
      assert.ok(g.json.tokens_spent > 0);
      assert.deepEqual(events, ['healthz answered', 'balance answered', 'kysely read answered', 'release', 'generation answered']);
      assert.equal(await h.balance(acct.id), balanceBefore - g.json.tokens_spent);
      const rows = await h.server.db.kysely.selectFrom('ledger').select('kind').where('generation_id', '=', g.json.id).execute();
      assert.deepEqual(rows.map((r) => r.kind).sort(), ['charge', 'hold']);
      assert.deepEqual(await h.ledgerMismatches(), []);
    } finally {
      if (lock.child.exitCode === null) lock.child.kill();
    }
  });
});
