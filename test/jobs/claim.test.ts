// Which jobs one claim takes (claimJobs, src/jobs/store.ts), on the store itself: the claim reads
// only each account's first due jobs (migration 010), so what it must still get right is checked
// case by case here: an account with more due jobs than free slots, accounts tied on running jobs,
// jobs in backoff ahead of due ones, expired and live leases of other workers, the claim's limit.
// A named case, then random queues against the rule written out in plain code (fast-check; the
// seed is in the failure message). On SQLite, and on PostgreSQL in its pass.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { openDatabase, type Db } from '../../src/db/connect.js';
import { claimJobs } from '../../src/jobs/store.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { recordingStatements } from '../support/statements.js';

const pgUrl = process.env.TEST_DATABASE_URL ?? '';
const engine = /^postgres/.test(pgUrl) ? 'PostgreSQL' : 'SQLite';

/** A job as the test writes it: times are an hour from the claim's now, never near it. */
interface Spec {
  account: number;
  state: 'queued' | 'running' | 'done';
  /** queued: due (run_after an hour ago) or in backoff (in an hour). */
  due?: boolean;
  /** running: its lease live (ends in an hour) or expired (an hour ago). */
  live?: boolean;
  /** Minutes before that hour ago its run_after (due) or its lease's end (expired) came: what orders an account's jobs. */
  earlier?: number;
}

const HOUR = 3_600_000;
const at = (ms: number) => new Date(Date.now() + ms).toISOString();

/**
 * The claim's rule in plain code: the ids one claim of `limit` takes, `perAccount` the cap. An
 * account's claimable jobs are numbered after its running ones, the one due longest first (its
 * run_after, or an expired lease's end; then its id); slots fill by number, then by that order.
 */
function expected(jobs: Array<Spec & { id: number }>, limit: number, perAccount: number): number[] {
  const running = new Map<number, number>();
  for (const j of jobs) if (j.state === 'running' && j.live) running.set(j.account, (running.get(j.account) ?? 0) + 1);
  const rank = new Map<number, number>();
  const slots: Array<{ id: number; slot: number; earlier: number }> = [];
  const dueOrder = (x: Spec & { id: number }, y: Spec & { id: number }) => (y.earlier ?? 0) - (x.earlier ?? 0) || x.id - y.id;
  for (const j of [...jobs].sort(dueOrder)) {
    const claimable = (j.state === 'queued' && j.due) || (j.state === 'running' && !j.live);
    if (!claimable) continue;
    rank.set(j.account, (rank.get(j.account) ?? 0) + 1);
    const slot = (running.get(j.account) ?? 0) + rank.get(j.account)!;
    if (slot <= perAccount) slots.push({ id: j.id, slot, earlier: j.earlier ?? 0 });
  }
  return slots
    .sort((x, y) => x.slot - y.slot || y.earlier - x.earlier || x.id - y.id)
    .slice(0, limit)
    .map((s) => s.id)
    .sort((x, y) => x - y);
}

