// SIGKILL of the instance running a job whose Replicate prediction is still `processing`: after the
// restart the job's lease expires, the job is claimed again and resumes polling the SAME prediction
// (its id was stored when it started). One prediction, one completion, one charge.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ledgerMismatches } from '../../src/billing/ledger.js';
import { FAKE_OPENAI_KEY, startFakeOpenAIImages, type FakeOpenAIImages } from '../support/fake-openai-images.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import { endedJob } from '../support/job-rows.js';
import { serverEvents, untilEvent } from '../support/server-events.js';
import { openSharedDatabase, type SharedDatabase } from '../support/shared-db.js';

describe('job crash recovery', () => {
  let shared: SharedDatabase;
  let fake: FakeReplicate;
  let images: FakeOpenAIImages;

  before(async () => {
    shared = await openSharedDatabase();
    fake = await startFakeReplicate({ hold: true, ext: 'mp4' });
    images = await startFakeOpenAIImages();
  });
  // Each test's instances are stopped at its end (the Replicate ones, without an OpenAI key, would claim the images test's job).
  afterEach(() => shared.stopInstances());
  after(async () => {
    await shared?.close();
    images?.release();
    await Promise.all([fake?.close(), images?.close()]);
  });

  /** An instance on the fake Replicate whose leases run out fast (1.5 s), so that a restart claims its jobs again soon. */
  const replicateEnv = (instance: string) => ({
    REPLICATE_API_TOKEN: 'r8_fake_test_token',
    REPLICATE_BASE_URL: fake.baseUrl,
    LUMENGATE_FILES_DIR: join(shared.dir, 'files'),
    LUMENGATE_JOB_LEASE_MS: '1500',
    LUMENGATE_JOB_PROVIDER_POLL_MS: '50',
    LUMENGATE_JOB_IDLE_POLL_MS: '100',
    LUMENGATE_INSTANCE_ID: instance,
  });
  const get = async (url: string, path: string, key: string) => (await fetch(url + path, { headers: { authorization: `Bearer ${key}` } })).json();

  it('SIGKILL mid-job: the restarted instance resumes polling the stored prediction; completed once, charged once', { timeout: 180_000 }, async () => {
    const { db, dir } = shared;
    const env = replicateEnv('jobs-a');
    const a = await shared.start(env);
    const acc = await shared.account('pro', 100);
    const key = acc.key;

    const res = await fetch(`${a.url}/api/v2/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'kling-v2.1', prompt: 'a slow pan over hills' }),
    });
    const pending = await res.json();
    assert.deepEqual([res.status, pending.status, pending.balance_remaining], [200, 'pending', 74]);

    // The prediction is running at Replicate and A has stored its id (polls come after storing it).
    await fake.until(() => fake.predictions.size === 1 && [...fake.predictions.values()][0]!.polls >= 2);
    const prediction = [...fake.predictions.values()][0]!;
    const job = () => db.kysely.selectFrom('jobs').selectAll().where('generation_id', '=', pending.id).executeTakeFirstOrThrow();
    assert.deepEqual([(await job()).provider_job_id, (await job()).attempts, (await job()).state], [prediction.id, 1, 'running']);

    await a.kill();
    const pollsAtKill = prediction.polls;
    assert.equal(prediction.status, 'processing');

    const restarted = await shared.start(env);
    // Its start-up releases holds of its own dead text generations, never a job's: the job is still owed.
    assert.equal((await get(restarted.url, `/api/v2/generate/${pending.id}`, key)).status, 'pending');
    // Once A's lease expires the job is claimed again and polls the same prediction.
    await fake.until(() => prediction.polls > pollsAtKill);
    fake.release();
    // It downloads the output, then settles: read the generation as a client would, again at each
    // settlement the restarted instance publishes (relayed from its process, server-events.ts).
    await fake.until(() => fake.calls.some((c) => c.path.startsWith(`/files/${prediction.id}/`)));
    const g = await untilEvent(
      [serverEvents.settled],
      async () => {
        const now = await get(restarted.url, `/api/v2/generate/${pending.id}`, key);
        return now.status !== 'pending' && now;
      },
      `generation ${pending.id} settled`,
    );
    assert.deepEqual([g.status, g.tokens_spent, g.balance_remaining], ['completed', 26, 74]);

    assert.equal(fake.creates(), 1, 'exactly one prediction was created (and paid for)');
    const ended = await endedJob(db, pending.id);
    assert.deepEqual([ended.state, ended.attempts], ['done', 2]);
    const ledger = await db.kysely.selectFrom('ledger').select(['kind', 'amount']).where('account_id', '=', acc.id).orderBy('id').execute();
    assert.deepEqual(
      ledger.map((l) => [l.kind, l.amount]),
      [
        ['grant', 100],
        ['hold', 26],
        ['charge', 26],
      ],
    );
    assert.deepEqual(await ledgerMismatches(db), []);
    const gen = await db.kysely.selectFrom('generations').selectAll().where('id', '=', pending.id).executeTakeFirstOrThrow();
    const [file] = JSON.parse(gen.result_json!).files;
    assert.deepEqual(readFileSync(join(dir, 'files', file.key)), fake.fileBytes(prediction.id, 0));
  });

  it(
    'SIGTERM while Replicate is still answering the create call: the call may finish, its id is stored, and the restart resumes that prediction instead of paying for a second',
    { timeout: 180_000 },
    async () => {
      const { db } = shared;
      const env = replicateEnv('jobs-b');
      const a = await shared.start(env);
      const acc = await shared.account('pro', 100);
      const creates = fake.creates();
      // The create call is held (the prediction exists at Replicate, its id not yet answered), as during Prefer: wait.
      fake.queue.push({ createHold: true, hold: true, ext: 'mp4' });
      const waiting = fetch(`${a.url}/api/v2/generate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${acc.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'kling-v2.1', prompt: 'a slow pan over hills', wait: 120 }),
      });
      await fake.until(() => fake.creates() === creates + 1);
      const prediction = [...fake.predictions.values()].at(-1)!;
      const stopped = a.stop();
      // The stop answers the waiting request at once (pending), in the same turn as it stops the job's run.
      const pending = await (await waiting).json();
      assert.deepEqual([pending.status, pending.balance_remaining], ['pending', 74]);
      fake.releaseCreates();
      await stopped;
      // The prediction's id was stored before the job went back to the queue (another instance on this database may already have resumed it).
      const job = await db.kysely.selectFrom('jobs').selectAll().where('generation_id', '=', pending.id).executeTakeFirstOrThrow();
      assert.equal(job.provider_job_id, prediction.id);

      const restarted = await shared.start(env);
      await fake.until(() => prediction.polls > 0);
      fake.release(prediction.id);
      const g = await untilEvent(
        [serverEvents.settled],
        async () => {
          const now = await get(restarted.url, `/api/v2/generate/${pending.id}`, acc.key);
          return now.status !== 'pending' && now;
        },
        `generation ${pending.id} settled`,
      );
      assert.deepEqual([g.status, g.tokens_spent, g.balance_remaining], ['completed', 26, 74]);
      assert.equal(fake.creates(), creates + 1, 'exactly one prediction was created (and paid for)');
      assert.deepEqual(await ledgerMismatches(db), []);
    },
  );

  it('SIGTERM while a synchronous provider (OpenAI images) is answering: the image that arrives within the grace is stored and charged once, not made again', { timeout: 180_000 }, async () => {
    const { db, dir } = shared;
    const env = {
      OPENAI_API_KEY: FAKE_OPENAI_KEY,
      OPENAI_BASE_URL: `${images.origin}/v1`,
      LUMENGATE_FILES_DIR: join(dir, 'files'),
      LUMENGATE_JOB_IDLE_POLL_MS: '100',
      LUMENGATE_INSTANCE_ID: 'jobs-c',
    };
    const a = await shared.start(env);
    const acc = await shared.account('pro', 100);
    const arrived = images.nextRequest();
    // The images call is held: OpenAI is making (and will charge for) the picture, and there is no job id to come back to.
    const waiting = fetch(`${a.url}/api/v2/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acc.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dall-e-3', prompt: 'hold: a lighthouse at dusk', wait: 120 }),
    });
    await arrived;
    const stopped = a.stop();
    // The stop answers the waiting request at once (pending), in the same turn as it stops the job's run.
    const pending = await (await waiting).json();
    assert.equal(pending.status, 'pending');
    images.release();
    await stopped;

    const gen = await db.kysely.selectFrom('generations').selectAll().where('id', '=', pending.id).executeTakeFirstOrThrow();
    assert.deepEqual([gen.status, (await endedJob(db, pending.id)).state], ['completed', 'done']);
    const [file] = JSON.parse(gen.result_json!).files;
    assert.equal(
      readFileSync(join(dir, 'files', file.key))
        .subarray(1, 4)
        .toString('latin1'),
      'PNG',
    );
    assert.deepEqual(await shared.ledgerKinds(pending.id), ['charge', 'hold']);
    assert.equal(await shared.balance(acc.id), 100 - gen.tokens_spent);
    assert.equal(images.requests.filter((r) => r.pathname === '/v1/images/generations').length, 1, 'the picture was asked for (and paid for) once');
    assert.deepEqual(await ledgerMismatches(db), []);
  });
});
