// The hot PostgreSQL statements (src/db/prepared.ts): prepared once per connection by default, and
// sent as plain text with DATABASE_PREPARED_STATEMENTS=off (a pooler in transaction mode that cannot
// keep them, docs/deploy.md). pg_prepared_statements lists what this session has prepared; a pool
// of one connection makes every statement run on that session. PostgreSQL only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/connect.js';
import { prepared, preparedSql, SqlText } from '../../src/db/prepared.js';
import { createAccount } from '../../src/accounts/service.js';
import { createKey, findCaller } from '../../src/accounts/keys.js';
import { holdTokens, settleGeneration, type Settlement } from '../../src/billing/ledger.js';
import { settleBatch } from '../../src/billing/postgres-settle-batch.js';
import { holdBatch } from '../../src/billing/postgres-hold-batch.js';
import { settingsFromEnv } from '../../src/config/env.js';
import { createTestDatabase } from '../support/test-database.js';

const base = process.env.TEST_DATABASE_URL;
const onPostgres = base?.startsWith('postgres') === true;

/** A completed settlement of a generation created at `createdAt`. */
const completed = (createdAt: string, more: Partial<Settlement> = {}): Settlement => ({
  status: 'completed',
  resultText: 'ok',
  error: null,
  finishReason: 'stop',
  usage: null,
  route: 'openai',
  firstTokenAt: null,
  createdAt,
  ...more,
});
/** A hold of 2 tokens on `accountId`. */
const holdOf = (accountId: number) => ({ accountId, apiKeyId: null, modelSlug: 'gpt-5-nano', category: 'text', price: 2, prompt: 'hi', holdTtlMs: 60_000 });