describe(`one claim's choice of jobs (${engine})`, () => {
  let dir: string;
  let testDb: TestDatabase | { url: string; drop(): Promise<void> };
  let db: Db;
  const accounts: number[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumengate-claim-test-'));
    testDb = engine === 'PostgreSQL' ? await createTestDatabase(pgUrl) : { url: `sqlite:${join(dir, 'db.sqlite')}`, drop: async () => {} };
    db = await openDatabase(testDb.url);
    for (let i = 0; i < 4; i++) {
      const row = await db.kysely
        .insertInto('accounts')
        .values({ name: `a${i}`, plan: 'pro', plan_tokens: 0, package_tokens: 0, status: 'active', plan_expires_at: null, created_at: at(0) })
        .returning('id')
        .executeTakeFirstOrThrow();
      accounts.push(row.id);
    }
  });
  after(async () => {
    await db.close();
    await testDb.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An empty queue holding `specs` in this order (ids ascending); their ids. `add`: added to the jobs already there. */
  async function queue(specs: Spec[], add = false): Promise<number[]> {
    if (!add) {
      await db.kysely.deleteFrom('jobs').execute();
      await db.kysely.deleteFrom('generations').execute();
    }
    const ids: number[] = [];
    for (const s of specs) {
      const account = accounts[s.account]!;
      const g = await db.kysely
        .insertInto('generations')
        .values({
          account_id: account,
          model_slug: 'flux-1.1-pro',
          category: 'image',
          status: 'pending',
          held_plan: 0,
          held_package: 0,
          tokens_spent: 0,
          created_at: at(-HOUR),
          hold_expires_at: at(HOUR),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const running = s.state === 'running';
      await db.kysely
        .insertInto('jobs')
        .values({
          generation_id: g.id,
          account_id: account,
          state: s.state,
          attempts: running ? 1 : 0,
          max_attempts: 3,
          lease_owner: running ? 'elsewhere' : null,
          lease_expires_at: running ? at(s.live ? HOUR : -HOUR - (s.earlier ?? 0) * 60_000) : null,
          run_after: at(s.state === 'queued' && !s.due ? HOUR : -HOUR - (s.earlier ?? 0) * 60_000),
          started_at: running ? at(-HOUR) : null,
          input_json: '{}',
          created_at: at(-HOUR),
          updated_at: at(-HOUR),
        })
        .execute();
      ids.push(g.id);
    }
    return ids;
  }

  /** Claims, checks what it wrote on each job it took, and returns their ids in order. */
  async function claim(limit: number, perAccount: number): Promise<number[]> {
    const rows = async () => new Map((await db.kysely.selectFrom('jobs').select(['generation_id', 'attempts', 'lease_owner']).execute()).map((j) => [j.generation_id, j]));
    const before = await rows();
    const jobs = await claimJobs(db, 'claimer', limit, 60_000, perAccount);
    for (const j of jobs) {
      assert.deepEqual([j.state, j.lease_owner, j.attempts], ['running', 'claimer', before.get(j.generation_id)!.attempts + 1], `job ${j.generation_id}`);
      assert.ok(j.lease_expires_at! > at(0) && j.started_at !== null, `job ${j.generation_id} leased and started`);
    }
    const taken = [...(await rows()).values()].filter((j) => j.lease_owner === 'claimer' && before.get(j.generation_id)!.lease_owner !== 'claimer');
    assert.deepEqual(
      taken.map((j) => j.generation_id).sort((x, y) => x - y),
      jobs.map((j) => j.generation_id).sort((x, y) => x - y),
      'the jobs returned are the jobs taken',
    );
    return jobs.map((j) => j.generation_id).sort((x, y) => x - y);
  }

  it('takes the free slots by fewest running, then oldest: backoff, live and expired leases, one account with more due jobs than slots', async () => {
    const ids = await queue([
      { account: 0, state: 'queued', due: true }, // 0: account 0 runs none: its 2 oldest due take its 2 slots
      { account: 0, state: 'queued', due: false }, // 1: in backoff, passed over
      { account: 1, state: 'running', live: true }, // 2: account 1 runs one (another worker's live lease)
      { account: 0, state: 'queued', due: true }, // 3: account 0's second due job
      { account: 1, state: 'queued', due: true }, // 4: account 1's free slot (its slot 2, after the slot-1 jobs)
      { account: 0, state: 'queued', due: true }, // 5: past account 0's cap
      { account: 2, state: 'running', live: false }, // 6: expired lease: claimable, and not counted as running
      { account: 3, state: 'running', live: true }, // 7: account 3 at its cap of 2 ...
      { account: 3, state: 'running', live: true },
      { account: 3, state: 'queued', due: true }, // 9: ... so its due job waits
      { account: 2, state: 'done' },
      { account: 2, state: 'queued', due: true }, // 11: account 2's second slot
    ]);
    // Slot 1: jobs 0 (account 0) and 6 (account 2); slot 2: 3, 4 and 11. The limit of 4 cuts at the oldest of slot 2.
    assert.deepEqual(await claim(4, 2), [ids[0], ids[3], ids[4], ids[6]]);
    // The next claim finds account 2's last free slot (job 11) and nothing else.
    assert.deepEqual(await claim(4, 2), [ids[11]]);
    assert.deepEqual(await claim(4, 2), []);
  });

  it("takes an account's job due longest first, not its oldest: a retried job due again after a newer one waits behind it; many jobs in backoff are not read", async () => {
    const ids = await queue([
      { account: 0, state: 'queued', due: true, earlier: 0 }, // 0: the oldest, due again an hour ago (after a retry's backoff)
      { account: 0, state: 'queued', due: true, earlier: 30 }, // 1: newer, due 90 minutes ago: first
      ...Array.from({ length: 40 }, () => ({ account: 1, state: 'queued' as const, due: false })), // account 1's backoff
      { account: 1, state: 'queued', due: true }, // 42: account 1's one due job, behind 40 in backoff
    ]);
    assert.deepEqual(await claim(2, 1), [ids[1], ids[42]]);
    assert.deepEqual(await claim(2, 2), [ids[0]]);
  });

  it('takes nothing from an idle queue (every job ended) in one read, without the claim statement or its lock; a job queued after it is taken by the next claim', async () => {
    await queue([{ account: 0, state: 'done' }]);
    const seen = recordingStatements(db);
    assert.deepEqual(await claimJobs(seen.db, 'claimer', 4, 60_000, 2), []);
    assert.equal(seen.statements.length, 1, `one read, no claim or lock: ${seen.statements.map((t) => t.slice(0, 40)).join(' | ')}`);
    assert.match(seen.statements[0]!, /^select 1 from jobs /);
    const [queued] = await queue([{ account: 1, state: 'queued', due: true }], true);
    assert.deepEqual(await claim(4, 2), [queued]);
  });

  it('takes what the rule in plain code takes, on random queues', async () => {
    const spec: fc.Arbitrary<Spec> = fc.record({
      account: fc.integer({ min: 0, max: 3 }),
      state: fc.constantFrom('queued', 'queued', 'running', 'done'),
      due: fc.boolean(),
      live: fc.boolean(),
      // Mostly the same time (then the oldest job first), sometimes a job that became due earlier than older ones.
      earlier: fc.constantFrom(0, 0, 1, 30),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { maxLength: 16 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), async (specs, limit, perAccount) => {
        const ids = await queue(specs);
        const want = expected(
          specs.map((s, i) => ({ ...s, id: ids[i]! })),
          limit,
          perAccount,
        );
        assert.deepEqual(await claim(limit, perAccount), want);
      }),
      { numRuns: 60 },
    );
  });
});
