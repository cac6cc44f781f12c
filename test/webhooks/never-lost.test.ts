// No webhook is lost (docs/api.md, Webhooks): a delivery whose queueing failed is queued by the
// server's next sweep, and a generation has one delivery row, so the sweep and the generation's own
// end queueing it at the same moment send it once. For a text generation and a media job (the fake
// Replicate of the job tests). The failed write is the database's own refusal (a trigger,
// test/support/refuse-deliveries.ts); the crash cases are in crash.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { startJobHarness, type Harness } from '../support/harness.js';
import { serverEvents, untilEvent } from '../support/server-events.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import { refuseDeliveries } from '../support/refuse-deliveries.js';
import { deliveriesOf } from '../../src/webhooks/store.js';
import { startReceiver, type Receiver } from './receiver.js';

/** Generations whose job run ended in this process (its end reported, or its report attempted). */
const runsEnded = new Set<number>();
const onRunEnded = (m: unknown) => runsEnded.add((m as { generationId: number }).generationId);
subscribe(serverEvents.jobRunEnded, onRunEnded);
const runEnded = (id: number) => untilEvent([serverEvents.jobRunEnded], () => runsEnded.has(id), `the job run of generation ${id} ended`);

interface Rig {
  h: Harness;
  replicate: FakeReplicate;
  rx: Receiver;
  close(): Promise<void>;
}

async function startRig(env: Record<string, string>): Promise<Rig> {
  runsEnded.clear(); // each server its own database: its ids start again
  const replicate = await startFakeReplicate();
  const rx = await startReceiver();
  const h = await startJobHarness({ REPLICATE_API_TOKEN: 'r8_fake_test_token', REPLICATE_BASE_URL: replicate.baseUrl, LUMENGATE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', ...env });
  return {
    h,
    replicate,
    rx,
    async close() {
      await h.close();
      await replicate.close();
      await rx.close();
    },
  };
}

async function accountWithSecret(h: Harness) {
  const a = await h.account({ tokens: 100 });
  assert.equal((await h.post('/api/v2/user/webhook-secret', undefined, a.key)).status, 201);
  return a;
}

/** The POSTs the receiver got for generation `id`. */
const postsFor = (rx: Receiver, id: number) => rx.received.filter((r) => JSON.parse(r.body).id === id);

/** The delivery row of generation `id` once it is delivered, read again at each attempt stored. */
const delivered = (rig: Rig, id: number) =>
  untilEvent(
    [serverEvents.webhookAttempted],
    async () => {
      const rows = await deliveriesOf(rig.h.server.db, id);
      return rows.length > 0 && rows.every((d) => d.state === 'delivered') && rows;
    },
    `generation ${id}'s deliveries delivered`,
  );

after(() => unsubscribe(serverEvents.jobRunEnded, onRunEnded));

describe('a delivery the database refused to queue is queued by the next sweep (LUMENGATE_SWEEP_MS=100)', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ LUMENGATE_SWEEP_MS: '100' });
  });
  after(() => rig.close());

  it('text: the generation is answered and charged; its delivery, refused, goes out once the database takes it', async () => {
    const { h, rx } = rig;
    const a = await accountWithSecret(h);
    h.fake.respondWith({ chunks: ['kept'] });
    const refusal = await refuseDeliveries(h.server.db);
    let r: Awaited<ReturnType<Harness['post']>>;
    try {
      // The answer comes after the generation's end tried to queue its delivery.
      r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: rx.url }, a.key);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'completed');
      assert.deepEqual(await deliveriesOf(h.server.db, r.json.id), [], 'the database refused the delivery');
    } finally {
      await refusal.lift();
    }
    await rx.until(1);
    assert.deepEqual(JSON.parse(rx.received[0]!.body), (await h.get(`/api/v2/generate/${r.json.id}`, a.key)).json, 'the generation object, as GET answers it');
    assert.equal((await delivered(rig, r.json.id)).length, 1);
    assert.equal(r.json.balance_remaining, 100 - r.json.tokens_spent, 'charged once');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('media job: its run ends with the report refused; the report goes out once the database takes it', async () => {
    const { h, rx } = rig;
    const a = await accountWithSecret(h);
    const before = rx.received.length;
    const refusal = await refuseDeliveries(h.server.db);
    let id: number;
    try {
      const r = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'a red fox', wait: 0, callback_url: rx.url }, a.key);
      assert.equal(r.status, 200, r.text);
      id = r.json.id;
      await runEnded(id);
      assert.equal((await h.get(`/api/v2/generate/${id}`, a.key)).json.status, 'completed');
      assert.deepEqual(await deliveriesOf(h.server.db, id), [], 'the database refused the delivery');
    } finally {
      await refusal.lift();
    }
    await rx.until(before + 1);
    const body = JSON.parse(rx.received[before]!.body);
    assert.deepEqual([body.id, body.status], [id, 'completed']);
    assert.match(body.result_url, new RegExp(`^/files/${id}/.*[?&]sig=`), 'a signed result URL, as the job worker sends it');
    assert.equal((await delivered(rig, id)).length, 1);
  });
});

describe('the sweep and the generation’s own end queue the same delivery at once: one row, one POST', () => {
  let rig: Rig;
  before(async () => {
    // The start-up sweep only: each test runs the sweep itself, at the moment the generation settles.
    rig = await startRig({});
  });
  after(() => rig.close());

  /** Runs `act` with a sweep started (in this process's server) as the first settlement during it commits. */
  async function sweepingAtSettlement<T>(act: () => Promise<T>): Promise<{ result: T; swept: number }> {
    let sweeping: Promise<number> | undefined;
    const onSettled = (m: unknown) => {
      if (!sweeping && (m as { applied: boolean }).applied) sweeping = rig.h.server.webhooks.sweep();
    };
    subscribe(serverEvents.settled, onSettled);
    try {
      const result = await act();
      assert.ok(sweeping, 'a settlement started the sweep');
      return { result, swept: await sweeping };
    } finally {
      unsubscribe(serverEvents.settled, onSettled);
    }
  }

  /** Once both have queued: one row, delivered, nothing else due, one POST. */
  async function deliveredOnce(id: number) {
    const { h, rx } = rig;
    assert.equal((await deliveriesOf(h.server.db, id)).length, 1, 'one delivery row');
    await delivered(rig, id);
    assert.equal(await h.server.webhooks.worker.tick(), 0, 'nothing else to deliver');
    assert.equal(postsFor(rx, id).length, 1);
    assert.equal((await h.server.db.kysely.selectFrom('generations').select('callback_url').where('id', '=', id).executeTakeFirstOrThrow()).callback_url, null, 'owed no more');
  }

  it('text', async () => {
    const { h, rx } = rig;
    const a = await accountWithSecret(h);
    h.fake.respondWith({ chunks: ['once'] });
    const { result: r } = await sweepingAtSettlement(() => h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: rx.url }, a.key));
    assert.equal(r.status, 200, r.text);
    await deliveredOnce(r.json.id);
  });

  it('media job', async () => {
    const { h, rx } = rig;
    const a = await accountWithSecret(h);
    const { result: id } = await sweepingAtSettlement(async () => {
      const r = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'a red fox', wait: 0, callback_url: rx.url }, a.key);
      assert.equal(r.status, 200, r.text);
      await runEnded(r.json.id);
      return r.json.id as number;
    });
    await deliveredOnce(id);
  });
});
