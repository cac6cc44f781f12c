// Bounds on what the gateway reads from a media provider (docs/api.md, "Output size"): an output
// file over LUMENGATE_MAX_OUTPUT_BYTES (64 KiB here), read into memory (ElevenLabs speech, an
// OpenAI image in its JSON) or streamed into the store (a Replicate output URL, on the file system
// and on S3; a Sora video, behind the provider's key), and a JSON answer over 16 MiB (a Luma or
// Replicate poll) fail the job at once, naming the limit, nothing charged and nothing stored. The
// fakes stream 64 MiB bodies (never allocated) and see the gateway close the connection before the
// end; another account's job runs on.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { settled, startJobHarness, type Harness } from '../support/harness.js';
import { HugeBody } from '../support/huge-body.js';
import { dirUntil } from '../support/dir-events.js';
import { FAKE_ELEVENLABS_KEY, startFakeElevenLabs } from '../support/fake-elevenlabs.js';
import { FAKE_OPENAI_KEY, startFakeOpenAIMedia } from '../support/fake-openai-media.js';
import { startFakeOpenAIVideos, type FakeOpenAIVideos } from '../support/fake-openai-videos.js';
import { FAKE_LUMA_KEY, startFakeLuma, type FakeLuma } from '../support/fake-luma.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import type { FakeMediaServer } from '../support/fake-media.js';
import { endedJob } from '../support/job-rows.js';
import { S3_ENV, startS3 } from '../storage/support.js';
import { s3Client } from '../../src/storage/s3.js';
import { MAX_JSON_BYTES } from '../../src/providers/body-limit.js';

const CAP = 64 * 1024;
const HUGE = 64 * 1024 * 1024;
const both = [true, false] as const;
const how = (declared: boolean) => (declared ? 'with its Content-Length' : 'chunked, no Content-Length');
/** What the gateway says of a file over `cap`: its size when the provider declared it. */
const overCap = (cap: number, size?: number) =>
  new RegExp(
    `^provider error: the provider's output file is ${size !== undefined ? `${size} bytes, ` : ''}over the gateway's limit of ${cap} bytes per file \\(LUMENGATE_MAX_OUTPUT_BYTES\\): not stored$`,
  );

/** The fake stopped writing because the gateway closed the connection: it never took the whole body. */
async function cutShort(body: HugeBody): Promise<void> {
  await body.over;
  assert.equal(body.finished, false, 'the gateway read the whole body');
  assert.ok(body.sent < body.size, `${body.sent} of ${body.size} bytes sent`);
}

/** A failed job, released: nothing charged, no result, tried once (the provider would answer as much again). */
async function failedUncharged(h: Harness, id: number, acc: { id: number; key: string }, balance: number): Promise<any> {
  const done = await settled(h, id, acc.key);
  assert.deepEqual([done.status, done.tokens_spent, done.result_url, await h.balance(acc.id)], ['failed', 0, null, balance], JSON.stringify(done));
  assert.equal((await endedJob(h.server.db, id)).attempts, 1);
  assert.deepEqual(await h.ledgerMismatches(), []);
  return done;
}

