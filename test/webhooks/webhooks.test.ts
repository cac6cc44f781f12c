// Webhooks end to end (docs/api.md): the signed POST of the generation object, retries driven by
// the worker's tick(now) (never real minutes), the SSRF guard at request and at delivery time, and
// a delivery that survives a restart of the server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startHarness, type Harness } from '../support/harness.js';
import { serverEvents, untilEvent } from '../support/server-events.js';
import { createTestDatabase } from '../support/test-database.js';
import { startFakeOpenAI } from '../support/fake-openai.js';
import { settingsFromEnv } from '../../src/config/env.js';
import { startServer } from '../../src/server.js';
import { createAccount } from '../../src/accounts/service.js';
import { createKey } from '../../src/accounts/keys.js';
import { deliveriesOf } from '../../src/webhooks/store.js';
import { verifySignature } from '../../src/webhooks/signature.js';
import type { Db } from '../../src/db/connect.js';
import type { WebhookDelivery } from '../../src/db/schema.js';
import { startReceiver, type Receiver } from './receiver.js';

const later = (ms: number) => new Date(Date.now() + ms);

/**
 * The generation's delivery row once `done` holds (the first attempt runs in the background): read
 * now and again each time the server stores an attempt's outcome (server-events.ts).
 */
async function deliveryWhen(db: Db, generationId: number, done: (d: WebhookDelivery) => boolean): Promise<WebhookDelivery> {
  return untilEvent(
    [serverEvents.webhookAttempted],
    async () => {
      const [d] = await deliveriesOf(db, generationId);
      return d && done(d) && d;
    },
    `delivery of generation ${generationId} got there`,
  );
}
const attemptDone = (n: number) => (d: WebhookDelivery) => d.attempts === n && d.lease_until === null;

/** The receiver's own check, done by hand as docs/api.md shows it: HMAC-SHA256 of "t.body", t recent. */
function assertSigned(header: string | string[] | undefined, body: string, secret: string): void {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(header));
  assert.ok(m, `signature header ${String(header)}`);
  assert.ok(Math.abs(Date.now() / 1000 - Number(m[1])) < 60, 't within a minute of now');
  assert.equal(createHmac('sha256', secret).update(`${m[1]}.${body}`).digest('hex'), m[2]);
  assert.ok(verifySignature(secret, body, String(header), Date.now()));
  assert.ok(!verifySignature(`${secret}x`, body, String(header), Date.now()));
}

