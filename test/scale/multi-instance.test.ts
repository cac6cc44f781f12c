// Two `lumengate serve` processes sharing one PostgreSQL database and one Redis: money is exact,
// limits are not multiplied, and a revocation through one is seen by the other at once.
// Runs in the PostgreSQL pass of `npm test` (TEST_DATABASE_URL=postgres://…, TEST_REDIS_URL).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAccount } from '../../src/accounts/service.js';
import { createKey } from '../../src/accounts/keys.js';
import { ledgerMismatches } from '../../src/billing/ledger.js';
import { openDatabase, type Db } from '../../src/db/connect.js';
import type { PlanName } from '../../src/config/catalog.js';
import { startFakeOpenAI, type FakeUpstream } from '../support/fake-openai.js';
import { runCli, startInstance, type Instance } from '../support/instances.js';
import { createTestDatabase, dropRedisKeys, type TestDatabase } from '../support/test-database.js';

const pgUrl = process.env.TEST_DATABASE_URL ?? '';
const redisUrl = process.env.TEST_REDIS_URL ?? '';
const skip = !/^postgres/.test(pgUrl) || !redisUrl ? 'needs TEST_DATABASE_URL=postgres://… and TEST_REDIS_URL (the PostgreSQL pass of npm test)' : false;

describe('two instances, one PostgreSQL, one Redis', { skip }, () => {
  let testDb: TestDatabase;
  let db: Db;
  let fake: FakeUpstream;
  let env: Record<string, string>;
  let instances: Instance[] = [];

  before(async () => {
    testDb = await createTestDatabase(pgUrl);
    db = await openDatabase(testDb.url);
    fake = await startFakeOpenAI();
    env = {
      DATABASE_URL: testDb.url,
      REDIS_URL: redisUrl,
      LUMENGATE_REDIS_PREFIX: testDb.name,
      OPENAI_API_KEY: 'sk-fake',
      OPENAI_BASE_URL: `${fake.origin}/v1`,
      DATABASE_POOL_SIZE: '20',
      // The 500-request burst is one account's, ~250 per instance: just under the default per-account
      // cap of 256 running generations; raised so the burst tests the ledger, not that cap.
      LUMENGATE_MAX_CONCURRENT_PER_ACCOUNT: '100000',
    };
    instances = await Promise.all(['multi-a', 'multi-b'].map((id) => startInstance({ ...env, LUMENGATE_INSTANCE_ID: id })));
  });
  after(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await fake?.close();
    await db?.close();
    await testDb?.drop();
    if (redisUrl && testDb) await dropRedisKeys(redisUrl, testDb.name);
  });

  async function account(plan: PlanName, tokens: number) {
    const a = await createAccount(db, { plan, tokens: tokens });
    const k = await createKey(db, a.id, 'test');
    return { id: a.id, key: k.key, keyId: k.id };
  }
  /** Bodies of answers other than 200/402/429 in the last burst, and the instances' error log lines. */
  let unexpected: string[] = [];
  const explain = () => [...unexpected, ...instances.flatMap((inst) => inst.logs.filter((l) => l.level >= 50).map((l) => JSON.stringify(l).slice(0, 400)))].join('\n');
  /** n concurrent generation requests, alternating between the instances; returns status counts. */
  async function burst(n: number, key: string): Promise<Record<number, number>> {
    unexpected = [];
    const statuses = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await fetch(`${instances[i % 2]!.url}/api/v2/generate`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-5-nano', prompt: `request ${i}` }),
        });
        const body = (await res.json()) as { error?: string; message?: string };
        if (res.status !== 200) assert.ok(body.error, `status ${res.status} has an error body`);
        if (![200, 402, 429].includes(res.status)) unexpected.push(`${res.status} ${body.error}: ${body.message}`);
        return res.status;
      }),
    );
    const counts: Record<number, number> = {};
    for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
    return counts;
  }
  const balance = async (id: number) => {
    const a = await db.kysely.selectFrom('accounts').select(['plan_tokens', 'package_tokens']).where('id', '=', id).executeTakeFirstOrThrow();
    return a.plan_tokens + a.package_tokens;
  };
  const ledgerOf = async (id: number) => {
    const rows = await db.kysely.selectFrom('ledger').select(['kind', 'plan_delta', 'package_delta']).where('account_id', '=', id).execute();
    const count = (k: string) => rows.filter((r) => r.kind === k).length;
    return { sum: rows.reduce((s, r) => s + r.plan_delta + r.package_delta, 0), holds: count('hold'), charges: count('charge'), releases: count('release') };
  };

  it('500 concurrent requests over both on an account funded for 100: exactly 100 complete, 400 get 402', async () => {
    fake.respondWith({ chunks: ['ok'] });
    const a = await account('elite', 100);
    const counts = await burst(500, a.key);
    assert.deepEqual(counts, { 200: 100, 402: 400 }, explain());
    assert.equal(await balance(a.id), 0);
    assert.deepEqual(await ledgerOf(a.id), { sum: 0, holds: 100, charges: 100, releases: 0 });
    const gens = await db.kysely.selectFrom('generations').select(['status', 'instance_id']).where('account_id', '=', a.id).execute();
    assert.equal(gens.length, 100);
    assert.ok(gens.every((g) => g.status === 'completed'));
    assert.deepEqual(new Set(gens.map((g) => g.instance_id)), new Set(['multi-a', 'multi-b']), 'both instances served');
    assert.deepEqual(await ledgerMismatches(db), []);
  });

  it('an account allowed 60 requests an hour gets exactly 60 successes across both instances', async () => {
    fake.respondWith({ chunks: ['ok'] });
    const a = await account('pro', 1000);
    const counts = await burst(100, a.key);
    assert.deepEqual(counts, { 200: 60, 429: 40 }, explain());
    assert.equal(await balance(a.id), 940);
    for (const inst of instances) {
      const r = await fetch(`${inst.url}/api/v2/balance`, { headers: { authorization: `Bearer ${a.key}` } });
      assert.equal(r.headers.get('x-ratelimit-remaining-hour'), '0', 'both instances read the shared counter');
      assert.equal(r.headers.get('x-ratelimit-limit-hour'), '60');
    }
  });

  it('a key revoked through one instance is refused by the other at once', async () => {
    const a = await account('pro', 10);
    const ask = (i: number) => fetch(`${instances[i]!.url}/api/v2/balance`, { headers: { authorization: `Bearer ${a.key}` } });
    assert.deepEqual([(await ask(0)).status, (await ask(1)).status], [200, 200]);
    // Revoked over HTTP through instance 0 (the key revokes itself: DELETE /api/v2/keys/{id}).
    const del = await fetch(`${instances[0]!.url}/api/v2/keys/${a.keyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${a.key}` } });
    assert.equal(del.status, 204);
    const after = [await ask(1), await ask(0)];
    assert.deepEqual(
      after.map((r) => r.status),
      [401, 401],
    );
    assert.equal(((await after[0]!.json()) as { error: string }).error, 'not_authenticated');
  });

  it('the operator CLI revokes a key for every instance too', async () => {
    const a = await account('pro', 10);
    const revoked = await runCli(['keys', 'revoke', String(a.keyId), '--json'], { DATABASE_URL: testDb.url });
    assert.equal(revoked.code, 0);
    assert.deepEqual(JSON.parse(revoked.stdout), { id: a.keyId, revoked: true });
    const r = await fetch(`${instances[1]!.url}/api/v2/balance`, { headers: { authorization: `Bearer ${a.key}` } });
    assert.equal(r.status, 401);
  });
});
