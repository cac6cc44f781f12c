// One account's jobs cannot keep another's waiting (docs/deploy.md, Workers): an account runs at
// most LUMENGATE_JOB_PER_ACCOUNT jobs at once (default: half the process's slots), and a freed slot
// goes to the account running the fewest, however many older jobs another account has queued. The
// fake Replicate holds every prediction until the test releases it, and each step waits for the
// provider to receive a create call, never for time to pass. Runs on both engines; the racing
// claims (several instances at one moment) on PostgreSQL only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settled, startJobHarness, type Harness } from '../support/harness.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import { endedJob } from '../support/job-rows.js';
import { needsPg, openSharedDatabase } from '../support/shared-db.js';
import { openDatabase } from '../../src/db/connect.js';
import { claimJobs } from '../../src/jobs/store.js';

const MODEL = 'flux-1.1-pro'; // fixed price: 4 credits
const PRICE = 4;

/** A job server with 4 slots on a fake Replicate that holds every prediction until the test releases it. */
async function startHoldingReplicate(env: Record<string, string> = {}): Promise<{ h: Harness; fake: FakeReplicate }> {
  const fake = await startFakeReplicate({ hold: true });
  const h = await startJobHarness({ REPLICATE_API_TOKEN: 'r8_fake_test_token', REPLICATE_BASE_URL: fake.baseUrl, LUMENGATE_JOB_CONCURRENCY: '4', ...env });
  return { h, fake };
}