describe('prepared statements (PostgreSQL)', { skip: onPostgres ? false : 'needs TEST_DATABASE_URL (PostgreSQL)' }, () => {
  /** The names this connection has prepared after a key lookup, a hold and a settlement; the settlement's outcome. */
  async function afterOneRequest(preparedStatements: boolean): Promise<{ names: string[]; spent: number }> {
    const testDb = await createTestDatabase(base!);
    const db = await openDatabase(testDb.url, { poolSize: 1, preparedStatements });
    try {
      const account = await createAccount(db, { name: 'prepared', plan: 'pro', tokens: 10 });
      const { key } = await createKey(db, account.id, 'prepared');
      // Twice: the second run of a prepared statement sends only its parameters.
      for (let i = 0; i < 2; i++) assert.equal((await findCaller(db, key))?.account.id, account.id);
      const hold = await holdTokens(db, holdOf(account.id));
      assert.ok(hold);
      const settled = await settleGeneration(db, hold.generationId, completed(hold.createdAt));
      const { rows } = await sql<{ name: string }>`select name from pg_prepared_statements order by name`.execute(db.kysely);
      return { names: rows.map((r) => r.name), spent: settled.tokensSpent };
    } finally {
      await db.close();
      await testDb.drop();
    }
  }

  it('prepares the key lookup, the hold and the settlement once per connection by default', async () => {
    const r = await afterOneRequest(true);
    assert.deepEqual(r.names, ['caller', 'hold', 'settle']);
    assert.equal(r.spent, 2);
  });

  it('DATABASE_PREPARED_STATEMENTS=off sends them as text: nothing prepared, same results', async () => {
    assert.equal(settingsFromEnv({ DATABASE_PREPARED_STATEMENTS: 'off' }).dbPreparedStatements, false);
    assert.equal(settingsFromEnv({}).dbPreparedStatements, true);
    assert.throws(() => settingsFromEnv({ DATABASE_PREPARED_STATEMENTS: 'maybe' }), /DATABASE_PREPARED_STATEMENTS/);
    const r = await afterOneRequest(false);
    assert.deepEqual(r.names, []);
    assert.equal(r.spent, 2);
  });
  it('preparedSql: values are $1…$n in order, SqlText is inlined, and a refused statement keeps its connection', async () => {
    const testDb = await createTestDatabase(base!);
    const db = await openDatabase(testDb.url, { poolSize: 1 });
    try {
      const run = (a: string, b: string) =>
        preparedSql<{ a: string; b: string; pid: number }>`/* prepared: test_site */ select ${a}::text as a, ${new SqlText("'inline-'")} || ${b}::text as b, pg_backend_pid() as pid`.execute(db);
      const first = await run('x', 'y');
      assert.deepEqual(
        first.rows.map((r) => [r.a, r.b]),
        [['x', 'inline-y']],
      );
      const { rows: prepared } = await sql<{ statement: string }>`select statement from pg_prepared_statements where name = 'test_site'`.execute(db.kysely);
      assert.equal(prepared[0]?.statement, "/* prepared: test_site */ select $1::text as a, 'inline-' || $2::text as b, pg_backend_pid() as pid");
      // PostgreSQL refuses a statement: the caller gets its error, and the connection goes back to
      // the pool (with one connection, the next statement runs on the same backend).
      await assert.rejects(preparedSql`/* prepared: test_refused */ select 1 / ${0}::integer`.execute(db), /division by zero/);
      const again = await run('p', 'q');
      assert.deepEqual(
        again.rows.map((r) => [r.a, r.b, r.pid]),
        [['p', 'inline-q', first.rows[0]!.pid]],
      );
    } finally {
      await db.close();
      await testDb.drop();
    }
  });

  // A prepared statement's plan is made once per connection and kept until the table's statistics
  // change (autovacuum's analyze, at most once a minute): on a young database it was made while
  // `generations` was nearly empty, where a sequential scan is the planner's cheapest way to a row,
  // and every later batch then read the whole, growing table (bench/NOTES.md, twelfth session).
  it('the batch settlement reaches generations by primary key, even with a plan made on an empty table', async () => {
    const testDb = await createTestDatabase(base!);
    const db = await openDatabase(testDb.url, { poolSize: 1 });
    try {
      // The plan PostgreSQL keeps after five runs of a prepared statement, made now, on an empty table.
      await sql`set plan_cache_mode = force_generic_plan`.execute(db.kysely);
      const account = await createAccount(db, { name: 'plans', plan: 'pro', tokens: 1_000_000 });
      const settlement = (createdAt: string) => completed(createdAt, { charge: 1 });
      const settleAll = (holds: Array<{ generationId: number; createdAt: string }>) =>
        settleBatch(
          db,
          holds.map((h) => ({ generationId: h.generationId, st: settlement(h.createdAt) })),
        );
      const holdSome = async (n: number) => {
        const holds = [];
        for (let i = 0; i < n; i++) {
          const hold = await holdTokens(db, holdOf(account.id));
          assert.ok(hold);
          holds.push(hold);
        }
        return holds;
      };
      const first = await holdSome(2);
      const settled = await settleAll(first);
      assert.deepEqual(
        [...settled.values()].map((s) => [s.applied, s.tokensSpent]),
        [
          [true, 1],
          [true, 1],
        ],
      );
      // The other hot statements that touch generations, prepared on this connection too while it is
      // nearly empty: the single settlement and the batch of holds.
      const [alone] = await holdSome(1);
      assert.equal((await settleGeneration(db, alone!.generationId, settlement(alone!.createdAt))).tokensSpent, 1);
      assert.equal((await holdBatch(db, [holdOf(account.id), holdOf(account.id)])).size, 2);
      // Each kept plan, asked for with any parameters (they do not change a generic plan).
      const { rows: kept } = await sql<{ name: string; n: number }>`select name, cardinality(parameter_types) as n from pg_prepared_statements order by name`.execute(db.kysely);
      assert.deepEqual(
        kept.map((k) => k.name),
        ['hold', 'hold_batch', 'settle', 'settle_batch'],
      );
      const plans = new Map<string, string>();
      for (const k of kept) {
        const { rows: plan } = await sql<{ 'QUERY PLAN': string }>`explain execute ${sql.raw(k.name)}(${sql.raw(Array(k.n).fill('null').join(', '))})`.execute(db.kysely);
        const text = plan.map((r) => r['QUERY PLAN']).join('\n');
        plans.set(k.name, text);
        assert.doesNotMatch(text, /Seq Scan on generations/, `${k.name}: ${text}`);
      }
      assert.match(plans.get('settle_batch')!, /generations_pkey/);
      // And the kept plan still settles correctly once the table has grown, a generation settled twice included.
      const later = await holdSome(3);
      const again = await settleAll([...later, first[0]!]);
      assert.deepEqual(
        [...again.entries()].sort(([a], [b]) => a - b).map(([i, s]) => [i, s.applied, s.tokensSpent]),
        [
          [0, true, 1],
          [1, true, 1],
          [2, true, 1],
          [3, false, 0],
        ],
      );
    } finally {
      await db.close();
      await testDb.drop();
    }
  });

  it('a hot statement describes its columns once: later rows are typed and shaped as the first, and new columns are seen', async () => {
    const testDb = await createTestDatabase(base!);
    // Both ways a hot statement runs: prepared (its columns cannot change) and as text (they can).
    for (const preparedStatements of [true, false]) {
      const db = await openDatabase(testDb.url, { poolSize: 1, preparedStatements });
      try {
        const typed = prepared('test_columns', `select $1::integer as n, $2::text as t, timestamptz '2026-01-02T03:04:05Z' as at, $3::bigint as big, null::integer as nothing, true as yes`);
        for (const [n, t] of [
          [1, 'one'],
          [2, 'two'],
          [3, 'three'],
        ] as const) {
          const { rows } = await db.pgQuery!(typed, [n, t, '9007199254740993']);
          assert.deepEqual(rows, [{ n, t, at: new Date('2026-01-02T03:04:05Z'), big: '9007199254740993', nothing: null, yes: true }]);
          // Each row is its own object (the kept template is copied, never handed out).
          (rows[0] as Record<string, unknown>).extra = 'written by the caller';
        }
        // The same text answering other columns (a table altered between two runs): described anew.
        await sql`drop table if exists shape_test`.execute(db.kysely);
        await sql`create table shape_test (a integer)`.execute(db.kysely);
        await sql`insert into shape_test values (1)`.execute(db.kysely);
        const star = prepared('test_star', 'select * from shape_test');
        assert.deepEqual((await db.pgQuery!(star, [])).rows, [{ a: 1 }]);
        await sql`alter table shape_test add column b text default 'bee'`.execute(db.kysely);
        if (preparedStatements) {
          // PostgreSQL itself refuses a prepared statement whose columns changed.
          await assert.rejects(db.pgQuery!(star, []), /cached plan must not change result type/);
        } else {
          assert.deepEqual((await db.pgQuery!(star, [])).rows, [{ a: 1, b: 'bee' }]);
        }
        await sql`drop table shape_test`.execute(db.kysely);
      } finally {
        await db.close();
      }
    }
    await testDb.drop();
  });
});
