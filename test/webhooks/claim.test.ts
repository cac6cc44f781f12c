// The delivery claim (claimDue, src/webhooks/store.ts) on an idle table: with no pending row it
// reads once and returns, without the claim statement or its lock, and a delivery queued after that
// is taken by the next claim. On SQLite, and on PostgreSQL in its pass.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/db/connect.js';
import { claimDue, finishAttempt, insertDelivery } from '../../src/webhooks/store.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { recordingStatements } from '../support/statements.js';

const pgUrl = process.env.TEST_DATABASE_URL ?? '';
const engine = /^postgres/.test(pgUrl) ? 'PostgreSQL' : 'SQLite';

describe(`the delivery claim on an idle table (${engine})`, () => {
  let dir: string;
  let testDb: TestDatabase | { url: string; drop(): Promise<void> };
  let db: Db;
  let delivery: () => Promise<number>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumengate-delivery-claim-test-'));
    testDb = engine === 'PostgreSQL' ? await createTestDatabase(pgUrl) : { url: `sqlite:${join(dir, 'db.sqlite')}`, drop: async () => {} };
    db = await openDatabase(testDb.url);
    const now = new Date().toISOString();
    const account = await db.kysely
      .insertInto('accounts')
      .values({ name: 'a', plan: 'pro', plan_tokens: 0, package_tokens: 0, status: 'active', plan_expires_at: null, created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    // Each delivery of its own generation: a generation has one delivery row (migration 013).
    delivery = async () => {
      const generation = await db.kysely
        .insertInto('generations')
        .values({ account_id: account.id, model_slug: 'flux-1.1-pro', category: 'image', status: 'completed', held_plan: 0, held_package: 0, tokens_spent: 0, created_at: now, hold_expires_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
      const id = await insertDelivery(db, { generationId: generation.id, accountId: account.id, url: 'https://example.com/hook', body: '{}' }, new Date());
      assert.ok(id !== undefined);
      return id;
    };
  });
  after(async () => {
    await db.close();
    await testDb.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes nothing from a table whose deliveries all ended in one read, without the claim statement or its lock; a delivery queued after it is taken by the next claim', async () => {
    const first = await delivery();
    const [claimed] = await claimDue(db, new Date(), 4, 60_000, 2);
    assert.equal(claimed?.id, first);
    await finishAttempt(db, first, claimed.attempts, { state: 'delivered', status: 200 }, new Date());
    const seen = recordingStatements(db);
    assert.deepEqual(await claimDue(seen.db, new Date(), 4, 60_000, 2), []);
    assert.equal(seen.statements.length, 1, `one read, no claim or lock: ${seen.statements.map((t) => t.slice(0, 40)).join(' | ')}`);
    assert.match(seen.statements[0]!, /^select 1 from webhook_deliveries /);
    const next = await delivery();
    assert.deepEqual(
      (await claimDue(db, new Date(), 4, 60_000, 2)).map((d) => [d.id, d.attempts]),
      [[next, 1]],
    );
  });
});
