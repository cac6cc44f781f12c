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
import { claimDue } from '../webhooks/store.js';
import { generationsWithFilesDue, historyPage } from '../generation/store.js';

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

  it('the job and webhook claims, the open-jobs count and history pages prepare none with a bare parameter', async () => {
    await claimJobs(db, 'test', 4, 60_000, 2);
    await countOpenJobs(db, 1, 10);
    await claimDue(db, new Date(), 4, 60_000, 2);
    await historyPage(db, { offset: 20, limit: 21 });
    await historyPage(db, { beforeId: 100, offset: 0, limit: 21 });
    await generationsWithFilesDue(db, { deleted: true, limit: 50 });
    const limited = prepared.filter((t) => /\b(limit|offset)\b/i.test(t));
    // Each of the six prepared a statement with a LIMIT of its own (the claims' subqueries' `limit 1` aside).
    assert.ok(limited.filter((t) => /\blimit \+\?/i.test(t)).length >= 6, `statements with limit +?:\n${limited.join('\n---\n')}`);
    assert.deepEqual(
      limited.filter((t) => BARE.test(t)),
      [],
    );
  });
});