describe('job queue fairness between accounts', () => {
  let h: Harness;
  let fake: FakeReplicate;
  // LUMENGATE_JOB_PER_ACCOUNT unset: 2, half of the 4 slots.
  before(async () => ({ h, fake } = await startHoldingReplicate()));
  after(async () => {
    await h.close();
    await fake.close();
  });

  /** Predictions the provider received for prompts starting with `who`. */
  const started = (who: string) => [...fake.predictions.values()].filter((p) => String(p.input.prompt).startsWith(who));
  const submit = async (acc: { key: string }, prompt: string) => {
    const r = await h.post('/api/v2/generate', { model: MODEL, prompt, wait: 0 }, acc.key);
    assert.deepEqual([r.status, r.json.status], [200, 'pending'], r.text);
    return r.json.id as number;
  };
  const states = async (ids: number[]) => (await h.server.db.kysely.selectFrom('jobs').select('state').where('generation_id', 'in', ids).execute()).map((j) => j.state).sort();

  it("an account's backlog beyond its cap waits; another account's job starts at once, and a freed slot goes to the account running fewest", async () => {
    const a = await h.account({ tokens: 100 });
    const b = await h.account({ tokens: 100 });
    const c = await h.account({ tokens: 100 });
    const d = await h.account({ tokens: 100 });
    const ids = new Map<number, { key: string; id: number }>();

    // A sends 6 jobs, more than the 4 slots: 2 start, 4 wait although 2 slots are free.
    const aIds: number[] = [];
    for (let i = 0; i < 6; i++) aIds.push(await submit(a, `a${i}`));
    for (const id of aIds) ids.set(id, a);
    await fake.until(() => started('a').length >= 2);

    // B's job, newer than all of A's, starts while A's wait.
    const bId = await submit(b, 'b');
    ids.set(bId, b);
    await fake.until(() => started('b').length === 1 || started('a').length > 2);
    assert.deepEqual([started('a').length, started('b').length], [2, 1], 'B started; A still at its cap');
    assert.deepEqual(await states(aIds), ['queued', 'queued', 'queued', 'queued', 'running', 'running']);

    // C fills the last slot (its second job waits for one); then D's job waits for a free slot.
    const cIds = [await submit(c, 'c0'), await submit(c, 'c1')];
    for (const id of cIds) ids.set(id, c);
    await fake.until(() => started('c').length === 1);
    const dId = await submit(d, 'd');
    ids.set(dId, d);
    assert.deepEqual(await states([dId]), ['queued']);

    // One of A's ends: its slot goes to D (running none), not to A's or C's older jobs (running one each).
    const created = fake.predictions.size;
    fake.release(started('a')[0]!.id);
    await fake.until(() => fake.predictions.size > created);
    assert.deepEqual([started('d').length, started('a').length, started('c').length], [1, 2, 1], 'the freed slot went to D');

    // Everything ends: every job completed once, each account charged exactly its jobs.
    fake.defaults = {};
    fake.release();
    for (const [id, acc] of ids) {
      const g = await settled(h, id, acc.key);
      assert.deepEqual([g.status, g.tokens_spent], ['completed', PRICE], `generation ${id}`);
      const j = await endedJob(h.server.db, id);
      assert.deepEqual([j.state, j.attempts], ['done', 1], `job ${id}`);
    }
    assert.equal(fake.creates(), ids.size, 'each job started once at the provider');
    assert.deepEqual(await Promise.all([a, b, c, d].map((x) => h.balance(x.id))), [100 - 6 * PRICE, 100 - PRICE, 100 - 2 * PRICE, 100 - PRICE]);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});

describe("one account's open jobs are capped", () => {
  let h: Harness;
  let fake: FakeReplicate;
  before(async () => ({ h, fake } = await startHoldingReplicate({ LUMENGATE_JOB_QUEUE_PER_ACCOUNT: '3' })));
  after(async () => {
    await h.close();
    await fake.close();
  });

  it('a submission past LUMENGATE_JOB_QUEUE_PER_ACCOUNT is 429 naming the cap, holds nothing, and leaves other accounts alone; a cancelled job frees its place', async () => {
    const a = await h.account({ tokens: 100 });
    const b = await h.account({ tokens: 100 });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await h.post('/api/v2/generate', { model: MODEL, prompt: `a${i}`, wait: 0 }, a.key);
      assert.deepEqual([r.status, r.json.status], [200, 'pending'], r.text);
      ids.push(r.json.id as number);
    }
    const refused = await h.post('/api/v2/generate', { model: MODEL, prompt: 'a3', wait: 0 }, a.key);
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json.error, 'rate_limit_exceeded');
    assert.deepEqual(refused.json.details, { reason: 'open_jobs', open_jobs: 3, max_open_jobs: 3 });
    assert.match(refused.json.message, /3 media jobs queued or running/);
    // The same cap on /v1's image surface, in OpenAI's error shape.
    const v1 = await h.post('/v1/images/generations', { model: MODEL, prompt: 'a3' }, a.key);
    assert.equal(v1.status, 429, v1.text);
    assert.equal(v1.json.error.code, 'rate_limit_exceeded');
    assert.equal(await h.balance(a.id), 100 - 3 * PRICE, 'the refused submissions held nothing');

    const other = await h.post('/api/v2/generate', { model: MODEL, prompt: 'b0', wait: 0 }, b.key);
    assert.deepEqual([other.status, other.json.status], [200, 'pending'], other.text);

    const cancelled = await h.post(`/api/v2/generate/${ids[2]}/cancel`, {}, a.key);
    assert.equal(cancelled.status, 200, cancelled.text);
    const again = await h.post('/api/v2/generate', { model: MODEL, prompt: 'a4', wait: 0 }, a.key);
    assert.deepEqual([again.status, again.json.status], [200, 'pending'], again.text);
    ids.push(again.json.id as number);

    // Everything ends; the ledger is exact.
    fake.defaults = {};
    fake.release();
    for (const id of [...ids.filter((x) => x !== ids[2]), other.json.id as number]) {
      const g = await settled(h, id, id === other.json.id ? b.key : a.key);
      assert.equal(g.status, 'completed', JSON.stringify(g));
    }
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});

describe('claims racing on PostgreSQL', { skip: needsPg }, () => {
  it('eight instances claiming at the same moment take one account exactly to its cap, each job once', async () => {
    const shared = await openSharedDatabase();
    const instances = await Promise.all(Array.from({ length: 8 }, () => openDatabase(shared.testDb.url)));
    try {
      // Job rows written directly (no hold: only the queue is under test).
      const acc = await shared.account('pro', 0);
      const now = new Date().toISOString();
      for (let i = 0; i < 24; i++) {
        const g = await shared.db.kysely
          .insertInto('generations')
          .values({ account_id: acc.id, model_slug: MODEL, category: 'image', status: 'pending', held_plan: 0, held_package: 0, tokens_spent: 0, created_at: now, hold_expires_at: now })
          .returning('id')
          .executeTakeFirstOrThrow();
        await shared.db.kysely
          .insertInto('jobs')
          .values({ generation_id: g.id, account_id: acc.id, state: 'queued', attempts: 0, max_attempts: 3, run_after: now, input_json: '{}', created_at: now, updated_at: now })
          .execute();
      }
      for (let round = 0; round < 10; round++) {
        const claimed = (await Promise.all(instances.map((db, i) => claimJobs(db, `racer-${i}`, 4, 60_000, 2)))).flat();
        assert.equal(claimed.length, 2, `round ${round}: ${claimed.map((j) => j.lease_owner).join(', ')}`);
        const running = await shared.db.kysely.selectFrom('jobs').select(['generation_id', 'attempts']).where('state', '=', 'running').execute();
        assert.deepEqual(
          running.map((j) => j.attempts),
          [round + 1, round + 1],
          'each claimed once per round',
        );
        await shared.db.kysely.updateTable('jobs').set({ state: 'queued', lease_owner: null, lease_expires_at: null }).where('state', '=', 'running').execute();
      }
    } finally {
      await Promise.all(instances.map((db) => db.close()));
      await shared.close();
    }
  });
});
