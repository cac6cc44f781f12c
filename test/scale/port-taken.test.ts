// A second `lumengate serve` on a host:port already in use (same instance id, a typo or a double
// start): it fails with EADDRINUSE and must not release the running instance's holds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ledgerMismatches } from '../../src/billing/ledger.js';
import { startGatedOpenAI, type GatedUpstream } from '../support/gated-openai.js';
import { freePort } from '../support/free-port.js';
import { openSharedDatabase, rawStream, type SharedDatabase } from '../support/shared-db.js';

describe('a second serve on a port in use', () => {
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

  it("fails with EADDRINUSE and leaves the running instance's generation alone: it completes and is charged", async () => {
    const port = String(await freePort());
    const env = { PORT: port, LUMENGATE_INSTANCE_ID: 'same-id', OPENAI_API_KEY: 'sk-fake', OPENAI_BASE_URL: `${upstream.origin}/v1` };
    const first = await shared.start(env);
    const acc = await shared.account('pro', 10);
    const body = rawStream(first.url, acc.key);
    await upstream.waitFor(1);

    await assert.rejects(shared.start(env), /EADDRINUSE|address already in use/);

    const gens = await shared.db.kysely.selectFrom('generations').select(['status']).where('account_id', '=', acc.id).execute();
    assert.deepEqual(
      gens.map((g) => g.status),
      ['pending'],
      'the failed start released nothing',
    );
    upstream.release();
    assert.match(await body, /"type":"generation_end"/);
    const g = await shared.db.kysely.selectFrom('generations').select(['status', 'tokens_spent']).where('account_id', '=', acc.id).executeTakeFirstOrThrow();
    assert.deepEqual([g.status, g.tokens_spent], ['completed', 1]);
    assert.equal(await shared.balance(acc.id), 9);
    assert.deepEqual(await ledgerMismatches(shared.db), []);
  });
});