describe('webhooks to a receiver the operator allowed (LUMENGATE_WEBHOOK_ALLOW_HOSTS=127.0.0.1)', () => {
  let h: Harness;
  let rx: Receiver;
  before(async () => {
    h = await startHarness({ env: { LUMENGATE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', LUMENGATE_PUBLIC_URL: 'https://gateway.example/' } });
    rx = await startReceiver();
  });
  after(async () => {
    await h.close();
    await rx.close();
  });

  async function accountWithSecret() {
    const a = await h.account({ tokens: 10 });
    const created = await h.post('/api/v2/user/webhook-secret', undefined, a.key);
    assert.equal(created.status, 201);
    assert.match(created.json.secret, /^whsec_/);
    return { ...a, secret: created.json.secret as string };
  }

  it('the secret is shown in full only by POST; GET shows its prefix; a rotation replaces it', async () => {
    const a = await h.account();
    assert.deepEqual((await h.get('/api/v2/user/webhook-secret', a.key)).json, { exists: false, prefix: null, created_at: null });
    const first = await h.post('/api/v2/user/webhook-secret', undefined, a.key);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    const shown = (await h.get('/api/v2/user/webhook-secret', a.key)).json;
    assert.equal(shown.exists, true);
    assert.equal(shown.prefix, first.json.secret.slice(0, 10));
    assert.ok(!JSON.stringify(shown).includes(first.json.secret));
    const second = await h.post('/api/v2/user/webhook-secret', undefined, a.key);
    assert.notEqual(second.json.secret, first.json.secret);
    assert.equal((await h.get('/api/v2/user/webhook-secret')).status, 401);
  });

  it('POSTs the generation object, signed with the account secret, once the generation ends', async () => {
    const a = await accountWithSecret();
    h.fake.respondWith({ chunks: ['Hello', ' hook'] });
    const before = rx.received.length;
    const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: rx.url }, a.key);
    assert.equal(r.status, 200);
    await rx.until(before + 1);
    const got = rx.received[before]!;
    assert.equal(got.headers['content-type'], 'application/json');
    assertSigned(got.headers['x-lumengate-signature'], got.body, a.secret);
    const body = JSON.parse(got.body);
    assert.deepEqual(body, r.json);
    assert.equal(body.status, 'completed');
    assert.equal(body.result_text, 'Hello hook');
    const d = await deliveryWhen(h.server.db, r.json.id, (x) => x.state === 'delivered');
    assert.equal(d.attempts, 1);
    assert.equal(d.last_status, 200);
    assert.equal(d.body, null, 'the stored copy is dropped once delivered');
  });

  it('a streamed generation and one in params report too; a failed generation reports its failure', async () => {
    const a = await accountWithSecret();
    h.fake.respondWith({ chunks: ['s'] });
    const before = rx.received.length;
    const s = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'hi', params: { callback_url: rx.url } }, a.key);
    assert.equal(s.status, 200);
    await rx.until(before + 1);
    assert.equal(JSON.parse(rx.received[before]!.body).status, 'completed');
    h.fake.respondWith({ status: 400 });
    const f = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: rx.url }, a.key);
    assert.ok(f.status >= 400);
    await rx.until(before + 2);
    const failed = JSON.parse(rx.received[before + 1]!.body);
    assert.equal(failed.status, 'failed');
    assertSigned(rx.received[before + 1]!.headers['x-lumengate-signature'], rx.received[before + 1]!.body, a.secret);
  });

  it('a media job reports its file: result_url signed on LUMENGATE_PUBLIC_URL, and it serves the file', async () => {
    const a = await accountWithSecret();
    const before = rx.received.length;
    // espeak: the local speech model (no upstream); wait 0, so the job ends after the answer.
    const r = await h.post('/api/v2/generate', { model: 'espeak', text: 'hello hook', wait: 0, callback_url: rx.url }, a.key);
    assert.equal(r.status, 200, r.text);
    await rx.until(before + 1);
    const got = rx.received[before]!;
    assertSigned(got.headers['x-lumengate-signature'], got.body, a.secret);
    const body = JSON.parse(got.body);
    assert.deepEqual([body.id, body.status, body.result_metadata.mime_type], [r.json.id, 'completed', 'audio/wav']);
    const url = new URL(body.result_url);
    assert.equal(url.origin, 'https://gateway.example', 'the public origin, not the address the worker listens on');
    assert.match(url.pathname, new RegExp(`^/files/${r.json.id}/`));
    const file = await fetch(h.url + url.pathname + url.search);
    assert.equal(file.status, 200);
    assert.equal(
      Buffer.from(await file.arrayBuffer())
        .subarray(0, 4)
        .toString('latin1'),
      'RIFF',
    );
  });

  it('a receiver answering 500 twice then 200 gets three attempts, 10 s and 1 min apart', async () => {
    const a = await accountWithSecret();
    h.fake.respondWith({ chunks: ['retry'] });
    const before = rx.received.length;
    rx.statuses.push(500, 500, 200);
    const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: rx.url }, a.key);
    const worker = h.server.webhooks.worker;
    const first = await deliveryWhen(h.server.db, r.json.id, attemptDone(1));
    assert.equal(first.state, 'pending');
    assert.equal(first.last_status, 500);
    assert.equal(Date.parse(first.next_attempt_at) - Date.parse(first.first_attempt_at!), 10_000);
    assert.equal(await worker.tick(later(5_000)), 0, 'not due before 10 s');
    assert.equal(await worker.tick(later(11_000)), 1);
    const second = await deliveryWhen(h.server.db, r.json.id, attemptDone(2));
    assert.equal(second.state, 'pending');
    assert.equal(await worker.tick(later(11_000 + 61_000)), 1);
    const third = await deliveryWhen(h.server.db, r.json.id, attemptDone(3));
    assert.equal(third.state, 'delivered');
    assert.equal(third.last_status, 200);
    const got = rx.received.slice(before);
    assert.equal(got.length, 3);
    assert.deepEqual(
      got.map((g) => g.headers['x-lumengate-attempt']),
      ['1', '2', '3'],
    );
    assert.equal(new Set(got.map((g) => g.body)).size, 1, 'the same body each time');
    for (const g of got) assertSigned(g.headers['x-lumengate-signature'], g.body, a.secret);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('gives up 24 h after the first attempt', async () => {
    const a = await accountWithSecret();
    h.fake.respondWith({ chunks: ['x'] });
    rx.statuses.push(503, 503);
    const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: rx.url }, a.key);
    await deliveryWhen(h.server.db, r.json.id, attemptDone(1));
    assert.equal(await h.server.webhooks.worker.tick(later(24 * 3600_000 + 1000)), 1);
    const d = await deliveryWhen(h.server.db, r.json.id, attemptDone(2));
    assert.equal(d.state, 'failed');
    assert.equal(d.last_status, 503);
    assert.match(d.last_error!, /HTTP 503/);
    assert.equal(await h.server.webhooks.worker.tick(later(48 * 3600_000)), 0);
  });

  it('a name that resolves to loopback (localhost) is refused at delivery: nothing is sent', async () => {
    const a = await accountWithSecret();
    h.fake.respondWith({ chunks: ['x'] });
    const before = rx.received.length;
    const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: `https://localhost:${rx.port}/hook` }, a.key);
    assert.equal(r.status, 200);
    const d = await deliveryWhen(h.server.db, r.json.id, (x) => x.state !== 'pending');
    assert.equal(d.state, 'failed');
    assert.match(d.last_error!, /localhost resolves to .*not a public address/);
    assert.equal(rx.received.length, before);
  });
});

