// Resumable streams across instances (docs/api.md): with Redis the event log is shared, so a
// stream started on instance A is re-attached on instance B. Runs in the PostgreSQL pass of
// `npm test` (TEST_DATABASE_URL=postgres://…, TEST_REDIS_URL).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAccount } from '../../src/accounts/service.js';
import { createKey } from '../../src/accounts/keys.js';
import { openDatabase, type Db } from '../../src/db/connect.js';
import { startGatedOpenAI, type GatedUpstream } from '../support/gated-openai.js';
import { startInstance, type Instance } from '../support/instances.js';
import { serverEvents, untilEvent } from '../support/server-events.js';
import { createTestDatabase, dropRedisKeys, type TestDatabase } from '../support/test-database.js';
import { contentOf, rawStream } from '../support/raw-stream.js';

const pgUrl = process.env.TEST_DATABASE_URL ?? '';
const redisUrl = process.env.TEST_REDIS_URL ?? '';
const skip = !/^postgres/.test(pgUrl) || !redisUrl ? 'needs TEST_DATABASE_URL=postgres://… and TEST_REDIS_URL (the PostgreSQL pass of npm test)' : false;

describe('resumable streams across two instances (Redis event log)', { skip }, () => {
  let testDb: TestDatabase;
  let db: Db;
  let gated: GatedUpstream;
  let a: Instance;
  let b: Instance;

  before(async () => {
    testDb = await createTestDatabase(pgUrl);
    db = await openDatabase(testDb.url);
    gated = await startGatedOpenAI('shared text');
    // No heartbeat: a ping must not be what sends a re-attached stream's head (B answers at once).
    const env = { DATABASE_URL: testDb.url, REDIS_URL: redisUrl, LUMENGATE_REDIS_PREFIX: testDb.name, LUMENGATE_HEARTBEAT_MS: '0', OPENAI_API_KEY: 'sk-fake', OPENAI_BASE_URL: `${gated.origin}/v1` };
    [a, b] = (await Promise.all(['resume-a', 'resume-b'].map((id) => startInstance({ ...env, LUMENGATE_INSTANCE_ID: id })))) as [Instance, Instance];
  });
  after(async () => {
    await Promise.all([a, b].map((i) => i?.stop()));
    await gated?.close();
    await db?.close();
    await testDb?.drop();
    if (redisUrl && testDb) await dropRedisKeys(redisUrl, testDb.name);
  });

  async function account(tokens: number) {
    const acc = await createAccount(db, { plan: 'pro', tokens });
    return { id: acc.id, key: (await createKey(db, acc.id, 'test')).key };
  }
  const balance = async (id: number) => {
    const r = await db.kysely.selectFrom('accounts').select(['plan_tokens', 'package_tokens']).where('id', '=', id).executeTakeFirstOrThrow();
    return r.plan_tokens + r.package_tokens;
  };

  for (const form of ['GET', 'POST'] as const) {
    // The timeout bounds a failure only: without the head sent at once, the re-attach never answers.
    it(`background stream on A, cut, re-attached on B (${form} with Last-Event-ID) while still running: every event once, charged once`, { timeout: 20_000 }, async () => {
      const acc = await account(10);
      const body = { model: 'gpt-5-nano', prompt: 'x', background: true };
      const s = await rawStream(`${a.url}/api/v2/generate/stream`, { method: 'POST', key: acc.key, body });
      await s.until((f) => f.some((e) => e.data.type === 'content_delta'));
      const first = s.frames();
      const gen = Number(s.headers['x-generation-id']);
      s.destroy();
      const headers = { 'last-event-id': first.at(-1)!.id! };
      const rest =
        form === 'GET'
          ? await rawStream(`${b.url}/api/v2/generate/${gen}/stream`, { method: 'GET', key: acc.key, headers })
          : await rawStream(`${b.url}/api/v2/generate/stream`, { method: 'POST', key: acc.key, body, headers });
      assert.equal(rest.status, 200);
      assert.deepEqual(rest.frames(), [], 'nothing new to replay yet');
      gated.release();
      await rest.ended;
      const all = [...first, ...rest.frames()];
      const events = all.filter((f) => f.data !== '[DONE]');
      assert.deepEqual(
        events.map((f) => f.id),
        events.map((_, i) => `${gen}:${i + 1}`),
      );
      assert.equal(contentOf(all), 'shared text');
      assert.deepEqual(
        all.slice(-2).map((f) => f.data.type ?? f.data),
        ['generation_end', '[DONE]'],
      );
      // Read again at each settlement an instance publishes (relayed to this process, server-events.ts).
      const g = await untilEvent(
        [serverEvents.settled],
        async () => {
          const row = await db.kysely.selectFrom('generations').select(['status', 'finish_reason']).where('id', '=', gen).executeTakeFirstOrThrow();
          return row.status !== 'pending' && row;
        },
        `generation ${gen} settled`,
      );
      assert.deepEqual(g, { status: 'completed', finish_reason: 'stop' });
      assert.equal(await balance(acc.id), 9);
    });
  }

  it('after the end, B replays the tail of a stream A served; a foreign id is 404', async () => {
    const acc = await account(10);
    const s = await rawStream(`${a.url}/api/v2/generate/stream`, { method: 'POST', key: acc.key, body: { model: 'gpt-5-nano', prompt: 'x' } });
    await s.until((f) => f.some((e) => e.data.type === 'content_delta'));
    gated.release();
    await s.ended;
    const original = s.frames();
    const gen = Number(s.headers['x-generation-id']);
    const r = await rawStream(`${b.url}/api/v2/generate/${gen}/stream`, { method: 'GET', key: acc.key, headers: { 'last-event-id': `${gen}:1` } });
    await r.ended;
    assert.deepEqual(r.frames(), original.slice(1));
    const stranger = await account(10);
    assert.equal((await fetch(`${b.url}/api/v2/generate/${gen}/stream`, { headers: { authorization: `Bearer ${stranger.key}` } })).status, 404);
  });
});
