// LUMENGATE_JOB_TIMEOUT_MS (docs/deploy.md) against upstreams that are held for ever: the deadline
// must fire whatever the job is doing, fail it with nothing charged, and free its worker slot for
// other accounts' jobs. The timeout is the shortest the gateway allows (1 s) and must fire; the
// fakes never answer the held requests on their own, so only the gateway can end those jobs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { settled, startHarness, type Harness } from '../support/harness.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import { FAKE_OPENAI_KEY, startFakeOpenAIImages, type FakeOpenAIImages } from '../support/fake-openai-images.js';
import { endedJob } from '../support/job-rows.js';

interface Rig {
  h: Harness;
  images: FakeOpenAIImages;
  replicate: FakeReplicate;
}

/**
 * A server with one worker slot (a job that never ends keeps every other job waiting) on fake
 * OpenAI images and Replicate, with this job timeout; started before the suite's tests, closed after.
 */
function deadlineRig(timeoutMs: number, env: Record<string, string> = {}): Rig {
  const rig = {} as Rig;
  let filesDir = '';
  before(async () => {
    rig.images = await startFakeOpenAIImages();
    rig.replicate = await startFakeReplicate();
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-files-'));
    rig.h = await startHarness({
      env: {
        OPENAI_API_KEY: FAKE_OPENAI_KEY,
        OPENAI_BASE_URL: `${rig.images.origin}/v1`,
        REPLICATE_API_TOKEN: 'r8_fake_test_token',
        REPLICATE_BASE_URL: rig.replicate.baseUrl,
        LUMENGATE_FILES_DIR: filesDir,
        LUMENGATE_JOB_IDLE_POLL_MS: '50',
        LUMENGATE_JOB_CONCURRENCY: '1',
        LUMENGATE_JOB_TIMEOUT_MS: String(timeoutMs),
        ...env,
      },
    });
  });
  after(async () => {
    await rig.h.close();
    rig.images.release();
    await Promise.all([rig.images.close(), rig.replicate.close()]);
    rmSync(filesDir, { recursive: true, force: true });
  });
  return rig;
}

/** A job of `key`'s on the only slot, its provider call never answered; once the provider has it. */
async function hungJob(rig: Rig, key: string): Promise<{ json: { id: number } }> {
  const arrived = rig.images.nextRequest();
  const hung = await rig.h.post('/api/v2/generate', { model: 'dall-e-3', prompt: 'hold: never answered', wait: 0 }, key);
  assert.equal(hung.status, 200, hung.text);
  await arrived;
  return hung;
}

describe('the job deadline', () => {
  const rig = deadlineRig(1000, { LUMENGATE_JOB_PROVIDER_POLL_MS: '20' });
  let h: Harness;
  let replicate: FakeReplicate;
  before(() => ({ h, replicate } = rig));

  it('a synchronous provider that never answers: the job times out, 0 charged, and frees its worker slot', async () => {
    const a = await h.account({ tokens: 100 });
    const b = await h.account({ tokens: 100 });
    const hung = await hungJob(rig, a.key);
    const failed = await settled(h, hung.json.id, a.key);
    assert.deepEqual([failed.status, failed.tokens_spent, await h.balance(a.id)], ['failed', 0, 100]);
    assert.match(failed.error, /timed out: the job ran over 1000 ms/);
    assert.equal((await endedJob(h.server.db, hung.json.id)).state, 'failed');
    // The only slot is free again: another account's job runs.
    const other = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'y' }, b.key);
    assert.deepEqual([other.status, other.json.status], [200, 'completed']);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a provider job still running at the deadline: the job times out, 0 charged, and the prediction is cancelled at the provider', async () => {
    const acc = await h.account({ tokens: 100 });
    replicate.queue.push({ hold: true, ext: 'mp4' });
    const seen = replicate.predictions.size;
    const r = await h.post('/api/v2/generate', { model: 'minimax-video', prompt: 'a cat', wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    await replicate.until(() => replicate.predictions.size === seen + 1);
    const p = [...replicate.predictions.values()].at(-1)!;
    const failed = await settled(h, r.json.id, acc.key);
    assert.deepEqual([failed.status, failed.tokens_spent, await h.balance(acc.id)], ['failed', 0, 100]);
    assert.match(failed.error, /timed out: the job ran over 1000 ms/);
    await replicate.until(() => p.status === 'canceled');
  });
});

describe('the job deadline counts from its start, not its submission', () => {
  const TIMEOUT_MS = 60_000;
  const rig = deadlineRig(TIMEOUT_MS);
  let h: Harness;
  before(() => ({ h } = rig));

  it('a job queued longer than the timeout still runs, its hold set from its start; one not started within 24 h fails, 0 charged', async () => {
    const a = await h.account({ tokens: 100 });
    const b = await h.account({ tokens: 100 });
    const hung = await hungJob(rig, a.key);
    // Two jobs queued behind the hung one (the only slot), as if submitted 2 h and 25 h ago.
    const late = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'late', wait: 0 }, b.key);
    const stale = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'stale', wait: 0 }, b.key);
    const backdate = (id: number, hours: number) =>
      h.server.db.kysely
        .updateTable('generations')
        .set({ created_at: new Date(Date.now() - hours * 3600_000).toISOString() })
        .where('id', '=', id)
        .execute();
    await backdate(late.json.id, 2);
    await backdate(stale.json.id, 25);
    assert.equal((await h.post(`/api/v2/generate/${hung.json.id}/cancel`, {}, a.key)).status, 200);

    const ran = await settled(h, late.json.id, b.key);
    assert.deepEqual([ran.status, ran.tokens_spent], ['completed', 4], JSON.stringify(ran));
    const job = await endedJob(h.server.db, late.json.id);
    const gen = await h.server.db.kysely.selectFrom('generations').select('hold_expires_at').where('id', '=', late.json.id).executeTakeFirstOrThrow();
    assert.equal(Date.parse(gen.hold_expires_at), Date.parse(job.started_at!) + TIMEOUT_MS + 5 * 60_000, 'the hold lasts from the start');

    const gaveUp = await settled(h, stale.json.id, b.key);
    assert.deepEqual([gaveUp.status, gaveUp.tokens_spent], ['failed', 0]);
    assert.match(gaveUp.error, /not started within 24 h of its submission/);
    assert.equal(await h.balance(b.id), 100 - 4);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});