describe('output size cap: files read into memory, JSON answers', () => {
  let h: Harness;
  let eleven: FakeMediaServer;
  let openai: FakeMediaServer;
  let luma: FakeLuma;
  let replicate: FakeReplicate;
  let filesDir: string;
  before(async () => {
    [eleven, openai, luma, replicate] = await Promise.all([startFakeElevenLabs(), startFakeOpenAIMedia(), startFakeLuma(), startFakeReplicate()]);
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-files-'));
    h = await startJobHarness({
      ELEVENLABS_API_KEY: FAKE_ELEVENLABS_KEY,
      ELEVENLABS_BASE_URL: `${eleven.origin}/v1`,
      OPENAI_API_KEY: FAKE_OPENAI_KEY,
      OPENAI_BASE_URL: `${openai.origin}/v1`,
      LUMA_API_KEY: FAKE_LUMA_KEY,
      LUMA_BASE_URL: `${luma.origin}/dream-machine/v1`,
      REPLICATE_API_TOKEN: 'r8_fake_test_token',
      REPLICATE_BASE_URL: replicate.baseUrl,
      LUMENGATE_FILES_DIR: filesDir,
      LUMENGATE_MAX_OUTPUT_BYTES: String(CAP),
    });
  });
  after(async () => {
    await h.close();
    await Promise.all([eleven.close(), openai.close(), luma.close(), replicate.close()]);
    rmSync(filesDir, { recursive: true, force: true });
  });

  const nothingStored = (id: number) => assert.equal(existsSync(join(filesDir, String(id))), false, `files of generation ${id}`);

  for (const declared of both) {
    it(`ElevenLabs speech over the cap (${how(declared)}): failed naming the cap, cut short, nothing stored or charged; another account's speech completes`, async () => {
      const acc = await h.account({ tokens: 100 });
      const body = new HugeBody(HUGE, declared);
      eleven.failNext({ headers: { 'content-type': 'audio/mpeg' }, huge: body });
      const r = await h.post('/api/v2/generate', { model: 'elevenlabs-flash', prompt: 'Hello', wait: 0 }, acc.key);
      assert.equal(r.status, 200, r.text);
      const done = await failedUncharged(h, r.json.id, acc, 100);
      assert.match(done.error, overCap(CAP, declared ? HUGE : undefined));
      await cutShort(body);
      nothingStored(r.json.id);

      const other = await h.account({ tokens: 100 });
      const ok = await h.post('/api/v2/generate', { model: 'elevenlabs-flash', prompt: 'Hello' }, other.key);
      assert.deepEqual([ok.json.status, ok.json.tokens_spent, await h.balance(other.id)], ['completed', 18, 82], ok.text);
    });
  }

  it("an OpenAI image over the cap once decoded from its JSON's b64_json: failed naming the cap and the size, nothing stored or charged", async () => {
    const acc = await h.account({ tokens: 100 });
    openai.failNext({ json: { created: 1713833628, data: [{ b64_json: Buffer.alloc(CAP + 1, 7).toString('base64'), revised_prompt: 'a fox' }] } });
    const r = await h.post('/api/v2/generate', { model: 'dall-e-3', prompt: 'a fox', wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    const done = await failedUncharged(h, r.json.id, acc, 100);
    assert.match(done.error, overCap(CAP, CAP + 1));
    nothingStored(r.json.id);
  });

  it(`a Luma poll answer over ${MAX_JSON_BYTES} bytes (chunked): failed naming the JSON limit, cut short, not polled again, nothing charged`, async () => {
    const acc = await h.account({ tokens: 100 });
    const body = new HugeBody(HUGE, false, '{"id":"0b1e7d1c","state":"dreaming","assets":null,"failure_reason":"');
    luma.pollBody = body;
    const r = await h.post('/api/v2/generate', { model: 'photon', prompt: 'a fox', wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    const done = await failedUncharged(h, r.json.id, acc, 100);
    assert.equal(done.error, `provider error: the provider's answer is over the gateway's limit of ${MAX_JSON_BYTES} bytes for a JSON answer: not read`);
    await cutShort(body);
    // Read once; the gateway gave up on it, so it is deleted at Luma (as any job given up on, docs/api.md).
    await luma.until(() => luma.requests.some((q) => q.method === 'DELETE'));
    assert.deepEqual(
      luma.requests.map((q) => q.method),
      ['POST', 'GET', 'DELETE'],
    );
  });

  it(`a Replicate poll answer over ${MAX_JSON_BYTES} bytes (with its Content-Length): refused unread, failed naming the JSON limit, nothing charged`, async () => {
    const acc = await h.account({ tokens: 100 });
    const body = new HugeBody(HUGE, true, '{"id":"x","status":"processing","logs":"');
    replicate.queue.push({ polls: 5, pollBody: body });
    const r = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'a fox', wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    const done = await failedUncharged(h, r.json.id, acc, 100);
    assert.equal(done.error, `provider error: the provider's answer is ${HUGE} bytes, over the gateway's limit of ${MAX_JSON_BYTES} bytes for a JSON answer: not read`);
    await cutShort(body);
  });
});

// A Replicate output URL is streamed into the store: on S3 with a cap above one multipart part
// (8 MiB), so that the upload has begun when the cap stops it.
for (const store of ['files', 's3'] as const) {
  const cap = store === 's3' ? 9 * 1024 * 1024 : CAP;
  describe(`output size cap: a Replicate output URL streamed into the store (${store === 's3' ? 'S3' : 'file system'})`, () => {
    const BUCKET = 'lumengate-caps';
    let h: Harness;
    let replicate: FakeReplicate;
    let dir: string;
    let s3: Awaited<ReturnType<typeof startS3>> | undefined;
    let env: Record<string, string>;
    before(async () => {
      replicate = await startFakeReplicate();
      dir = mkdtempSync(join(tmpdir(), 'lumengate-caps-'));
      if (store === 's3') s3 = await startS3(dir, BUCKET);
      env = s3 ? S3_ENV(s3.endpoint, `s3://${BUCKET}/results`) : { LUMENGATE_FILES_DIR: dir };
      h = await startJobHarness({ REPLICATE_API_TOKEN: 'r8_fake_test_token', REPLICATE_BASE_URL: replicate.baseUrl, LUMENGATE_MAX_OUTPUT_BYTES: String(cap), ...env });
    });
    after(async () => {
      await h.close();
      await replicate.close();
      await s3?.close();
      rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => {
      replicate.queue.length = 0;
    });

    /** Whether the store holds anything of generation `id` (looked at past the gateway). */
    const holds = async (id: number): Promise<boolean> => {
      if (!s3) return existsSync(join(dir, String(id))) && readdirSync(join(dir, String(id))).length > 0;
      try {
        await s3Client(env).send(new HeadObjectCommand({ Bucket: BUCKET, Key: `results/${id}/output.webp` }));
        return true;
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
        throw err;
      }
    };

    for (const declared of both) {
      it(`an output file over the cap (${how(declared)}): ${declared ? 'refused before reading' : 'the partial file deleted'}, failed naming the cap, downloaded once, nothing charged; another account's job completes`, async () => {
        const acc = await h.account({ tokens: 100 });
        const body = new HugeBody(HUGE, declared);
        replicate.queue.push({ polls: 1, fileBody: body });
        const r = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'a fox', wait: 0 }, acc.key);
        assert.equal(r.status, 200, r.text);
        const done = await failedUncharged(h, r.json.id, acc, 100);
        assert.match(done.error, overCap(cap, declared ? HUGE : undefined));
        await cutShort(body);
        assert.equal(await holds(r.json.id), false, 'nothing of it is left in the store');
        assert.equal([...replicate.predictions.values()].at(-1)!.downloads, 1);

        const other = await h.account({ tokens: 100 });
        replicate.queue.push({ polls: 1 });
        const ok = await h.post('/api/v2/generate', { model: 'flux-1.1-pro', prompt: 'a fox' }, other.key);
        assert.deepEqual([ok.json.status, ok.json.tokens_spent, await h.balance(other.id)], ['completed', 4, 96], ok.text);
        assert.equal(await holds(ok.json.id), true);
      });
    }
  });
}

describe('output size cap: a Sora video read as it is stored', () => {
  let h: Harness;
  let sora: FakeOpenAIVideos;
  let filesDir: string;
  before(async () => {
    sora = await startFakeOpenAIVideos();
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-files-'));
    h = await startJobHarness({
      OPENAI_API_KEY: FAKE_OPENAI_KEY,
      OPENAI_BASE_URL: sora.baseUrl,
      LUMENGATE_FILES_DIR: filesDir,
      LUMENGATE_MAX_OUTPUT_BYTES: String(CAP),
      LUMENGATE_JOB_PROVIDER_POLL_MS: '20',
    });
  });
  after(async () => {
    await h.close();
    await sora.close();
    rmSync(filesDir, { recursive: true, force: true });
  });

  it('a video is written to the store as it arrives, not read whole first', async () => {
    const acc = await h.account({ plan: 'elite', tokens: 1000 });
    const first = Buffer.alloc(32 * 1024, 'v');
    const rest = Buffer.alloc(16 * 1024, 'w');
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    // The provider sends the first 32 KiB, then holds the rest until the test has seen them stored.
    sora.queue.push({
      content: {
        async write(res, status, headers) {
          res.writeHead(status, headers);
          res.write(first);
          await released;
          res.end(rest);
        },
      },
    });
    const r = await h.post('/api/v2/generate', { model: 'sora-2', prompt: 'a fox', duration: 4, wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    const dir = join(filesDir, String(r.json.id));
    const file = join(dir, 'output.mp4');
    await dirUntil(filesDir, () => existsSync(dir), `directory ${r.json.id}`);
    await dirUntil(dir, () => existsSync(file) && statSync(file).size >= first.length, 'the first 32 KiB stored while the rest is held');
    release();
    const done = await settled(h, r.json.id, acc.key);
    assert.deepEqual([done.status, done.result_metadata?.bytes], ['completed', first.length + rest.length], JSON.stringify(done));
    assert.deepEqual(readFileSync(file), Buffer.concat([first, rest]));
  });

  for (const declared of both) {
    it(`a video over the cap (${how(declared)}): ${declared ? 'refused before reading' : 'the partial file deleted'}, failed naming the cap, nothing charged; the next video is stored whole`, async () => {
      const acc = await h.account({ plan: 'elite', tokens: 1000 });
      const body = new HugeBody(HUGE, declared);
      sora.queue.push({ content: body });
      const r = await h.post('/api/v2/generate', { model: 'sora-2', prompt: 'a fox', duration: 4, wait: 0 }, acc.key);
      assert.equal(r.status, 200, r.text);
      const done = await failedUncharged(h, r.json.id, acc, 1000);
      assert.match(done.error, overCap(CAP, declared ? HUGE : undefined));
      await cutShort(body);
      assert.equal(existsSync(join(filesDir, String(r.json.id))) && readdirSync(join(filesDir, String(r.json.id))).length > 0, false, 'nothing of it is left in the store');

      const ok = await h.post('/api/v2/generate', { model: 'sora-2', prompt: 'a fox', duration: 4, wait: 120 }, acc.key);
      assert.equal(ok.json.status, 'completed', ok.text);
      const v = [...sora.videos.values()].at(-1)!;
      assert.deepEqual(new Uint8Array(await (await fetch(new URL(ok.json.result_url, h.url))).arrayBuffer()), new Uint8Array(sora.bytes(v.id)));
    });
  }
});