/** An account with 10 tokens and a webhook secret, so its generations can have callbacks. */
async function accountWithSecret(h: Harness) {
  const acc = await h.account({ tokens: 10 });
  assert.equal((await h.post('/api/v2/user/webhook-secret', undefined, acc.key)).status, 201);
  return acc;
}

/** No poll within a test's time: a delivery goes out only because a new row or a freed slot woke the worker. */
const NO_POLL = { LUMENGATE_WEBHOOK_POLL_MS: '3600000' };

describe("one account's slow receiver holds at most LUMENGATE_WEBHOOK_PER_ACCOUNT delivery slots", () => {
  let h: Harness;
  let slow: Receiver;
  let fast: Receiver;
  before(async () => {
    // 4 slots; LUMENGATE_WEBHOOK_PER_ACCOUNT unset: 2, half of them.
    h = await startHarness({ env: { LUMENGATE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', LUMENGATE_WEBHOOK_CONCURRENCY: '4', ...NO_POLL } });
    slow = await startReceiver();
    fast = await startReceiver();
  });
  after(async () => {
    slow.release();
    await h.close();
    await slow.close();
    await fast.close();
  });

  it("an account whose receiver hangs has 2 attempts in flight; another account's delivery goes out meanwhile; the rest follow once it answers", async () => {
    const a = await accountWithSecret(h);
    const b = await accountWithSecret(h);
    h.fake.respondWith({ chunks: ['ok'] });
    slow.hold = true;
    const aIds: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: `a${i}`, callback_url: slow.url }, a.key);
      assert.equal(r.status, 200, r.text);
      aIds.push(r.json.id as number);
    }
    await slow.until(2);
    const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'b', callback_url: fast.url }, b.key);
    assert.equal(r.status, 200, r.text);
    await fast.until(1);
    assert.equal(JSON.parse(fast.received[0]!.body).id, r.json.id);
    assert.equal(slow.received.length, 2, "A's other two deliveries wait for A's own slots");

    // A's attempts end and free its slots: its other two go out then, not at the next poll.
    slow.release();
    await slow.until(4);
    for (const id of aIds) assert.equal((await deliveryWhen(h.server.db, id, (d) => d.state === 'delivered')).attempts, 1);
  });
});

describe('a delivery queued while every slot is busy goes out as soon as one is free (LUMENGATE_WEBHOOK_CONCURRENCY=1)', () => {
  let h: Harness;
  let slow: Receiver;
  let other: Receiver;
  before(async () => {
    h = await startHarness({ env: { LUMENGATE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', LUMENGATE_WEBHOOK_CONCURRENCY: '1', ...NO_POLL } });
    slow = await startReceiver();
    other = await startReceiver();
  });
  after(async () => {
    slow.release();
    await h.close();
    await slow.close();
    await other.close();
  });

  it("another account's delivery waits for the only slot, then goes out when the hanging receiver answers", async () => {
    const a = await accountWithSecret(h);
    const b = await accountWithSecret(h);
    h.fake.respondWith({ chunks: ['ok'] });
    slow.hold = true;
    const ra = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'a', callback_url: slow.url }, a.key);
    assert.equal(ra.status, 200, ra.text);
    await slow.until(1);
    // Queued while the one slot is held: its wake finds no room.
    const rb = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'b', callback_url: other.url }, b.key);
    assert.equal(rb.status, 200, rb.text);
    const [queued] = await deliveriesOf(h.server.db, rb.json.id as number);
    assert.equal(queued?.attempts, 0, 'not attempted while the slot is held');
    assert.equal(other.received.length, 0);

    slow.release();
    await other.until(1);
    assert.equal(JSON.parse(other.received[0]!.body).id, rb.json.id);
    assert.equal((await deliveryWhen(h.server.db, rb.json.id as number, (d) => d.state === 'delivered')).attempts, 1);
    assert.equal((await deliveryWhen(h.server.db, ra.json.id as number, (d) => d.state === 'delivered')).attempts, 1);
  });
});

