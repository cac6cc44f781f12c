// A server killed (SIGKILL) after a generation ended but before its webhook delivery was queued:
// the next server on the same database queues it at its start and delivers it, for a text
// generation and for a media job (the fake Replicate of the job tests). The point between the two
// is reached without timing: the database refuses the queueing (test/support/refuse-deliveries.ts),
// the test waits for the generation's end to have tried (the answer; the job run's end), then kills
// the process, and lifts the refusal before the restart. Also: a text generation killed
// mid-stream, which the restart fails, is reported to its callback URL. `lumengate serve`
// processes on SQLite, and on PostgreSQL in its pass.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { startFakeOpenAI } from '../support/fake-openai.js';
import type { FakeUpstream } from '../support/fake-upstream.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import { startGatedOpenAI, type GatedUpstream } from '../support/gated-openai.js';
import { openSharedDatabase, rawStream, type SharedDatabase } from '../support/shared-db.js';
import { serverEvents, untilEvent } from '../support/server-events.js';
import { refuseDeliveries } from '../support/refuse-deliveries.js';
import { deliveriesOf } from '../../src/webhooks/store.js';
import { startReceiver, type Receiver } from './receiver.js';

/** Generations whose job run ended in a child server (relayed): its end reported, or its report attempted. */
const runsEnded = new Set<number>();
const onRunEnded = (m: unknown) => runsEnded.add((m as { generationId: number }).generationId);

describe('a webhook whose server died before queueing it is delivered after the restart', () => {
  let shared: SharedDatabase;
  let openai: FakeUpstream;
  let gated: GatedUpstream;
  let replicate: FakeReplicate;
  let rx: Receiver;
  before(async () => {
    subscribe(serverEvents.jobRunEnded, onRunEnded);
    shared = await openSharedDatabase();
    openai = await startFakeOpenAI();
    gated = await startGatedOpenAI();
    replicate = await startFakeReplicate();
    rx = await startReceiver();
  });
  // Each test's instances are stopped at its end: one left running could claim the media test's job.
  afterEach(() => shared.stopInstances());
  after(async () => {
    unsubscribe(serverEvents.jobRunEnded, onRunEnded);
    await shared?.close();
    await openai?.close();
    gated?.release();
    await gated?.close();
    await replicate?.close();
    await rx?.close();
  });

  /** The environment of instance `id` (its restart keeps the id); the periodic sweep is an hour away: only the start-up one runs. */
  const env = (id: string, extra: Record<string, string> = {}) => ({
    OPENAI_API_KEY: 'sk-fake',
    OPENAI_BASE_URL: `${openai.origin}/v1`,
    REPLICATE_API_TOKEN: 'r8_fake_test_token',
    REPLICATE_BASE_URL: replicate.baseUrl,
    LUMENGATE_FILES_DIR: join(shared.dir, 'files'),
    LUMENGATE_JOB_PROVIDER_POLL_MS: '50',
    LUMENGATE_JOB_IDLE_POLL_MS: '100',
    LUMENGATE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
    LUMENGATE_SWEEP_MS: '3600000',
    LUMENGATE_INSTANCE_ID: id,
    ...extra,
  });

  const call = async (url: string, key: string, method: string, body?: unknown) => {
    const res = await fetch(url, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, json: await res.json() };
  };

  /** An account with tokens and a webhook secret (made through `url`). */
  async function accountWithSecret(url: string) {
    const acc = await shared.account('pro', 100);
    assert.equal((await call(`${url}/api/v2/user/webhook-secret`, acc.key, 'POST')).status, 201);
    return acc;
  }

  /** The POSTs the receiver got for generation `id`. */
  const postsFor = (id: number) => rx.received.filter((r) => JSON.parse(r.body).id === id).map((r) => JSON.parse(r.body));

  it('text: answered, charged, its queueing refused, SIGKILL; the restarted server delivers it once', { timeout: 180_000 }, async () => {
    const a = await shared.start(env('hooks-text'));
    const acc = await accountWithSecret(a.url);
    openai.respondWith({ chunks: ['survives', ' a crash'] });
    const refusal = await refuseDeliveries(shared.db);
    let id: number;
    try {
      // Answered after the generation's end tried to queue its delivery.
      const r = await call(`${a.url}/api/v2/generate`, acc.key, 'POST', { model: 'gpt-5-nano', prompt: 'hi', callback_url: rx.url });
      assert.deepEqual([r.status, r.json.status, r.json.result_text], [200, 'completed', 'survives a crash']);
      id = r.json.id;
      assert.deepEqual(await deliveriesOf(shared.db, id), [], 'not queued');
      await a.kill();
    } finally {
      await refusal.lift();
    }
    const before = rx.received.length;
    const b = await shared.start(env('hooks-text'));
    await rx.until(before + 1);
    assert.deepEqual(postsFor(id), [(await call(`${b.url}/api/v2/generate/${id}`, acc.key, 'GET')).json], 'the generation object, as GET answers it');
    assert.equal((await deliveriesOf(shared.db, id)).length, 1);
    assert.deepEqual(await shared.ledgerKinds(id), ['charge', 'hold']);
  });

  it('media job: its run ended with the report refused, SIGKILL; the restarted server delivers it once', { timeout: 180_000 }, async () => {
    const a = await shared.start(env('hooks-media'));
    const acc = await accountWithSecret(a.url);
    const refusal = await refuseDeliveries(shared.db);
    let id: number;
    try {
      const r = await call(`${a.url}/api/v2/generate`, acc.key, 'POST', { model: 'flux-1.1-pro', prompt: 'a red fox', wait: 0, callback_url: rx.url });
      assert.equal(r.status, 200);
      id = r.json.id;
      await untilEvent([serverEvents.jobRunEnded], () => runsEnded.has(id), `the job run of generation ${id} ended`);
      assert.deepEqual(await deliveriesOf(shared.db, id), [], 'not queued');
      await a.kill();
    } finally {
      await refusal.lift();
    }
    const before = rx.received.length;
    await shared.start(env('hooks-media'));
    await rx.until(before + 1);
    const [body, ...more] = postsFor(id);
    assert.deepEqual([body.status, body.tokens_spent > 0, more.length], ['completed', true, 0]);
    assert.match(body.result_url, new RegExp(`^/files/${id}/.*[?&]sig=`));
    assert.equal((await deliveriesOf(shared.db, id)).length, 1);
    assert.deepEqual(await shared.ledgerKinds(id), ['charge', 'hold']);
  });

  it('text killed mid-stream: the restart fails it (server_interrupted, released) and reports that to its callback URL', { timeout: 180_000 }, async () => {
    const gatedEnv = (id: string) => env(id, { OPENAI_BASE_URL: `${gated.origin}/v1` });
    const a = await shared.start(gatedEnv('hooks-stream'));
    const acc = await accountWithSecret(a.url);
    const stream = rawStream(a.url, acc.key, { model: 'gpt-5-nano', prompt: 'long story', callback_url: rx.url });
    await gated.waitFor(1);
    const { id } = await shared.db.kysely.selectFrom('generations').select('id').where('account_id', '=', acc.id).executeTakeFirstOrThrow();
    await a.kill();
    await stream;
    const before = rx.received.length;
    await shared.start(gatedEnv('hooks-stream'));
    await rx.until(before + 1);
    const [body, ...more] = postsFor(id);
    assert.deepEqual([body.status, body.error, body.tokens_spent, more.length], ['failed', 'server_interrupted', 0, 0]);
    assert.equal(await shared.balance(acc.id), 100);
  });
});
