// Money under concurrency: holds are atomic, settlement is exact, the ledger always explains the balance.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { allSettled, startHarness, startJobHarness, type Harness } from '../support/harness.js';
import { CompiledQuery, sql } from 'kysely';
import { holdTokens, settleGeneration } from '../../src/billing/ledger.js';
import { pendingGenerationsQuery, type PendingFilter } from '../../src/generation/store.js';

describe('money', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('200 concurrent requests on an account funded for 50: exactly 50 complete, 150 get 402, balance 0, ledger exact', async () => {
    const a = await h.account({ plan: 'elite', tokens: 50 });
    h.fake.respondWith({ chunks: ['a', 'b'], delayMs: 5 });
    const agent = new Agent({ connections: 256 });
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await fetch(`${h.url}/api/v2/generate`, {
          method: 'POST',
          headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-5-nano', prompt: `request ${i}` }),
          // @ts-expect-error undici's dispatcher option is not in the DOM fetch types
          dispatcher: agent,
        });
        return { status: res.status, body: await res.json() };
      }),
    );
    await agent.close();
    const by = (s: number) => results.filter((r) => r.status === s);
    assert.equal(by(200).length, 50);
    assert.equal(by(402).length, 150);
    for (const r of by(402)) assert.equal(r.body.error, 'insufficient_tokens');
    for (const r of by(200)) assert.equal(r.body.tokens_spent, 1);
    assert.equal(await h.balance(a.id), 0);
    assert.deepEqual(await h.ledgerMismatches(), []);
    const rows = await h.server.db.kysely
      .selectFrom('ledger')
      .select(['kind'])
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', a.id)
      .groupBy('kind')
      .execute();
    const count = Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]));
    assert.deepEqual(count, { grant: 1, hold: 50, charge: 50 });
    const spent = await h.server.db.kysely
      .selectFrom('generations')
      .select((eb) => eb.fn.sum<number>('tokens_spent').as('s'))
      .where('account_id', '=', a.id)
      .executeTakeFirstOrThrow();
    assert.equal(Number(spent.s), 50);
  });

  it('plan tokens are spent first and a release gives back exactly what the hold took', async () => {
    const a = await h.account({ plan: 'pro', tokens: 3, packageTokens: 10 });
    const hold = await holdTokens(h.server.db, { accountId: a.id, apiKeyId: null, modelSlug: 'gpt-5.2', category: 'text', price: 4, prompt: null, holdTtlMs: 60_000 });
    assert.ok(hold);
    let acc = await h.server.db.kysely.selectFrom('accounts').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    assert.deepEqual([acc.plan_tokens, acc.package_tokens], [0, 9]);
    const failed = { status: 'failed' as const, resultText: null, error: 'provider_error', finishReason: null, usage: null, route: null, firstTokenAt: null };
    const first = await settleGeneration(h.server.db, hold.generationId, failed);
    const again = await settleGeneration(h.server.db, hold.generationId, { ...failed, status: 'completed' });
    assert.equal(first.applied, true);
    assert.equal(again.applied, false, 'a second settlement changes nothing');
    acc = await h.server.db.kysely.selectFrom('accounts').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    assert.deepEqual([acc.plan_tokens, acc.package_tokens], [3, 10]);
    const g = await h.server.db.kysely.selectFrom('generations').selectAll().where('id', '=', hold.generationId).executeTakeFirstOrThrow();
    assert.equal(g.status, 'failed');
    assert.equal(g.tokens_spent, 0);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('concurrent holds of different prices on one account: what fits is held, plan tokens first, a refused large hold never blocks a smaller one', async () => {
    // On PostgreSQL the holds that arrive while one is in flight leave in one statement
    // (src/billing/postgres-hold-batch.ts); on SQLite they share one transaction. Either way each
    // hold is decided in turn: a refused hold cost more than was left, and the balance never goes below 0.
    const a = await h.account({ plan: 'pro', tokens: 5, packageTokens: 6 });
    const prices = [4, 4, 6, 1, 1, 1, 1, 2, 5, 1];
    const holds = await Promise.all(prices.map((price) => holdTokens(h.server.db, { accountId: a.id, apiKeyId: null, modelSlug: 'gpt-5.2', category: 'text', price, prompt: 'p', holdTtlMs: 60_000 })));
    const taken = holds.reduce((n, hold, i) => n + (hold ? prices[i]! : 0), 0);
    const left = await h.balance(a.id);
    assert.equal(left, 11 - taken);
    assert.ok(left >= 0);
    for (const [i, hold] of holds.entries()) if (!hold) assert.ok(prices[i]! > left, `a hold of ${prices[i]} was refused with ${left} left`);
    const ids = holds.filter((x) => x !== null).map((x) => x.generationId);
    assert.equal(new Set(ids).size, ids.length, 'one generation per hold');
    const gens = await h.server.db.kysely.selectFrom('generations').select(['id', 'held_plan', 'held_package', 'status']).where('id', 'in', ids).execute();
    assert.equal(gens.length, ids.length);
    for (const g of gens) {
      const i = holds.findIndex((x) => x?.generationId === g.id);
      assert.equal(g.held_plan + g.held_package, prices[i], 'each generation holds its own price');
      assert.equal(g.status, 'pending');
    }
    const acc = await h.server.db.kysely.selectFrom('accounts').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    const plan = Math.min(5, taken);
    assert.deepEqual([acc.plan_tokens, acc.package_tokens], [5 - plan, 6 - (taken - plan)], 'plan tokens were spent first');
    assert.equal(
      gens.reduce((n, g) => n + g.held_plan, 0),
      plan,
    );
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('concurrent holds each keep their own callback URL on their generation, or none (batched on PostgreSQL)', async () => {
    // Where the generation's end is reported: kept with it until its webhook is queued (src/webhooks/webhooks.ts).
    const a = await h.account({ plan: 'pro', tokens: 100 });
    const urls = ['https://hooks.example.com/1', undefined, 'https://hooks.example.com/3', undefined, 'https://hooks.example.com/5', 'https://hooks.example.com/6'];
    const holds = await Promise.all(
      urls.map((callbackUrl) =>
        holdTokens(h.server.db, { accountId: a.id, apiKeyId: null, modelSlug: 'gpt-5.2', category: 'text', price: 1, prompt: 'p', holdTtlMs: 60_000, ...(callbackUrl ? { callbackUrl } : {}) }),
      ),
    );
    const ids = holds.map((x) => x!.generationId);
    const gens = await h.server.db.kysely.selectFrom('generations').select(['id', 'callback_url']).where('id', 'in', ids).execute();
    assert.deepEqual(
      ids.map((id) => gens.find((g) => g.id === id)?.callback_url),
      urls.map((u) => u ?? null),
    );
  });

  it('concurrent settlements of different generations, completed, partly charged and failed, each applied once with the exact split', async () => {
    // On PostgreSQL the settlements that arrive while one is in flight leave in one statement
    // (src/billing/postgres-settle-batch.ts), a generation named twice in it settled by its first call.
    const a = await h.account({ plan: 'pro', tokens: 10, packageTokens: 10 });
    const ids: number[] = [];
    for (let i = 0; i < 8; i++) {
      const hold = await holdTokens(h.server.db, { accountId: a.id, apiKeyId: null, modelSlug: 'gpt-5.2', category: 'text', price: 2, prompt: null, holdTtlMs: 60_000 });
      ids.push(hold!.generationId);
    }
    // Holds 0-4 took plan tokens, 5-7 package tokens.
    const done = { status: 'completed' as const, resultText: 'ok', error: null, finishReason: 'stop', usage: { input_tokens: 1 }, route: 'openai', firstTokenAt: null };
    const failed = { ...done, status: 'failed' as const, resultText: null, error: 'provider_error', finishReason: null };
    const settlementOf = (i: number) => (i < 3 ? done : i < 5 ? { ...done, charge: 1 } : failed);
    // One call goes at once while the rest queue behind it and leave together: generation 0 is
    // named twice in that batch.
    const order = [5, 6, 0, 1, 2, 3, 4, 7, 0];
    const answers = await Promise.all(order.map((i) => settleGeneration(h.server.db, ids[i]!, settlementOf(i))));
    const spent = (i: number) => answers[order.indexOf(i)]!.tokensSpent;
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map(spent), [2, 2, 2, 1, 1, 0, 0, 0]);
    assert.equal([answers[2]!, answers[8]!].filter((x) => x.applied).length, 1, 'generation 0 settled once');
    assert.equal(answers.filter((x) => x.applied).length, 8);
    for (const x of answers) assert.ok(x.balance >= 4 && x.balance <= 12, `balance answered ${x.balance}`);
    const acc = await h.server.db.kysely.selectFrom('accounts').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    // Partial charges give back plan tokens (what those holds took), failures package tokens.
    assert.deepEqual([acc.plan_tokens, acc.package_tokens], [2, 10]);
    const gens = await h.server.db.kysely.selectFrom('generations').select(['id', 'status', 'tokens_spent']).where('id', 'in', ids).orderBy('id').execute();
    assert.deepEqual(
      gens.map((g) => [g.status, g.tokens_spent]),
      [
        ...Array(5)
          .fill(['completed'])
          .map((x, i) => [...x, i < 3 ? 2 : 1]),
        ...Array(3).fill(['failed', 0]),
      ],
    );
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('concurrent settlements of one generation charge it once', async () => {
    const a = await h.account({ plan: 'pro', tokens: 5 });
    const hold = (await holdTokens(h.server.db, { accountId: a.id, apiKeyId: null, modelSlug: 'gpt-5', category: 'text', price: 2, prompt: null, holdTtlMs: 60_000 }))!;
    const done = { status: 'completed' as const, resultText: 'x', error: null, finishReason: 'stop', usage: null, route: null, firstTokenAt: null };
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => settleGeneration(h.server.db, hold.generationId, i % 2 ? done : { ...done, status: 'failed', resultText: null, error: 'x' })),
    );
    assert.equal(results.filter((r) => r.applied).length, 1);
    const g = await h.server.db.kysely.selectFrom('generations').selectAll().where('id', '=', hold.generationId).executeTakeFirstOrThrow();
    assert.equal(await h.balance(a.id), g.status === 'completed' ? 3 : 5);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('ledger calls issued together: one that fails does not undo the others (SQLite group commit, savepoint per call)', async () => {
    const a = await h.account({ plan: 'pro', tokens: 10 });
    const req = { accountId: a.id, apiKeyId: null, modelSlug: 'gpt-5', category: 'text', price: 3, prompt: null, holdTtlMs: 60_000 };
    const done = { status: 'completed' as const, resultText: 'x', error: null, finishReason: 'stop', usage: null, route: null, firstTokenAt: null };
    // Same tick: on SQLite these four share one transaction.
    const [first, missing, second, third] = await Promise.allSettled([
      holdTokens(h.server.db, req),
      settleGeneration(h.server.db, 2_000_000_000, done),
      holdTokens(h.server.db, req),
      holdTokens(h.server.db, { ...req, price: 5 }),
    ]);
    assert.equal(missing.status, 'rejected');
    assert.match(String(missing.reason), /no generation/);
    // On PostgreSQL the three holds race on separate connections: any two fit in 10 tokens, never three.
    const holds = [
      [first, 3],
      [second, 3],
      [third, 5],
    ] as const;
    const taken = holds.filter(([r]) => r.status === 'fulfilled' && r.value !== null);
    assert.equal(taken.length, 2, 'exactly two holds fit');
    assert.ok(
      holds.every(([r]) => r.status === 'fulfilled'),
      'a refused hold is null, not an error',
    );
    assert.equal(await h.balance(a.id), 10 - taken.reduce((sum, [, price]) => sum + price, 0));
    const pending = await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).where('status', '=', 'pending').execute();
    assert.equal(pending.length, 2);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a stale hold left by a dead server is released by the sweeper', async () => {
    const { releaseStaleHolds } = await import('../../src/billing/ledger.js');
    const a = await h.account({ plan: 'pro', tokens: 5 });
    const hold = (await holdTokens(h.server.db, { accountId: a.id, apiKeyId: null, modelSlug: 'gpt-5', category: 'text', price: 2, prompt: null, holdTtlMs: 1 }))!;
    assert.equal(await h.balance(a.id), 3);
    // The sweep as it would run a second from now (no waiting on the clock): this 1 ms hold has expired by then.
    assert.ok((await releaseStaleHolds(h.server.db, new Date(Date.now() + 1000))) >= 1);
    assert.equal(await h.balance(a.id), 5);
    const g = await h.server.db.kysely.selectFrom('generations').selectAll().where('id', '=', hold.generationId).executeTakeFirstOrThrow();
    assert.equal(g.status, 'failed');
    assert.equal(g.error, 'server_interrupted');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('the pending sweeps read the partial indexes, which keep no settled generation', async () => {
    const db = h.server.db;
    const a = await h.account({ plan: 'pro', tokens: 10 });
    const settled = (await holdTokens(db, { accountId: a.id, apiKeyId: null, modelSlug: 'gpt-5', category: 'text', price: 1, prompt: null, holdTtlMs: 60_000 }))!;
    await settleGeneration(db, settled.generationId, { status: 'completed', resultText: 'ok', error: null, finishReason: 'stop', usage: null, route: null, firstTokenAt: null });
    // The plan each engine makes for the two sweeps, with the values bound as the server binds them.
    // PostgreSQL would rather scan a small table: with sequential scans off it shows which index it can use
    // (either partial index: both are as small as the pending rows).
    const plan = (f: PendingFilter) =>
      db.kysely.transaction().execute(async (trx) => {
        if (db.dialect === 'postgres') await sql`set local enable_seqscan = off`.execute(trx);
        const q = pendingGenerationsQuery(db, f).compile();
        const explain = db.dialect === 'postgres' ? 'explain ' : 'explain query plan ';
        const rows = (await trx.executeQuery(CompiledQuery.raw(explain + q.sql, [...q.parameters]))).rows as Record<string, unknown>[];
        return rows.map((r) => String(r['QUERY PLAN'] ?? r.detail)).join(' | ');
      });
    assert.match(await plan({ expiredBefore: new Date().toISOString() }), /generations_pending_(expiry|instance)/);
    assert.match(await plan({ instanceId: 'i-1', createdBefore: new Date().toISOString() }), /generations_pending_(instance|expiry)/);
    // Partial: the settled generation has no entry; a sweep's index holds only the work in flight.
    const indexes =
      db.dialect === 'postgres'
        ? await sql<{ def: string }>`select indexdef as def from pg_indexes where tablename = 'generations' and indexname like 'generations_pending%'`.execute(db.kysely)
        : await sql<{ def: string }>`select sql as def from sqlite_master where type = 'index' and name like 'generations_pending%'`.execute(db.kysely);
    assert.equal(indexes.rows.length, 2);
    for (const r of indexes.rows) assert.match(r.def, /where \(?"?status"? = 'pending'/i);
  });
});

// One balance, every way in: the hold is the same atomic statement whichever surface or request
// shape asks for it (budgets bypassed through another client shape), text
// or media job (whose hold also writes its job row, one by one on PostgreSQL instead of batched).
describe('money across surfaces', () => {
  let h: Harness;
  before(async () => {
    h = await startJobHarness({});
  });
  after(() => h.close());

  it('48 concurrent requests over six surfaces on an account funded for 20: exactly 20 admitted, 28 get 402, balance 0, ledger exact', async () => {
    const a = await h.account({ plan: 'elite', tokens: 20 });
    h.fake.respondWith({ chunks: ['a', 'b'], delayMs: 5 });
    const surfaces: Array<[string, unknown]> = [
      ['/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x' }],
      ['/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'x' }],
      ['/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'x' }] }],
      ['/v1/responses', { model: 'gpt-5-nano', input: 'x', stream: true }],
      ['/api/v2/generate', { model: 'espeak', text: 'hello', wait: 0 }],
      ['/v1/audio/speech', { model: 'espeak', input: 'hello', voice: 'en' }],
    ];
    const agent = new Agent({ connections: 64 });
    const results = await Promise.all(
      Array.from({ length: 48 }, async (_, i) => {
        const [path, body] = surfaces[i % surfaces.length]!;
        const res = await fetch(`${h.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          // @ts-expect-error undici's dispatcher option is not in the DOM fetch types
          dispatcher: agent,
        });
        return { path, status: res.status, text: await res.text() };
      }),
    );
    await agent.close();
    const refused = results.filter((r) => r.status === 402);
    const admitted = results.filter((r) => r.status !== 402);
    for (const r of admitted) assert.equal(r.status, 200, `${r.path}: ${r.text}`);
    for (const r of refused) assert.match(r.text, /insufficient_tokens/, r.path);
    assert.equal(admitted.length, 20);
    assert.equal(refused.length, 28);
    const rows = await allSettled(h, a.id);
    assert.equal(rows.length, 20, 'a generation per admitted request, none for a refused one');
    assert.ok(
      rows.every((r) => r.status === 'completed'),
      JSON.stringify(rows.map((r) => [r.model_slug, r.status, r.error])),
    );
    assert.equal(
      rows.reduce((n, r) => n + r.tokens_spent, 0),
      20,
    );
    assert.equal(await h.balance(a.id), 0);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});
