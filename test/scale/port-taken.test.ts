// A second `lumengate serve` on a host:port already in use (same instance id, a typo or a double
// start): it fails with EADDRINUSE and must not release the running instance's holds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount } from '../../src/accounts/service.js';
import { createKey } from '../../src/accounts/keys.js';
import { ledgerMismatches } from '../../src/billing/ledger.js';
import { openDatabase, type Db } from '../../src/db/connect.js';
import { startGatedOpenAI, type GatedUpstream } from '../support/gated-openai.js';
import { freePort } from '../support/free-port.js';
import { startInstance, type Instance } from '../support/instances.js';
import { createTestDatabase, dropRedisKeys, type TestDatabase } from '../support/test-database.js';

const redisUrl = process.env.TEST_REDIS_URL ?? '';

function stream(url: string, key: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${url}/api/v2/generate/stream`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('close', () => resolve(body));
    });
    req.on('error', () => resolve(''));
    req.end(JSON.stringify({ model: 'gpt-5-nano', prompt: 'long story' }));
  });
}

describe('a second serve on a port in use', () => {
  let dir: string;
  let testDb: TestDatabase;
  let db: Db;
  let upstream: GatedUpstream;
  let first: Instance | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumengate-port-'));
    testDb = await createTestDatabase(process.env.TEST_DATABASE_URL ?? `sqlite:${join(dir, 'test.db')}`);
    db = await openDatabase(testDb.url);
    upstream = await startGatedOpenAI();
  });
  after(async () => {
    await first?.stop();
    await upstream?.close();
    await db?.close();
    await testDb?.drop();
    if (redisUrl && testDb) await dropRedisKeys(redisUrl, testDb.name);
    rmSync(dir, { recursive: true, force: true });
  });

  it("fails with EADDRINUSE and leaves the running instance's generation alone: it completes and is charged", async () => {
    const port = String(await freePort());
    const env = {
      DATABASE_URL: testDb.url,
      PORT: port,
      LUMENGATE_INSTANCE_ID: 'same-id',
      ...(redisUrl ? { REDIS_URL: redisUrl, LUMENGATE_REDIS_PREFIX: testDb.name } : {}),
      OPENAI_API_KEY: 'sk-fake',
      OPENAI_BASE_URL: `${upstream.origin}/v1`,
    };
    first = await startInstance(env);
    const acc = await createAccount(db, { plan: 'pro', tokens: 10 });
    const key = (await createKey(db, acc.id, 'k')).key;
    const body = stream(first.url, key);
    await upstream.waitFor(1);

    await assert.rejects(startInstance(env), /EADDRINUSE|address already in use/);

    const gens = await db.kysely.selectFrom('generations').select(['status']).where('account_id', '=', acc.id).execute();
    assert.deepEqual(
      gens.map((g) => g.status),
      ['pending'],
      'the failed start released nothing',
    );
    upstream.release();
    assert.match(await body, /"type":"generation_end"/);
    const g = await db.kysely.selectFrom('generations').select(['status', 'tokens_spent']).where('account_id', '=', acc.id).executeTakeFirstOrThrow();
    assert.deepEqual([g.status, g.tokens_spent], ['completed', 1]);
    const a = await db.kysely.selectFrom('accounts').select(['plan_tokens', 'package_tokens']).where('id', '=', acc.id).executeTakeFirstOrThrow();
    assert.equal(a.plan_tokens + a.package_tokens, 9);
    assert.deepEqual(await ledgerMismatches(db), []);
  });
});
