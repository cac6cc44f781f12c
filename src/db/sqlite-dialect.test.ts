// No statement with a LIMIT or OFFSET as a bare `?` reaches SQLite (src/db/sqlite-dialect.ts): SQLite
// compiles such a statement again at every run. What is checked is the text each statement is
// prepared from, for Kysely's builders and for the SQL written out with `limitValue`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Db } from './connect.js';
import { claimJobs, countOpenJobs } from '../jobs/store.js';
import { claimDue, insertDelivery } from '../webhooks/store.js';
import { generationsOwedWebhook, generationsWithFilesDue, historyPage } from '../generation/store.js';

const BARE = /\b(limit|offset)\s+\?/i;

describe('SQLite statements with a LIMIT or OFFSET', () => {
  let dir: string;
  let db: Db;
  const prepared: string[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumengate-limit-'));
    db = await openDatabase(`sqlite:${join(dir, 'db.sqlite')}`, { migrate: true });
    const sqlite = db.sqlite!;
    const prepare = sqlite.prepare.bind(sqlite);
    sqlite.prepare = (text: string) => {
      prepared.push(text);
      return prepare(text);
    };
  });
  after(async () => {
    await db.kysely.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("Kysely's builders write `limit +?` and `offset +?`", () => {
    const { sql, parameters } = db.kysely.selectFrom('generations').select('id').limit(5).offset(10).compile();
    assert.match(sql, / limit \+\? offset \+\?$/);
    assert.deepEqual(parameters, [5, 10]);
  });

  it('the job and webhook claims, the webhook sweep, the open-jobs count and history pages prepare none with a bare parameter', async () => {
    // A job in a retry's backoff and a delivery not due yet: both claims run their statement (an
    // idle claim reads only whether anything is open) and take nothing.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const now = new Date().toISOString();
    const sqlite = db.sqlite!;
    const account = Number(sqlite.prepare(`insert into accounts (name, plan, plan_tokens, package_tokens, status, created_at) values ('a', 'pro', 0, 0, 'active', ?)`).run(now).lastInsertRowid);
    const generation = Number(
      sqlite
        .prepare(
          `insert into generations (account_id, model_slug, category, status, held_plan, held_package, tokens_spent, created_at, hold_expires_at) values (?, 'm', 'image', 'pending', 0, 0, 0, ?, ?)`,
        )
        .run(account, now, later).lastInsertRowid,
    );
    sqlite
      .prepare(`insert into jobs (generation_id, account_id, state, attempts, max_attempts, run_after, input_json, created_at, updated_at) values (?, ?, 'queued', 1, 3, ?, '{}', ?, ?)`)
      .run(generation, account, later, now, now);
    await insertDelivery(db, { generationId: generation, accountId: account, url: 'https://example.com/hook', body: '{}' }, new Date(Date.now() + 3_600_000));
    assert.deepEqual(await claimJobs(db, 'test', 4, 60_000, 2), []);
    assert.equal(await countOpenJobs(db, account, 10), 1);
    assert.deepEqual(await claimDue(db, new Date(), 4, 60_000, 2), []);
    await historyPage(db, { offset: 20, limit: 21 });
    await historyPage(db, { beforeId: 100, offset: 0, limit: 21 });
    await generationsWithFilesDue(db, { deleted: true, limit: 50 });
    await generationsOwedWebhook(db, 0, 100);
    const limited = prepared.filter((t) => /\b(limit|offset)\b/i.test(t));
    // Each of the seven prepared a statement with a LIMIT of its own (the claims' subqueries' `limit 1` aside).
    assert.ok(limited.filter((t) => /\blimit \+\?/i.test(t)).length >= 7, `statements with limit +?:\n${limited.join('\n---\n')}`);
    assert.deepEqual(
      limited.filter((t) => BARE.test(t)),
      [],
    );
  });
});
