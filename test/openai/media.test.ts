// /v1/images/generations and /v1/audio/speech (docs/api.md) through the official openai SDK,
// unchanged: media jobs on the same holds, prices and generation rows as /api/v2/generate, in front
// of fakes speaking OpenAI's and ElevenLabs' wire formats, and the local eSpeak model (no upstream).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startHarness, type Harness } from '../support/harness.js';
import { FAKE_OPENAI_KEY, fakeImage, openAIError, startFakeOpenAIMedia } from '../support/fake-openai-media.js';
import { FAKE_ELEVENLABS_KEY, startFakeElevenLabs } from '../support/fake-elevenlabs.js';
import { fakeBytes, type FakeMediaServer } from '../support/fake-media.js';
import { DEFAULT_VOICE_ID } from '../../src/providers/elevenlabs.js';
import { jobError } from '../../src/openai/media.js';
import { openAIError as v1Error } from '../../src/openai/errors.js';
import { statusOf } from '../../src/http/errors.js';
import type { Generation } from '../../src/db/schema.js';

describe('/v1 media with the openai SDK', () => {
  let h: Harness;
  let openai: FakeMediaServer;
  let eleven: FakeMediaServer;
  let filesDir: string;
  const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${h.url}/v1`, maxRetries: 0 });

  before(async () => {
    openai = await startFakeOpenAIMedia();
    eleven = await startFakeElevenLabs();
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-v1-media-'));
    h = await startHarness({
      env: {
        OPENAI_API_KEY: FAKE_OPENAI_KEY,
        OPENAI_BASE_URL: `${openai.origin}/v1`,
        ELEVENLABS_API_KEY: FAKE_ELEVENLABS_KEY,
        ELEVENLABS_BASE_URL: `${eleven.origin}/v1`,
        LUMENGATE_FILES_DIR: filesDir,
        LUMENGATE_JOB_IDLE_POLL_MS: '50',
        LUMENGATE_JOB_BACKOFF_MS: '10',
        LUMENGATE_JOB_ATTEMPTS: '2',
      },
    });
  });
  after(async () => {
    await h.close();
    await openai.close();
    await eleven.close();
    rmSync(filesDir, { recursive: true, force: true });
  });

  const row = (id: number) => h.server.db.kysely.selectFrom('generations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const pendingOf = async (accountId: number) => (await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', accountId).where('status', '=', 'pending').execute()).length;
  const generationsOf = async (accountId: number) => (await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', accountId).execute()).length;

  /** The SDK's error for a call that must be refused, with nothing held, charged or created. */
  /** `call` starts only after the balance is read: a promise made earlier could reject while nothing awaits it yet. */
  async function refused(accountId: number, call: () => Promise<unknown>, status: number, param: string): Promise<InstanceType<typeof OpenAI.APIError>> {
    const before = await h.balance(accountId);
    const err = await call().then(
      () => assert.fail('the call was not refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.param, param, err.message);
    assert.match(err.message, new RegExp(param));
    assert.equal(await h.balance(accountId), before);
    assert.equal(await generationsOf(accountId), 0, 'refused before any generation row');
    return err;
  }

  it('images.generate b64_json (dall-e-3): the upstream image, charged the matrix price, one generation row', async () => {
    const a = await h.account({ tokens: 50 });
    const { data: res, response } = await client(a.key)
      .images.generate({ model: 'dall-e-3', prompt: 'a red fox', size: '1792x1024', quality: 'hd', style: 'natural', response_format: 'b64_json', user: 'u-1' })
      .withResponse();
    assert.equal(res.data!.length, 1);
    assert.deepEqual(new Uint8Array(Buffer.from(res.data![0]!.b64_json!, 'base64')), fakeImage('a red fox'));
    assert.equal(typeof res.created, 'number');
    const id = Number(response.headers.get('x-generation-id'));
    assert.equal(response.headers.get('x-lumengate-tokens-spent'), '13');
    assert.deepEqual((res as any).lumengate, { generation_id: id, tokens_spent: 13, balance_remaining: 37 });
    assert.equal(await h.balance(a.id), 50 - 13, 'the matrix price of 1792x1024 hd');
    const upstream = openai.requests.at(-1)!;
    assert.equal(upstream.pathname, '/v1/images/generations');
    assert.deepEqual(upstream.json, { model: 'dall-e-3', prompt: 'a red fox', n: 1, size: '1792x1024', quality: 'hd', style: 'natural', response_format: 'b64_json' });
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.deepEqual([g.status, g.model_slug, g.tokens_spent, g.result_metadata.mime_type], ['completed', 'dall-e-3', 13, 'image/png']);
    assert.equal(await pendingOf(a.id), 0);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('images.generate url (gpt-image-1.5): an absolute signed URL on the gateway that serves the bytes', async () => {
    const a = await h.account({ tokens: 50 });
    const res = await client(a.key).images.generate({ model: 'gpt-image-1.5', prompt: 'a lighthouse', size: '1024x1536', quality: 'medium', output_format: 'webp', response_format: 'url' });
    const url = res.data![0]!.url!;
    assert.ok(url.startsWith(`${h.url}/files/`), url);
    assert.equal(res.output_format, 'webp');
    const file = await fetch(url);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/webp');
    assert.deepEqual(new Uint8Array(await file.arrayBuffer()), fakeImage('a lighthouse'));
    // gpt-image gets output_format and no response_format (it refuses one, like the real API).
    assert.deepEqual(openai.requests.at(-1)!.json, { model: 'gpt-image-1.5', prompt: 'a lighthouse', n: 1, size: '1024x1536', quality: 'medium', output_format: 'webp' });
    assert.equal(await h.balance(a.id), 50 - 7);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('audio.speech.create (tts-1 -> openai-tts): the audio bytes with their Content-Type, charged the model price', async () => {
    const a = await h.account({ tokens: 20 });
    const { data: res, response } = await client(a.key).audio.speech.create({ model: 'tts-1', input: 'Hello there', voice: 'nova', response_format: 'opus', speed: 1.5 }).withResponse();
    assert.equal(res.headers.get('content-type'), 'audio/ogg');
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), fakeBytes('AUDIO-opus', 'nova:Hello there'));
    assert.deepEqual(openai.requests.at(-1)!.json, { model: 'tts-1', input: 'Hello there', voice: 'nova', response_format: 'opus', speed: 1.5 });
    const id = Number(response.headers.get('x-generation-id'));
    assert.deepEqual([(await row(id)).model_slug, (await row(id)).status, (await row(id)).tokens_spent], ['openai-tts', 'completed', 3]);
    assert.equal(await h.balance(a.id), 17);
    // gpt-4o-mini-tts takes instructions; the default format is mp3.
    const mini = await client(a.key).audio.speech.create({ model: 'gpt-4o-mini-tts', input: 'Hi', voice: 'coral', instructions: 'Whisper.' });
    assert.equal(mini.headers.get('content-type'), 'audio/mpeg');
    assert.deepEqual(openai.requests.at(-1)!.json, { model: 'gpt-4o-mini-tts', input: 'Hi', voice: 'coral', response_format: 'mp3', instructions: 'Whisper.' });
    assert.equal(await h.balance(a.id), 14);
    // tts-1-hd is openai-tts-hd; `provider/upstream-model` works as on every /v1 route.
    const hd = await client(a.key)
      .audio.speech.create({ model: 'tts-1-hd', input: 'Hd', voice: { id: 'voice_custom_1' }, response_format: 'flac' })
      .withResponse();
    assert.equal(hd.data.headers.get('content-type'), 'audio/flac');
    assert.deepEqual(openai.requests.at(-1)!.json, { model: 'tts-1-hd', input: 'Hd', voice: 'voice_custom_1', response_format: 'flac' });
    assert.equal((await row(Number(hd.response.headers.get('x-generation-id')))).model_slug, 'openai-tts-hd');
    await client(a.key).audio.speech.create({ model: 'openai/tts-1', input: 'x', voice: 'alloy', response_format: 'wav' });
    assert.equal(await h.balance(a.id), 14 - 6 - 3);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('audio.speech.create on the local espeak model: a WAV made on the gateway, no upstream', async () => {
    const a = await h.account({ plan: 'free', tokens: 5 });
    const calls = openai.requests.length + eleven.requests.length;
    const res = await client(a.key).audio.speech.create({ model: 'espeak', input: 'Hello from the gateway', voice: 'alloy' });
    assert.equal(res.headers.get('content-type'), 'audio/wav');
    const wav = Buffer.from(await res.arrayBuffer());
    assert.equal(wav.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(wav.subarray(8, 12).toString('latin1'), 'WAVE');
    assert.ok(wav.length > 1000, `${wav.length} bytes of audio`);
    assert.equal(openai.requests.length + eleven.requests.length, calls);
    assert.equal(await h.balance(a.id), 4);
    // eSpeak makes WAV only: another format is refused, naming the field and the value.
    const err = await client(a.key)
      .audio.speech.create({ model: 'espeak', input: 'x', voice: 'en', response_format: 'mp3' })
      .then(
        () => assert.fail('mp3 from espeak'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    assert.equal(err.status, 400);
    assert.equal(err.param, 'response_format');
    assert.match(err.message, /"mp3"/);
    assert.equal(await h.balance(a.id), 4);
  });

  it('ElevenLabs speech: OpenAI voice names mean its default voice, pcm is pcm_24000, unsupported formats are refused', async () => {
    const a = await h.account({ tokens: 50 });
    const res = await client(a.key).audio.speech.create({ model: 'elevenlabs-flash', input: 'Bonjour', voice: 'alloy', response_format: 'pcm' });
    assert.equal(res.headers.get('content-type'), 'audio/pcm');
    const upstream = eleven.requests.at(-1)!;
    assert.equal(upstream.pathname, `/v1/text-to-speech/${DEFAULT_VOICE_ID}`);
    assert.equal(upstream.query.get('output_format'), 'pcm_24000');
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), fakeBytes('EL-pcm_24000', `${DEFAULT_VOICE_ID}:eleven_flash_v2_5:Bonjour`));
    assert.equal(await h.balance(a.id), 50 - 18);
    const other = await h.account({ tokens: 50 });
    await refused(other.id, () => client(other.key).audio.speech.create({ model: 'elevenlabs-flash', input: 'x', voice: 'alloy', response_format: 'aac' }), 400, 'response_format');
    await refused(other.id, () => client(other.key).audio.speech.create({ model: 'elevenlabs-flash', input: 'x', voice: 'alloy', instructions: 'calm' }), 400, 'instructions');
  });

  it('refused fields name the field; nothing is held or recorded', async () => {
    const a = await h.account({ tokens: 50 });
    const c = client(a.key);
    await refused(a.id, () => c.images.generate({ model: 'dall-e-3', prompt: 'x', n: 2 }), 422, 'n');
    await refused(a.id, () => c.images.generate({ model: 'gpt-image-1.5', prompt: 'x', background: 'transparent' }), 400, 'background');
    await refused(a.id, () => c.images.generate({ model: 'gpt-image-1.5', prompt: 'x', moderation: 'low' }), 400, 'moderation');
    await refused(a.id, () => c.images.generate({ model: 'gpt-image-1.5', prompt: 'x', output_compression: 50 }), 400, 'output_compression');
    await refused(a.id, () => c.images.generate({ model: 'gpt-image-1.5', prompt: 'x', style: 'vivid' }), 400, 'style');
    await refused(a.id, () => c.images.generate({ model: 'dall-e-3', prompt: 'x', output_format: 'webp' }), 400, 'output_format');
    await refused(a.id, () => c.images.generate({ model: 'photon', prompt: 'x', size: '1024x1024' }), 400, 'size');
    await refused(a.id, () => c.images.generate({ model: 'dall-e-3', prompt: 'x', seed: 3 } as any), 400, 'seed');
    await refused(a.id, () => c.images.generate({ model: 'gpt-5', prompt: 'x' }), 400, 'model');
    await refused(a.id, () => c.images.generate({ model: 'dall-e-3', prompt: '  ' }), 400, 'prompt');
    await refused(a.id, () => c.audio.speech.create({ model: 'tts-1', input: 'x', voice: 'alloy', instructions: 'calm' }), 400, 'instructions');
    await refused(a.id, () => c.audio.speech.create({ model: 'tts-1', input: 'x', voice: 'alloy', stream_format: 'sse' }), 400, 'stream_format');
    await refused(a.id, () => c.audio.speech.create({ model: 'tts-1', input: 'x', voice: 'alloy', speed: 9 }), 422, 'speed');
    await refused(a.id, () => c.audio.speech.create({ model: 'tts-1', input: 'x', voice: 'alloy', response_format: 'ogg' as any }), 422, 'response_format');
    await refused(a.id, () => c.audio.speech.create({ model: 'dall-e-3', input: 'x', voice: 'alloy' }), 400, 'model');
    const unknown = await refused(a.id, () => c.images.generate({ model: 'dall-e-4', prompt: 'x' }), 404, 'model');
    assert.match(unknown.message, /did you mean "dall-e-3"/);
  });

  it('a synchronous result the store cannot keep is not made (and paid for) again: one upstream call, failed at 0', async () => {
    const a = await h.account({ tokens: 50 });
    const store = h.server.files.store;
    const put = store.put.bind(store);
    // The result store fails once (S3 down past its SDK's own retries), after the image was made and paid for.
    let failures = 0;
    store.put = (key, body, mediaType) => (failures++ === 0 ? Promise.reject(new Error('S3 unavailable')) : put(key, body, mediaType));
    try {
      const seen = openai.requests.filter((q) => q.pathname === '/v1/images/generations').length;
      const r = await h.post('/api/v2/generate', { model: 'dall-e-3', prompt: 'a lighthouse' }, a.key);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual([r.json.status, r.json.tokens_spent, await h.balance(a.id)], ['failed', 0, 50]);
      assert.match(r.json.error, /S3 unavailable/);
      assert.equal(openai.requests.filter((q) => q.pathname === '/v1/images/generations').length - seen, 1, 'the image was asked for once');
      assert.equal(failures, 1);
    } finally {
      store.put = put;
    }
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a failing upstream: the SDK raises (not retried), balance unchanged, no hold left, the generation failed at 0', async () => {
    const a = await h.account({ tokens: 50 });
    openai.failNext(openAIError(400, 'Your request was rejected as a result of our safety system.', 'invalid_request_error', 'content_policy_violation'));
    const err = await client(a.key)
      .images.generate({ model: 'dall-e-3', prompt: 'forbidden', response_format: 'b64_json' })
      .then(
        () => assert.fail('no error'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.code, 'provider_error');
    assert.equal(err.headers?.get('x-should-retry'), 'false', 'the SDK must not start a second job');
    const id = Number(err.headers?.get('x-generation-id'));
    assert.match(err.message, new RegExp(`generation ${id} failed`));
    assert.deepEqual([(await row(id)).status, (await row(id)).tokens_spent], ['failed', 0]);
    assert.equal(await h.balance(a.id), 50);
    assert.equal(await pendingOf(a.id), 0);

    // A transient upstream failure is retried by the job (2 attempts here), then fails the same way.
    openai.failNext(openAIError(500, 'The server had an error', 'server_error'), openAIError(503, 'overloaded', 'server_error'));
    const seen = openai.requests.length;
    await assert.rejects(client(a.key).audio.speech.create({ model: 'tts-1', input: 'x', voice: 'alloy' }), OpenAI.InternalServerError);
    assert.equal(openai.requests.length - seen, 2);
    assert.equal(await h.balance(a.id), 50);
    assert.equal(await pendingOf(a.id), 0);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('auth, plan and balance are checked as on /api/v2 before anything is held', async () => {
    const poor = await h.account({ tokens: 2 });
    await assert.rejects(client(poor.key).images.generate({ model: 'dall-e-3', prompt: 'x' }), (e: unknown) => e instanceof OpenAI.APIError && e.status === 402);
    const free = await h.account({ plan: 'free', tokens: 50 });
    await assert.rejects(client(free.key).audio.speech.create({ model: 'tts-1', input: 'x', voice: 'alloy' }), OpenAI.PermissionDeniedError);
    await assert.rejects(client('nb_not_a_key').images.generate({ model: 'dall-e-3', prompt: 'x' }), OpenAI.AuthenticationError);
    assert.deepEqual([await h.balance(poor.id), await h.balance(free.id)], [2, 50]);
    assert.equal((await generationsOf(poor.id)) + (await generationsOf(free.id)), 0);
  });

  it('a job still running when the call stops waiting is a 504 naming the generation to poll, never retried', () => {
    const err = jobError({ id: 42, status: 'pending', error: null } as Generation);
    assert.equal(statusOf(err), 504);
    assert.deepEqual(err.headers, { 'x-generation-id': '42', 'x-should-retry': 'false' });
    const body = v1Error(err).error;
    assert.deepEqual([body.code, body.type, body.details.generation_id], ['generation_pending', 'timeout_error', 42]);
    assert.match(body.message, /GET \/api\/v2\/generate\/42/);
  });
});
