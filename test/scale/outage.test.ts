// PostgreSQL restarts while requests run: requests that need the database while it is down get a
// clean JSON 503; generations already running settle once it is back (no ledger row lost or
// doubled); the service recovers without a restart. Runs in the PostgreSQL pass of `npm test`,
// against a private PostgreSQL server so the shared one is not disturbed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { harnessOnPrivatePostgres, needsPg, type PrivatePostgresRig } from '../support/shared-db.js';

describe('PostgreSQL outage', { skip: needsPg }, () => {
  let rig: PrivatePostgresRig;
  before(async () => {
    rig = await harnessOnPrivatePostgres();
  });
  after(async () => {
    await rig?.close();
  });

  it('503 while down, in-flight generations settle exactly once after, recovery without restart', async () => {
    const { pg, upstream, h } = rig;
    const a = await h.account({ tokens: 10 });
    const inFlight = [1, 2, 3].map(() => h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x' }, a.key));
    await upstream.waitFor(3);
    assert.equal(await h.balance(a.id), 7);

    pg.stop();
    for (const r of [await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'y' }, a.key), await h.get('/api/v2/balance', a.key)]) {
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(r.json.error, 'service_unavailable');
      assert.equal(typeof r.json.message, 'string');
      assert.ok(Number(r.headers.get('retry-after')) > 0);
    }
    // The running generations finish upstream while the database is down: their settlement waits.
    upstream.release();
    pg.start();
    for (const r of await Promise.all(inFlight)) {
      assert.equal(r.status, 200);
      assert.equal(r.json.status, 'completed');
      assert.equal(r.json.result_text, 'answer');
    }

    // Recovered without a restart.
    const next = h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'z' }, a.key);
    await upstream.waitFor(1);
    upstream.release();
    assert.equal((await next).status, 200);

    assert.equal(await h.balance(a.id), 6);
    const db = h.server.db.kysely;
    const gens = await db.selectFrom('generations').select(['id', 'status']).where('account_id', '=', a.id).execute();
    assert.deepEqual(
      gens.map((g) => g.status),
      Array(4).fill('completed'),
    );
    const ledger = await db.selectFrom('ledger').select(['kind', 'generation_id']).where('account_id', '=', a.id).where('kind', '!=', 'grant').execute();
    for (const g of gens) {
      assert.deepEqual(
        ledger
          .filter((l) => l.generation_id === g.id)
          .map((l) => l.kind)
          .sort(),
        ['charge', 'hold'],
        `generation ${g.id}`,
      );
    }
    assert.equal(ledger.length, 8);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});