describe('webhooks with the default policy (https, public addresses only)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('refuses loopback, private and http callback URLs at request time, naming callback_url, holding nothing', async () => {
    const a = await h.account({ tokens: 10 });
    await h.post('/api/v2/user/webhook-secret', undefined, a.key);
    for (const url of [
      'https://127.0.0.1/hook',
      'https://[::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://10.0.0.5/hook',
      'https://169.254.169.254/latest',
      'http://hooks.example.com/x',
      'file:///etc/passwd',
    ]) {
      const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: url }, a.key);
      assert.equal(r.status, 400, url);
      assert.equal(r.json.error, 'bad_request');
      assert.match(r.json.message, /^callback_url: /);
      assert.equal(r.json.details.fields[0].path, 'callback_url');
    }
    const wrongType = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: 42 }, a.key);
    assert.equal(wrongType.status, 422);
    assert.equal(await h.balance(a.id), 10);
  });

  it('refuses a callback_url while the account has no webhook secret; /v1 chat takes no callback_url', async () => {
    const a = await h.account({ tokens: 10 });
    const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi', callback_url: 'https://hooks.example.com/x' }, a.key);
    assert.equal(r.status, 400);
    assert.match(r.json.message, /callback_url: .*no webhook secret.*POST \/api\/v2\/user\/webhook-secret/);
    const v1 = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'hi' }], callback_url: 'https://hooks.example.com/x' }, a.key);
    assert.equal(v1.status, 400);
    assert.match(JSON.stringify(v1.json), /callback_url/);
    assert.equal(await h.balance(a.id), 10);
  });
});

describe('a webhook delivery survives a restart', () => {
  it('attempted once, the server stops; the next server on the same database delivers it', async () => {
    const rx = await startReceiver();
    const fake = await startFakeOpenAI();
    const dir = mkdtempSync(join(tmpdir(), 'lumengate-hooks-'));
    const testDb = await createTestDatabase(process.env.TEST_DATABASE_URL ?? `sqlite:${join(dir, 'test.db')}`);
    const settings = settingsFromEnv({
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: testDb.url,
      OPENAI_API_KEY: 'sk-fake',
      OPENAI_BASE_URL: `${fake.origin}/v1`,
      LUMENGATE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
    });
    const start = () => startServer({ settings, logger: pino({ level: 'silent' }), catalogOverrides: [{ retries: { attempts: 1, backoff_ms: 5 } }] });
    try {
      let server = await start();
      const account = await createAccount(server.db, { plan: 'pro', tokens: 10, package_tokens: 0 });
      const key = (await createKey(server.db, account.id, 'test')).key;
      const secret = (await (await fetch(`${server.url}/api/v2/user/webhook-secret`, { method: 'POST', headers: { authorization: `Bearer ${key}` } })).json()).secret;
      fake.respondWith({ chunks: ['durable'] });
      rx.statuses.push(503);
      const res = await fetch(`${server.url}/api/v2/generate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-5-nano', prompt: 'hi', callback_url: rx.url }),
      });
      const generation = await res.json();
      await deliveryWhen(server.db, generation.id, attemptDone(1));
      await server.close();

      server = await start();
      try {
        assert.equal(await server.webhooks.worker.tick(later(11_000)), 1);
        const d = await deliveryWhen(server.db, generation.id, attemptDone(2));
        assert.equal(d.state, 'delivered');
        assert.equal(rx.received.length, 2);
        assert.deepEqual(JSON.parse(rx.received[1]!.body), generation);
        assertSigned(rx.received[1]!.headers['x-lumengate-signature'], rx.received[1]!.body, secret);
      } finally {
        await server.close();
      }
    } finally {
      await rx.close();
      await fake.close();
      await testDb.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
