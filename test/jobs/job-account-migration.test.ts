// Migration 008 (src/db/migrations.ts) gives every job row its account: a database with jobs from
// before it is upgraded with each job's account filled in from its generation, and the open-jobs
// count behind the queue cap (src/jobs/store.ts) reads them, as the claim does through the indexes
// of migration 010. On SQLite, and on PostgreSQL in its pass.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrations.js';
import { claimJobs, countOpenJobs } from '../../src/jobs/store.js';
import { createTestDatabase } from '../support/test-database.js';

const pgUrl = process.env.TEST_DATABASE_URL ?? '';
const engines = [{ name: 'SQLite', pg: false }, ...(/^postgres/.test(pgUrl) ? [{ name: 'PostgreSQL', pg: true }] : [])];

describe('jobs.account_id (migration 008)', () => {
  for (const engine of engines) {
    it(`${engine.name}: jobs written before it get their generation's account, and open ones are counted per account`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lumengate-migrate-'));
      const testDb = engine.pg ? await createTestDatabase(pgUrl) : { url: `sqlite:${join(dir, 'db.sqlite')}`, drop: async () => {} };
      const db = await openDatabase(testDb.url, { migrate: false });
      try {
        await migrateToLatest(db.kysely, db.dialect, '007_pending_partial_indexes');
        const now = new Date().toISOString();
        const accounts = [];
        for (const name of ['a', 'b']) {
          accounts.push(
            (
              await db.kysely
                .insertInto('accounts')
                .values({ name, plan: 'pro', plan_tokens: 0, package_tokens: 0, status: 'active', plan_expires_at: null, created_at: now })
                .returning('id')
                .executeTakeFirstOrThrow()
            ).id,
          );
        }
        // Account a: two queued, one running, one done; account b: one queued. Written as the schema before 008 had them.
        const jobs: Array<[number, string]> = [
          [accounts[0]!, 'queued'],
          [accounts[0]!, 'running'],
          [accounts[1]!, 'queued'],
          [accounts[0]!, 'done'],
          [accounts[0]!, 'queued'],
        ];
        for (const [account, state] of jobs) {
          const g = await db.kysely
            .insertInto('generations')
            .values({ account_id: account, model_slug: 'flux-1.1-pro', category: 'image', status: 'pending', held_plan: 0, held_package: 0, tokens_spent: 0, created_at: now, hold_expires_at: now })
            .returning('id')
            .executeTakeFirstOrThrow();
          await sql`insert into jobs (generation_id, state, attempts, max_attempts, run_after, input_json, created_at, updated_at)
            values (${g.id}, ${state}, 0, 3, ${now}, '{}', ${now}, ${now})`.execute(db.kysely);
        }
        await migrateToLatest(db.kysely, db.dialect);
        const rows = await db.kysely.selectFrom('jobs').select(['account_id', 'state']).orderBy('generation_id').execute();
        assert.deepEqual(
          rows.map((r) => [Number(r.account_id), r.state]),
          jobs,
        );
        assert.equal(await countOpenJobs(db, accounts[0]!, 10), 3, 'queued and running, not done');
        assert.equal(await countOpenJobs(db, accounts[0]!, 2), 2, 'counted only up to the cap');
        assert.equal(await countOpenJobs(db, accounts[1]!, 10), 1);
        // Upgraded through 010 as well: the claim reads each account's open jobs by its indexes (a
        // running job without a lease is neither due nor counted as running).
        const claimed = await claimJobs(db, 'worker', 10, 60_000, 2);
        assert.deepEqual(
          claimed.sort((x, y) => x.generation_id - y.generation_id).map((j) => [Number(j.account_id), j.state]),
          [
            [accounts[0]!, 'running'],
            [accounts[1]!, 'running'],
            [accounts[0]!, 'running'],
          ],
        );
      } finally {
        await db.close();
        await testDb.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
