// Migration 013 (src/db/migrations.ts) makes a generation's delivery row unique: a database whose
// races queued a generation twice before it keeps the older row of the two, and from then on a
// second queueing of a generation adds nothing. Generations from before it owe no sweep anything
// (their callback URL was never stored). On SQLite, and on PostgreSQL in its pass.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrations.js';
import { generationsOwedWebhook } from '../../src/generation/store.js';
import { insertDelivery } from '../../src/webhooks/store.js';
import { createTestDatabase } from '../support/test-database.js';

const pgUrl = process.env.TEST_DATABASE_URL ?? '';
const engine = /^postgres/.test(pgUrl) ? 'PostgreSQL' : 'SQLite';

describe('one delivery row per generation (migration 013)', () => {
  it(`${engine}: a generation queued twice before it keeps its older row; a later queueing adds none`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lumengate-migrate-'));
    const testDb = engine === 'PostgreSQL' ? await createTestDatabase(pgUrl) : { url: `sqlite:${join(dir, 'db.sqlite')}`, drop: async () => {} };
    const db = await openDatabase(testDb.url, { migrate: false });
    try {
      await migrateToLatest(db.kysely, db.dialect, '012_webhook_deliveries_by_account');
      const now = new Date();
      const at = now.toISOString();
      const account = await db.kysely
        .insertInto('accounts')
        .values({ name: 'a', plan: 'pro', plan_tokens: 0, package_tokens: 0, status: 'active', plan_expires_at: null, created_at: at })
        .returning('id')
        .executeTakeFirstOrThrow();
      const generation = () =>
        db.kysely
          .insertInto('generations')
          .values({ account_id: account.id, model_slug: 'gpt-5-nano', category: 'text', status: 'completed', held_plan: 0, held_package: 0, tokens_spent: 0, created_at: at, hold_expires_at: at })
          .returning('id')
          .executeTakeFirstOrThrow();
      const [twice, once] = [(await generation()).id, (await generation()).id];
      // As the schema before 013 took them (its insert had no conflict clause).
      const queuedBefore = async (generationId: number, body: string) =>
        (
          await db.kysely
            .insertInto('webhook_deliveries')
            .values({ generation_id: generationId, account_id: account.id, url: 'https://hooks.example.com/x', body, state: 'pending', attempts: 0, next_attempt_at: at, created_at: at })
            .returning('id')
            .executeTakeFirstOrThrow()
        ).id;
      const older = await queuedBefore(twice, '"first"');
      await queuedBefore(twice, '"second"');
      const single = await queuedBefore(once, '"only"');

      await migrateToLatest(db.kysely, db.dialect);
      const rows = await db.kysely.selectFrom('webhook_deliveries').select(['id', 'generation_id', 'body']).orderBy('id').execute();
      assert.deepEqual(
        rows.map((r) => [r.id, r.generation_id, r.body]),
        [
          [older, twice, '"first"'],
          [single, once, '"only"'],
        ],
      );
      assert.equal(
        await insertDelivery(db, { generationId: twice, accountId: account.id, url: 'https://hooks.example.com/x', body: '"again"' }, now),
        undefined,
        'a generation that has its row gets no second one',
      );
      assert.equal((await db.kysely.selectFrom('webhook_deliveries').select('id').execute()).length, 2);
      assert.deepEqual(await generationsOwedWebhook(db, 0, 100), [], 'nothing from before it is owed');
    } finally {
      await db.close();
      await testDb.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
