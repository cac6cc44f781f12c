// Media generations as jobs (docs/api.md) over HTTP, in front of a fake Replicate: wait, poll,
// cancel, provider failures, attempts running out, and money under 50 concurrent jobs.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { settled, startHarness, type Harness } from '../support/harness.js';
import { dirUntil } from '../support/dir-events.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import { endedJob } from '../support/job-rows.js';
import { serverEvents, untilEvent } from '../support/server-events.js';
import { startReceiver, type Receiver } from '../webhooks/receiver.js';
import { releaseStaleHolds } from '../../src/billing/ledger.js';
import { deliveriesOf } from '../../src/webhooks/store.js';

describe('media jobs', () => {
  let h: Harness;
  let fake: FakeReplicate;
  let filesDir: string;
  let rx: Receiver;
  before(async () => {
    fake = await startFakeReplicate();
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-files-'));
    h = await startHarness({
      env: {
        REPLICATE_API_TOKEN: 'r8_fake_test_token',
        REPLICATE_BASE_URL: fake.baseUrl,
        LUMENGATE_FILES_DIR: filesDir,
        LUMENGATE_JOB_PROVIDER_POLL_MS: '20',
        LUMENGATE_JOB_IDLE_POLL_MS: '50',
        LUMENGATE_JOB_BACKOFF_MS: '10',
        LUMENGATE_JOB_ATTEMPTS: '3',
        LUMENGATE_JOB_CONCURRENCY: '8',
        LUMENGATE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      },
    });
    rx = await startReceiver();
  });
  after(async () => {
    await h.close();
    await fake.close();
    await rx.close();
    rmSync(filesDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    fake.queue.length = 0;
    fake.defaults = {};
  });

  const job = (id: number) => h.server.db.kysely.selectFrom('jobs').selectAll().where('generation_id', '=', id).executeTakeFirstOrThrow();
  const generation = (id: number) => h.server.db.kysely.selectFrom('generations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  /** The stale-hold sweeper releases generation `id`, its hold set back to have expired (timeout + 5 min, not waited for). */
  const sweptAway = async (id: number) => {
    await h.server.db.kysely
      .updateTable('generations')
      .set({ hold_expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', id)
      .execute();
    assert.equal(await releaseStaleHolds(h.server.db), 1);
  };
  const noPending = async () => (await h.server.db.kysely.selectFrom('generations').select('id').where('status', '=', 'pending').execute()).length;

  it('an image job ending within `wait` answers the completed generation; the file is stored and recorded', async () => {
    const acc = await h.account({ tokens: 100 });
    fake.defaults = { polls: 2 };
    const r = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'a red fox', size: '1344x768', seed: 7 }, acc.key);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'completed');
    assert.equal(r.json.tokens_spent, 4);
    assert.equal(r.json.balance_remaining, 96);
    assert.equal(await h.balance(acc.id), 96);

    const create = fake.calls.find((c) => c.method === 'POST' && c.path === '/v1/models/black-forest-labs/flux-1.1-pro/predictions')!;
    assert.deepEqual(create.body, { input: { prompt: 'a red fox', width: 1344, height: 768, seed: 7 } });
    assert.match(String(create.headers.prefer), /^wait=\d+$/);
    const prediction = [...fake.predictions.values()].at(-1);
    assert.equal(prediction!.polls, 2);

    const g = await generation(r.json.id);
    const files = JSON.parse(g.result_json!).files;
    assert.deepEqual(
      files.map((f: any) => [f.key, f.name, f.media_type, f.format]),
      [[`${r.json.id}/output.webp`, 'output.webp', 'image/webp', 'webp']],
    );
    const expected = fake.fileBytes(prediction!.id, 0);
    assert.equal(files[0].bytes, expected.length);
    assert.deepEqual(readFileSync(join(filesDir, String(r.json.id), 'output.webp')), expected, 'the bytes the provider served, stored by the gateway');
    const ended = await endedJob(h.server.db, r.json.id);
    assert.deepEqual([ended.state, ended.attempts], ['done', 1]);
  });

  it('video answers pending at once (wait 0 by default) holding the per-second price; polling shows it complete', async () => {
    const acc = await h.account({ tokens: 100 });
    fake.defaults = { hold: true, ext: 'mp4' };
    const seen = fake.predictions.size;
    const r = await h.post('/api/v2/generate', { model: 'kling-v2.1', prompt: 'waves', params: { duration: 10, aspect_ratio: '9:16' } }, acc.key);
    assert.equal(r.status, 200);
    assert.deepEqual([r.json.status, r.json.tokens_spent, r.json.balance_remaining, r.json.result_text], ['pending', 0, 48, null]);
    await fake.until(() => fake.predictions.size === seen + 1);
    const p = [...fake.predictions.values()].at(-1);
    assert.deepEqual(p!.input, { prompt: 'waves', duration: 10, aspect_ratio: '9:16' });
    assert.equal((await h.get(`/api/v2/generate/${r.json.id}`, acc.key)).json.status, 'pending');
    fake.release();
    const done = await settled(h, r.json.id, acc.key);
    assert.deepEqual([done.status, done.tokens_spent, done.balance_remaining], ['completed', 52, 48]);
    assert.equal(JSON.parse((await generation(r.json.id)).result_json!).files[0].media_type, 'video/mp4');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a client that leaves while waiting does not stop the job: it completes and is charged', async () => {
    const acc = await h.account({ tokens: 100 });
    fake.defaults = { hold: true };
    const seen = fake.predictions.size;
    const leave = new AbortController();
    const request = fetch(`${h.url}/api/v2/generate`, {
      method: 'POST',
      signal: leave.signal,
      headers: { authorization: `Bearer ${acc.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'flux-kontext-pro', prompt: 'x', wait: 120 }),
    });
    await fake.until(() => fake.predictions.size === seen + 1);
    leave.abort();
    await assert.rejects(request);
    const p = [...fake.predictions.values()].at(-1)!;
    const g = await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', acc.id).executeTakeFirstOrThrow();
    fake.release(p.id);
    const done = await settled(h, g.id, acc.key);
    assert.deepEqual([done.status, done.tokens_spent, await h.balance(acc.id)], ['completed', 3, 97]);
  });

  it('an option a route of the model would drop is refused naming it where it was sent (top level, or params.<name> in params), before anything is held', async () => {
    const acc = await h.account({ tokens: 100 });
    const rows = async (table: 'generations' | 'ledger') => (await h.server.db.kysely.selectFrom(table).select('id').where('account_id', '=', acc.id).execute()).length;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      // Unknown options, at the top level and in params.
      [{ model: 'flux-1.1-pro', prompt: 'x', foo: 1 }, 'foo', /model "flux-1.1-pro" does not take it \(its replicate route/],
      [{ model: 'flux-1.1-pro', prompt: 'x', params: { bar: 1 } }, 'params.bar', /model "flux-1.1-pro" does not take it/],
      [{ model: 'photon', prompt: 'x', style: 'a', params: { style: 'vivid' } }, 'params.style', /model "photon" does not take it \(its luma route/],
      // Known options the provider module does not forward: quality on a Replicate image model, style on Luma.
      [{ model: 'flux-1.1-pro', prompt: 'x', quality: 'hd' }, 'quality', /flux-1.1-pro/],
      [{ model: 'photon', prompt: 'x', style: 'vivid' }, 'style', /model "photon" does not take it \(its luma route/],
      // Two routes: Veo on Google takes resolution, Veo on Replicate would drop it.
      [{ model: 'veo-3.1', prompt: 'x', resolution: '1080p' }, 'resolution', /its replicate route/],
      // Text generation controls mean nothing to a media model.
      [{ model: 'flux-1.1-pro', prompt: 'x', temperature: 0.5 }, 'temperature', /a text generation option; model "flux-1.1-pro" is an image model/],
      [{ model: 'flux-1.1-pro', prompt: 'x', params: { max_tokens: 10 } }, 'params.max_tokens', /text generation option/],
      // A prompt the model never reads (an upscaler) is an option it drops too.
      [{ model: 'upscale', prompt: 'make it sharp', image_url: 'https://example.com/a.png' }, 'prompt', /model "upscale" does not take it/],
      [{ model: 'upscale', params: { text: 'make it sharp', image_url: 'https://example.com/a.png' } }, 'params.text', /model "upscale" does not take it/],
      // One prompt: a system prompt or a conversation would be dropped.
      [{ model: 'flux-1.1-pro', prompt: 'x', system: 'be bold' }, 'system', /takes no system prompt \(it is an image model\)/],
      [{ model: 'flux-1.1-pro', prompt: 'x', params: { system_prompt: 'be bold' } }, 'params.system_prompt', /takes no system prompt/],
      [{ model: 'flux-1.1-pro', prompt: 'x', params: { messages: [{ role: 'user', content: 'a' }] } }, 'params.messages', /takes one prompt, not a conversation/],
      [
        {
          model: 'flux-1.1-pro',
          messages: [
            { role: 'system', content: 'be bold' },
            { role: 'user', content: 'x' },
          ],
        },
        'messages.0',
        /takes no system prompt/,
      ],
      [
        {
          model: 'flux-1.1-pro',
          messages: [
            { role: 'user', content: 'a' },
            { role: 'assistant', content: 'b' },
            { role: 'user', content: 'c' },
          ],
        },
        'messages',
        /takes one prompt, not a conversation/,
      ],
    ];
    const predictions = fake.predictions.size;
    const ledger = await rows('ledger'); // the account's opening grant
    for (const [body, field, message] of cases) {
      const r = await h.post('/api/v2/generate', body, acc.key);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error, 'bad_request');
      assert.equal(r.json.details.fields[0].path, field, r.text);
      assert.match(r.json.message, message);
      assert.ok(r.json.message.startsWith(`${field}: `), r.text);
    }
    assert.equal(await h.balance(acc.id), 100);
    assert.deepEqual([await rows('generations'), await rows('ledger')], [0, ledger]);
    assert.equal(fake.predictions.size, predictions, 'nothing reached the provider');
    // What the route does forward is still accepted (wait and callback_url are the gateway's own).
    const ok = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'x', params: { seed: 3, aspect_ratio: '1:1', format: 'png', negative_prompt: 'blur' }, wait: 60 }, acc.key);
    assert.equal(ok.json.status, 'completed', ok.text);
    const create = fake.calls.filter((c) => c.method === 'POST' && c.path === '/v1/models/black-forest-labs/flux-1.1-pro/predictions').at(-1)!;
    assert.deepEqual(create.body, { input: { prompt: 'x', seed: 3, aspect_ratio: '1:1', output_format: 'png', negative_prompt: 'blur' } });
  });

  it('`wait` is bounded; an unrouted model is 503 before any hold', async () => {
    const acc = await h.account({ tokens: 100 });
    const bad = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'x', wait: 121 }, acc.key);
    assert.equal(bad.status, 422);
    assert.equal(bad.json.details.fields[0].path, 'wait');
    // Sent in params, it is named there; params wins on a clash.
    for (const body of [{ params: { wait: 121 } }, { wait: 5, params: { wait: -1 } }]) {
      const inParams = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'x', ...body }, acc.key);
      assert.equal(inParams.status, 422, inParams.text);
      assert.equal(inParams.json.details.fields[0].path, 'params.wait');
    }
    const unrouted = await h.post('/api/v2/generate', { model: 'midjourney', prompt: 'x' }, acc.key);
    assert.equal(unrouted.status, 503);
    assert.equal(await h.balance(acc.id), 100);
  });

  it('cancel: failed with error `cancelled`, released, and the provider prediction cancelled', async () => {
    const acc = await h.account({ tokens: 100 });
    fake.defaults = { hold: true, ext: 'mp4' };
    const seen = fake.predictions.size;
    const r = await h.post('/api/v2/generate', { model: 'minimax-video', prompt: 'a cat' }, acc.key);
    assert.equal(r.json.status, 'pending');
    assert.equal(await h.balance(acc.id), 12);
    // The prediction exists and its id is stored.
    await fake.until(() => fake.predictions.size === seen + 1);
    const p = [...fake.predictions.values()].at(-1);
    // Its first poll comes after the id is stored.
    await fake.until(() => p!.polls > 0);
    assert.equal((await job(r.json.id)).provider_job_id, p!.id);
    const c = await h.post(`/api/v2/generate/${r.json.id}/cancel`, undefined, acc.key);
    assert.equal(c.status, 200, c.text);
    assert.deepEqual([c.json.status, c.json.error, c.json.tokens_spent, c.json.balance_remaining], ['failed', 'cancelled', 0, 100]);
    assert.equal(p!.status, 'canceled');
    assert.ok(fake.calls.some((x) => x.method === 'POST' && x.path === `/v1/predictions/${p!.id}/cancel`));
    assert.equal((await job(r.json.id)).state, 'cancelled');
    const again = await h.post(`/api/v2/generate/${r.json.id}/cancel`, undefined, acc.key);
    assert.equal(again.status, 400);
    const other = await h.account();
    assert.equal((await h.post(`/api/v2/generate/${r.json.id}/cancel`, undefined, other.key)).status, 404);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a failed prediction fails the generation at once (no retry: it would fail and charge again) and releases', async () => {
    const acc = await h.account({ tokens: 100 });
    fake.defaults = { polls: 1, ending: 'failed', error: 'NSFW content detected' };
    const before = fake.creates();
    const r = await h.post('/api/v2/generate', { model: 'recraft-v3', prompt: 'x' }, acc.key);
    assert.deepEqual([r.json.status, r.json.tokens_spent, r.json.balance_remaining], ['failed', 0, 100]);
    assert.match(r.json.error, /NSFW content detected/);
    assert.equal(fake.creates() - before, 1);
  });

  it('a prediction finished within `Prefer: wait` whose file download fails for a moment: the retry downloads it again from the same prediction, never paying for a second', async () => {
    const acc = await h.account({ tokens: 100 });
    // The create call answers it succeeded (polls: 0); replicate.delivery answers 503 once.
    fake.defaults = { polls: 0, fileStatus: 503 };
    const before = fake.creates();
    const r = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'x', wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    const done = await settled(h, r.json.id, acc.key);
    const p = [...fake.predictions.values()].at(-1)!;
    assert.equal(fake.creates() - before, 1, 'one prediction created (and paid for)');
    assert.deepEqual([done.status, done.tokens_spent, await h.balance(acc.id)], ['completed', 4, 96]);
    const j = await endedJob(h.server.db, r.json.id);
    assert.deepEqual([j.state, j.attempts, j.provider_job_id], ['done', 2, p.id]);
    assert.deepEqual(readFileSync(join(filesDir, String(r.json.id), 'output.webp')), fake.fileBytes(p.id, 0));
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it("a 429 with Retry-After puts the job back for the provider's wait, not the shorter backoff; a cancel ends it, released", async () => {
    const acc = await h.account({ tokens: 100 });
    // Replicate's rate limit: the create call answers 429, Retry-After 30 s (the backoff here is 10 ms).
    fake.queue.push({ createStatus: 429, retryAfter: 30 });
    const before = fake.creates();
    const r = await h.post('/api/v2/generate', { model: 'sd-3.5-large', prompt: 'x', wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    // The first attempt's run ends (requeued): read the row it left.
    const requeued = await untilEvent(
      [serverEvents.jobRunEnded],
      async () => {
        const j = await job(r.json.id);
        return j.attempts >= 1 && j.state !== 'running' && j;
      },
      `job ${r.json.id} requeued after its first attempt`,
    );
    assert.deepEqual([requeued.state, requeued.attempts, fake.creates() - before], ['queued', 1, 1]);
    assert.match(requeued.last_error!, /HTTP 429|429/);
    // Both stamped by the one requeue, from one clock reading apart: the wait it was given.
    assert.ok(Date.parse(requeued.run_after) - Date.parse(requeued.updated_at) >= 29_000, `due ${requeued.run_after}, requeued ${requeued.updated_at}`);
    const c = await h.post(`/api/v2/generate/${r.json.id}/cancel`, undefined, acc.key);
    assert.deepEqual([c.json.status, c.json.error, c.json.tokens_spent, await h.balance(acc.id)], ['failed', 'cancelled', 0, 100]);
    assert.equal(fake.creates() - before, 1);
  });

  it('a job taken from its worker while the provider was accepting it (a cancel or a takeover elsewhere): the prediction it can no longer record is cancelled at the provider', async () => {
    const acc = await h.account({ tokens: 100 });
    // The create call is held: the prediction exists at Replicate, its id not yet known to the gateway.
    fake.queue.push({ createHold: true, hold: true, ext: 'mp4' });
    const seen = fake.creates();
    const r = await h.post('/api/v2/generate', { model: 'minimax-video', prompt: 'x', wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    await fake.until(() => fake.creates() === seen + 1);
    const p = [...fake.predictions.values()].at(-1)!;
    // Meanwhile the job stops being this worker's: another instance took its lease over (as a
    // cancel on another instance also ends its lease), so nothing will ever record this prediction.
    await h.server.db.kysely.updateTable('jobs').set({ lease_owner: 'another-instance#00000000' }).where('generation_id', '=', r.json.id).execute();
    fake.releaseCreates();
    await fake.until(() => p.status === 'canceled');
    assert.ok(fake.calls.some((x) => x.method === 'POST' && x.path === `/v1/predictions/${p.id}/cancel`));
    assert.equal((await job(r.json.id)).provider_job_id, null, 'not recorded on a job that is not its own');
    const c = await h.post(`/api/v2/generate/${r.json.id}/cancel`, undefined, acc.key);
    assert.deepEqual([c.json.status, c.json.error, c.json.tokens_spent, await h.balance(acc.id)], ['failed', 'cancelled', 0, 100]);
  });

  it('attempts run out: the job is failed and its hold released', async () => {
    const acc = await h.account({ tokens: 100 });
    fake.defaults = { createStatus: 500 };
    const before = fake.creates();
    const r = await h.post('/api/v2/generate', { model: 'sd-3.5-large', prompt: 'x' }, acc.key);
    assert.deepEqual([r.json.status, r.json.tokens_spent, r.json.balance_remaining], ['failed', 0, 100]);
    assert.match(r.json.error, /HTTP 500/);
    assert.equal(fake.creates() - before, 3, 'LUMENGATE_JOB_ATTEMPTS=3');
    const j = await endedJob(h.server.db, r.json.id);
    assert.deepEqual([j.state, j.attempts], ['failed', 3]);
  });

  it('polls failing on every attempt: failed, released, and the prediction the gateway gave up on cancelled at the provider', async () => {
    const acc = await h.account({ tokens: 100 });
    fake.defaults = { hold: true, pollStatus: 500, ext: 'mp4' };
    const seen = fake.predictions.size;
    const r = await h.post('/api/v2/generate', { model: 'minimax-video', prompt: 'x', wait: 0 }, acc.key);
    const done = await settled(h, r.json.id, acc.key);
    assert.deepEqual([done.status, done.tokens_spent, await h.balance(acc.id)], ['failed', 0, 100]);
    assert.match(done.error, /HTTP 500/);
    assert.deepEqual([(await endedJob(h.server.db, r.json.id)).attempts, fake.predictions.size], [3, seen + 1]);
    const p = [...fake.predictions.values()].at(-1)!;
    await fake.until(() => p.status === 'canceled');
  });

  it('a job the stale-hold sweeper releases while it runs: its worker ends the row, reports the end once and cancels the prediction', async () => {
    const acc = await h.account({ tokens: 100 });
    assert.equal((await h.post('/api/v2/user/webhook-secret', undefined, acc.key)).status, 201);
    fake.defaults = { hold: true, ext: 'mp4' };
    const seen = fake.predictions.size;
    const r = await h.post('/api/v2/generate', { model: 'minimax-video', prompt: 'x', wait: 0, callback_url: rx.url }, acc.key);
    assert.equal(r.status, 200, r.text);
    await fake.until(() => fake.predictions.size === seen + 1);
    const p = [...fake.predictions.values()].at(-1)!;
    await fake.until(() => p.polls > 0);
    await sweptAway(r.json.id);
    assert.deepEqual([(await endedJob(h.server.db, r.json.id)).state, await h.balance(acc.id)], ['failed', 100]);
    await fake.until(() => p.status === 'canceled');
    await rx.until(1);
    assert.deepEqual([JSON.parse(rx.received[0]!.body).id, JSON.parse(rx.received[0]!.body).error], [r.json.id, 'server_interrupted']);
    assert.equal((await deliveriesOf(h.server.db, r.json.id)).length, 1);
  });

  /** Resolves once the gateway has begun writing `path`: looked at as its directory is created, then at each change in it. */
  const writing = async (path: string) => {
    await dirUntil(filesDir, () => existsSync(dirname(path)), `${dirname(path)} created`);
    await dirUntil(dirname(path), () => existsSync(path) && statSync(path).size > 0, `${path} written`);
  };
  /** Resolves once `path` is gone, looked at at each change in its directory (which the store keeps). */
  const gone = (path: string) => dirUntil(dirname(path), () => !existsSync(path), `${path} deleted`);

  it('cancel while the output is being stored: the partial file is deleted, nothing charged', async () => {
    const acc = await h.account({ tokens: 100 });
    fake.defaults = { polls: 1, fileHold: true, ext: 'mp4' };
    const r = await h.post('/api/v2/generate', { model: 'minimax-video', prompt: 'x', wait: 0 }, acc.key);
    const out = join(filesDir, String(r.json.id), 'output.mp4');
    await writing(out);
    const c = await h.post(`/api/v2/generate/${r.json.id}/cancel`, undefined, acc.key);
    assert.deepEqual([c.json.status, c.json.error, c.json.tokens_spent, await h.balance(acc.id)], ['failed', 'cancelled', 0, 100]);
    await gone(out);
  });

  it('settled by someone else while its output was stored (the sweeper): the file is deleted, the row ends failed, the end reported once', async () => {
    const acc = await h.account({ tokens: 100 });
    assert.equal((await h.post('/api/v2/user/webhook-secret', undefined, acc.key)).status, 201);
    fake.defaults = { polls: 1, fileHold: true, ext: 'mp4' };
    const received = rx.received.length;
    const r = await h.post('/api/v2/generate', { model: 'minimax-video', prompt: 'x', wait: 0, callback_url: rx.url }, acc.key);
    const out = join(filesDir, String(r.json.id), 'output.mp4');
    await writing(out);
    await sweptAway(r.json.id);
    // The download ends now: the worker's completion finds the generation settled.
    fake.release();
    assert.deepEqual([(await endedJob(h.server.db, r.json.id)).state, await h.balance(acc.id)], ['failed', 100]);
    await gone(out);
    await rx.until(received + 1);
    assert.equal((await deliveriesOf(h.server.db, r.json.id)).length, 1);
  });

  it('50 concurrent image jobs on an account funded for 10: exactly the completed ones are charged, balance = ledger, no hold left', async () => {
    const acc = await h.account({ tokens: 40 });
    // Every third prediction fails at the provider, every fifth create is refused (422).
    fake.queue.push(...Array.from({ length: 50 }, (_, i) => (i % 5 === 4 ? { createStatus: 422 } : i % 3 === 0 ? { polls: 1, ending: 'failed' as const } : { polls: 1 })));
    const answers = await Promise.all(Array.from({ length: 50 }, () => h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'x' }, acc.key)));
    const admitted = answers.filter((a) => a.status === 200);
    assert.ok(admitted.length >= 10, `${admitted.length} admitted`);
    for (const a of answers.filter((x) => x.status !== 200)) assert.equal(a.json.error, 'insufficient_tokens');
    // Generations that outlived their request's wait are done by now or soon.
    const final = await Promise.all(admitted.map((a) => settled(h, a.json.id, acc.key)));
    const completed = final.filter((g) => g.status === 'completed');
    const failed = final.filter((g) => g.status === 'failed');
    assert.ok(completed.length > 0 && failed.length > 0);
    assert.equal(await h.balance(acc.id), 40 - 4 * completed.length);
    for (const g of completed) assert.equal(g.tokens_spent, 4);
    for (const g of failed) assert.equal(g.tokens_spent, 0);
    const ledger = await h.server.db.kysely.selectFrom('ledger').select(['kind', 'amount']).where('account_id', '=', acc.id).execute();
    assert.equal(
      ledger.filter((l) => l.kind === 'charge').reduce((s, l) => s + l.amount, 0),
      4 * completed.length,
    );
    assert.equal(ledger.filter((l) => l.kind === 'hold').length, admitted.length);
    assert.equal(ledger.filter((l) => l.kind === 'release').length, failed.length);
    assert.equal(await noPending(), 0);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});
