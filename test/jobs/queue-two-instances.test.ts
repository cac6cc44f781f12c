// Two `lumengate serve` processes on one PostgreSQL database claim one job queue (docs/deploy.md,
// Workers): every job is run by exactly one instance, both instances take work, and the money is
// exact. Each instance runs one job at a time (LUMENGATE_JOB_CONCURRENCY=1) and the fake Replicate
// holds the first predictions, so while both are held each instance owns exactly one of them: the
// claim order cannot make the test pass or fail by chance. Runs in the PostgreSQL + Redis pass.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ledgerMismatches } from '../../src/billing/ledger.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import type { Instance } from '../support/instances.js';
import { serverEvents, untilEvent } from '../support/server-events.js';
import { needsPgRedis, openSharedDatabase, type SharedDatabase } from '../support/shared-db.js';

const N = 12;
const MODEL = 'flux-1.1-pro'; // fixed price: 4 credits
const PRICE = 4;

describe('two instances claim one job queue', { skip: needsPgRedis }, () => {
  let shared: SharedDatabase;
  let fake: FakeReplicate;
  let instances: Instance[];

  before(async () => {
    shared = await openSharedDatabase();
    // Every prediction stays `processing` until the test releases it.
    fake = await startFakeReplicate({ hold: true });
    const env = {
      REPLICATE_API_TOKEN: 'r8_fake_test_token',
      REPLICATE_BASE_URL: fake.baseUrl,
      // One directory for both: what a shared volume (or S3) is in production.
      LUMENGATE_FILES_DIR: join(shared.dir, 'files'),
      LUMENGATE_JOB_CONCURRENCY: '1',
      // One account, one job on each instance (the default cap, half of one slot, would be 1 for the cluster).
      LUMENGATE_JOB_PER_ACCOUNT: '2',
      LUMENGATE_JOB_PROVIDER_POLL_MS: '20',
      LUMENGATE_JOB_IDLE_POLL_MS: '50',
    };
    instances = await Promise.all(['queue-a', 'queue-b'].map((id) => shared.start({ ...env, LUMENGATE_INSTANCE_ID: id })));
  });
  after(async () => {
    await shared?.close();
    await fake?.close();
  });

  const jobs = () => shared.db.kysely.selectFrom('jobs').selectAll().orderBy('generation_id').execute();

  it(`${N} jobs submitted alternately to both: each run once, both instances claim, ${N} × price charged`, { timeout: 300_000 }, async () => {
    const acc = await shared.account('pro', 100);
    const ids: number[] = [];
    for (let i = 0; i < N; i++) {
      const res = await fetch(`${instances[i % 2]!.url}/api/v2/generate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${acc.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, prompt: `job ${i}`, wait: 0 }),
      });
      const g = (await res.json()) as { id: number; status: string };
      assert.deepEqual([res.status, g.status], [200, 'pending']);
      ids.push(g.id);
    }
    assert.equal(await shared.balance(acc.id), 100 - N * PRICE, 'every job holds its price');

    // Both instances are busy with one held prediction each; nobody can start a third.
    await fake.until(() => fake.predictions.size === 2 && [...fake.predictions.values()].every((p) => p.polls >= 1));
    const running = (await jobs()).filter((j) => j.state === 'running');
    assert.equal(running.length, 2);
    assert.deepEqual(running.map((j) => j.lease_owner!.split('#')[0]).sort(), ['queue-a', 'queue-b'], 'each instance holds one job');
    assert.equal(running.filter((j) => j.provider_job_id !== null).length, 2, 'each stored its prediction id');
    assert.equal(fake.creates(), 2);

    // From now on predictions finish at once; the two held ones finish at their next poll.
    fake.defaults = {};
    fake.release();
    // A worker settles the generation, then ends its job row (src/jobs/execute.ts): wait for both.
    const unfinished = async () =>
      (await shared.db.kysely.selectFrom('generations').select('id').where('status', '=', 'pending').execute()).length +
      (await shared.db.kysely.selectFrom('jobs').select('generation_id').where('state', 'in', ['queued', 'running']).execute()).length;
    // Looked at again each time either instance settles a generation or ends a job's run (their
    // events are relayed to this process, server-events.ts).
    await untilEvent([serverEvents.settled, serverEvents.jobRunEnded], async () => (await unfinished()) === 0, 'every job settled and ended');

    // Exactly N provider starts, one per job: no job was started twice.
    assert.equal(fake.creates(), N);
    const prompts = [...fake.predictions.values()].map((p) => p.input.prompt).sort();
    assert.deepEqual(prompts, Array.from({ length: N }, (_, i) => `job ${i}`).sort());
    const done = await jobs();
    assert.deepEqual(
      done.map((j) => [j.generation_id, j.state, j.attempts, j.lease_owner]),
      ids.map((id) => [id, 'done', 1, null]),
      'each job claimed once and ended',
    );

    const gens = await shared.db.kysely.selectFrom('generations').select(['id', 'status', 'tokens_spent']).where('account_id', '=', acc.id).orderBy('id').execute();
    assert.deepEqual(
      gens.map((g) => [g.id, g.status, g.tokens_spent]),
      ids.map((id) => [id, 'completed', PRICE]),
    );
    for (const id of ids) assert.deepEqual(await shared.ledgerKinds(id), ['charge', 'hold'], `ledger of generation ${id}`);
    assert.equal(await shared.balance(acc.id), 100 - N * PRICE);
    assert.deepEqual(await ledgerMismatches(shared.db), [], 'balance equals the ledger');
    // No hold left: a hold is a pending generation, and none is.
    const pending = await shared.db.kysely.selectFrom('generations').select('id').where('status', '=', 'pending').execute();
    assert.deepEqual(pending, []);
  });
});
