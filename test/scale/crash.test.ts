// An instance killed with SIGKILL mid-stream: when it starts again (same LUMENGATE_INSTANCE_ID) it
// releases the holds of its dead generations at once, without touching another live instance's.
// Runs in the PostgreSQL pass of `npm test`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ledgerMismatches } from '../../src/billing/ledger.js';
import { startGatedOpenAI, type GatedUpstream } from '../support/gated-openai.js';
import { needsPgRedis, openSharedDatabase, rawStream, type SharedDatabase } from '../support/shared-db.js';

describe('crash recovery', { skip: needsPgRedis }, () => {
  let shared: SharedDatabase;
  let upstream: GatedUpstream;

  before(async () => {
    shared = await openSharedDatabase();
    upstream = await startGatedOpenAI();
  });
  after(async () => {
    await shared?.close();
    await upstream?.close();
  });

  const balance = (id: number) => shared.balance(id);
  const generations = (accountId: number) => shared.db.kysely.selectFrom('generations').select(['status', 'error', 'instance_id']).where('account_id', '=', accountId).execute();
  const stream = (url: string, key: string) => rawStream(url, key);

  it('SIGKILL mid-stream: the restarted instance fails its generations and releases their holds; the other instance is untouched', async () => {
    const env = { OPENAI_API_KEY: 'sk-fake', OPENAI_BASE_URL: `${upstream.origin}/v1` };
    const a = await shared.start({ ...env, LUMENGATE_INSTANCE_ID: 'crash-a' });
    const b = await shared.start({ ...env, LUMENGATE_INSTANCE_ID: 'crash-b' });
    const accA = await shared.account('pro', 10);
    const accB = await shared.account('pro', 10);
    const [keyA, keyB] = [accA.key, accB.key];

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

    const restarted = await shared.start({ ...env, LUMENGATE_INSTANCE_ID: 'crash-a' });
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

    const ledger = await shared.db.kysely.selectFrom('ledger').select(['kind']).where('account_id', 'in', [accA.id, accB.id]).execute();
    const count = (k: string) => ledger.filter((r) => r.kind === k).length;
    assert.deepEqual([count('hold'), count('charge'), count('release')], [6, 3, 3]);
    assert.deepEqual(await ledgerMismatches(shared.db), []);
  });
});
