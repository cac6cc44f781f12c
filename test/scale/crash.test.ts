// An instance killed with SIGKILL mid-stream: when it starts again (same LUMENGATE_INSTANCE_ID) it
// releases the holds of its dead generations at once, without touching another live instance's.
// Runs in the PostgreSQL pass of `npm test`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createAccount } from '../../src/accounts/service.js';
import { createKey } from '../../src/accounts/keys.js';
import { ledgerMismatches } from '../../src/billing/ledger.js';
import { openDatabase, type Db } from '../../src/db/connect.js';
import { startGatedOpenAI, type GatedUpstream } from '../support/gated-openai.js';
import { startInstance, type Instance } from '../support/instances.js';
import { createTestDatabase, dropRedisKeys, type TestDatabase } from '../support/test-database.js';

const pgUrl = process.env.TEST_DATABASE_URL ?? '';
const redisUrl = process.env.TEST_REDIS_URL ?? '';
const skip = !/^postgres/.test(pgUrl) || !redisUrl ? 'needs TEST_DATABASE_URL=postgres://… and TEST_REDIS_URL (the PostgreSQL pass of npm test)' : false;

/** Starts a stream and resolves with the whole body once the server ends (or drops) it. */
function stream(url: string, key: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${url}/api/v2/generate/stream`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(body));
      res.on('close', () => resolve(body));
    });
    req.on('error', () => resolve(''));
    req.end(JSON.stringify({ model: 'gpt-5-nano', prompt: 'long story' }));
  });
}

describe('crash recovery', { skip }, () => {
  let testDb: TestDatabase;
  let db: Db;
  let upstream: GatedUpstream;
  const running: Instance[] = [];

  before(async () => {
    testDb = await createTestDatabase(pgUrl);
    db = await openDatabase(testDb.url);
    upstream = await startGatedOpenAI();
  });
  after(async () => {
    await Promise.all(running.map((i) => i.stop()));
    await upstream?.close();
    await db?.close();
    await testDb?.drop();
    if (redisUrl && testDb) await dropRedisKeys(redisUrl, testDb.name);
  });

  const balance = async (id: number) => {
    const a = await db.kysely.selectFrom('accounts').select(['plan_tokens', 'package_tokens']).where('id', '=', id).executeTakeFirstOrThrow();
    return a.plan_tokens + a.package_tokens;
  };
  const generations = (accountId: number) => db.kysely.selectFrom('generations').select(['status', 'error', 'instance_id']).where('account_id', '=', accountId).execute();

  it('SIGKILL mid-stream: the restarted instance fails its generations and releases their holds; the other instance is untouched', async () => {
    const env = {
      DATABASE_URL: testDb.url,
      REDIS_URL: redisUrl,
      LUMENGATE_REDIS_PREFIX: testDb.name,
      OPENAI_API_KEY: 'sk-fake',
      OPENAI_BASE_URL: `${upstream.origin}/v1`,
    };
    const a = await startInstance({ ...env, LUMENGATE_INSTANCE_ID: 'crash-a' });
    const b = await startInstance({ ...env, LUMENGATE_INSTANCE_ID: 'crash-b' });
    running.push(b);
    const accA = await createAccount(db, { plan: 'pro', tokens: 10 });
    const accB = await createAccount(db, { plan: 'pro', tokens: 10 });
    const keyA = (await createKey(db, accA.id, 'a')).key;
    const keyB = (await createKey(db, accB.id, 'b')).key;

    // Three streams on A, two on B, all holding their price and waiting mid-stream.
    const onA = [1, 2, 3].map(() => stream(a.url, keyA));
    const onB = [1, 2].map(() => stream(b.url, keyB));
    await upstream.waitFor(5);
    assert.equal(await balance(accA.id), 7);
    assert.equal(await balance(accB.id), 8);

    await a.kill();
    for (const body of await Promise.all(onA)) assert.ok(!body.includes('generation_end'), 'a killed stream never claims success');
    assert.deepEqual(
      (await generations(accA.id)).map((g) => g.status),
      ['pending', 'pending', 'pending'],
      'nothing ran after SIGKILL',
    );

    const restarted = await startInstance({ ...env, LUMENGATE_INSTANCE_ID: 'crash-a' });
    running.push(restarted);
    // Released during start-up, before the restarted instance reports listening: no waiting for hold expiry.
    assert.equal(await balance(accA.id), 10);
    const deadGens = await generations(accA.id);
    assert.deepEqual(
      deadGens.map((g) => [g.status, g.error, g.instance_id]),
      Array(3).fill(['failed', 'server_interrupted', 'crash-a']),
    );
    assert.ok(restarted.logs.some((l) => l.msg === 'released holds left by this instance before its restart' && l.released === 3));

    // B's generations were still running and are left alone; they finish and are charged.
    assert.deepEqual(
      (await generations(accB.id)).map((g) => g.status),
      ['pending', 'pending'],
    );
    assert.equal(await balance(accB.id), 8);
    upstream.release();
    const bodies = await Promise.all(onB);
    for (const body of bodies) assert.match(body, /"type":"generation_end"/);
    assert.deepEqual(
      (await generations(accB.id)).map((g) => g.status),
      ['completed', 'completed'],
    );
    assert.equal(await balance(accB.id), 8);

    // The restarted instance serves again.
    const again = stream(restarted.url, keyA);
    await upstream.waitFor(1);
    upstream.release();
    assert.match(await again, /"type":"generation_end"/);
    assert.equal(await balance(accA.id), 9);

    const ledger = await db.kysely.selectFrom('ledger').select(['kind']).where('account_id', 'in', [accA.id, accB.id]).execute();
    const count = (k: string) => ledger.filter((r) => r.kind === k).length;
    assert.deepEqual([count('hold'), count('charge'), count('release')], [6, 3, 3]);
    assert.deepEqual(await ledgerMismatches(db), []);
  });
});
