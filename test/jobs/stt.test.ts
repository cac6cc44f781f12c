// Input files of media jobs and transcriptions (docs/api.md, "Input files", "Transcriptions"):
// POST /api/v2/stt and POST /v1/audio/transcriptions over HTTP in front of fakes of OpenAI's
// audio/transcriptions and ElevenLabs' speech-to-text (multipart in, their JSON out), the
// official openai SDK unchanged against /v1, the 25 MiB cap on a streamed upload, and data: URLs
// of /api/v2/generate reaching a provider as the job's input file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { startHarness, type Harness } from '../support/harness.js';
import { dirUntil } from '../support/dir-events.js';
import { FAKE_OPENAI_KEY, FAKE_TRANSCRIPT, startFakeOpenAIMedia } from '../support/fake-openai-media.js';
import { FAKE_ELEVENLABS_KEY, FAKE_SCRIBE, startFakeElevenLabs } from '../support/fake-elevenlabs.js';
import { FAKE_GOOGLE_KEY, startFakeGoogleMedia, type FakeGoogleMedia } from '../support/fake-google-media.js';
import type { FakeMediaServer } from '../support/fake-media.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';

const MiB = 1024 * 1024;
/** A few bytes that stand for speech: the fakes echo nothing of them, the tests compare them. */
const speech = (n = 2048) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) % 256));

function form(fields: Record<string, string>, file?: { field: string; name: string; type: string; bytes: Uint8Array }): FormData {
  const f = new FormData();
  if (file) f.append(file.field, new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.type }), file.name);
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

describe('input files, POST /api/v2/stt and /v1/audio/transcriptions', () => {
  let h: Harness;
  let openai: FakeMediaServer;
  let eleven: FakeMediaServer;
  let google: FakeGoogleMedia;
  let replicate: FakeReplicate;
  let filesDir: string;
  let uploadDir: string;
  before(async () => {
    [openai, eleven, google, replicate] = await Promise.all([startFakeOpenAIMedia(), startFakeElevenLabs(), startFakeGoogleMedia(), startFakeReplicate()]);
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-files-'));
    uploadDir = mkdtempSync(join(tmpdir(), 'lumengate-uploads-'));
    h = await startHarness({
      env: {
        OPENAI_API_KEY: FAKE_OPENAI_KEY,
        OPENAI_BASE_URL: `${openai.origin}/v1`,
        ELEVENLABS_API_KEY: FAKE_ELEVENLABS_KEY,
        ELEVENLABS_BASE_URL: `${eleven.origin}/v1`,
        GOOGLE_API_KEY: FAKE_GOOGLE_KEY,
        GOOGLE_BASE_URL: `${google.origin}/v1beta`,
        REPLICATE_API_TOKEN: 'r8_fake_test_token',
        REPLICATE_BASE_URL: replicate.baseUrl,
        LUMA_API_KEY: 'luma-test',
        LUMENGATE_FILES_DIR: filesDir,
        LUMENGATE_UPLOAD_DIR: uploadDir,
        LUMENGATE_JOB_PROVIDER_POLL_MS: '20',
        LUMENGATE_JOB_IDLE_POLL_MS: '50',
        LUMENGATE_JOB_BACKOFF_MS: '10',
        // LUMENGATE_BODY_LIMIT stays at its 1 MiB default: uploads are not bodies parsed in memory.
      },
    });
  });
  after(async () => {
    await h.close();
    await Promise.all([openai.close(), eleven.close(), google.close(), google.storage.close(), replicate.close()]);
    rmSync(filesDir, { recursive: true, force: true });
    rmSync(uploadDir, { recursive: true, force: true });
  });

  const postForm = (path: string, body: FormData, key: string) => h.post(path, body, key);
  const generation = (id: number) => h.server.db.kysely.selectFrom('generations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const generationsOf = (accountId: number) => h.server.db.kysely.selectFrom('generations').selectAll().where('account_id', '=', accountId).execute();
  const ledgerOf = (accountId: number) => h.server.db.kysely.selectFrom('ledger').select(['kind', 'amount']).where('account_id', '=', accountId).execute();
  const transcriptionCalls = () => openai.requests.filter((r) => r.pathname === '/v1/audio/transcriptions');

  it('POST /api/v2/stt: the upload reaches OpenAI as multipart, the answer is the generation with result_text, the file is stored under the generation', async () => {
    const acc = await h.account({ tokens: 10 });
    const audio = speech();
    const seen = transcriptionCalls().length;
    const r = await postForm('/api/v2/stt', form({ language: 'en', prompt: 'Fox names.', temperature: '0.2' }, { field: 'audio', name: 'hello.wav', type: 'audio/wav', bytes: audio }), acc.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.status, r.json.model_slug, r.json.result_text, r.json.tokens_spent, r.json.balance_remaining], ['completed', 'whisper', FAKE_TRANSCRIPT, 2, 8]);
    const byId = await h.get(`/api/v2/generate/${r.json.id}`, acc.key);
    assert.deepEqual({ ...r.json, processing_ms: null }, { ...byId.json, processing_ms: null }, 'the same shape as GET /api/v2/generate/{id}');

    const call = transcriptionCalls()[seen]!;
    const file = call.form!.get('file') as File;
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), audio, 'the uploaded bytes, unchanged');
    assert.deepEqual([file.name, file.type], ['hello.wav', 'audio/wav']);
    assert.deepEqual(
      ['model', 'language', 'prompt', 'temperature', 'response_format'].map((k) => call.form!.get(k)),
      ['whisper-1', 'en', 'Fox names.', '0.2', 'json'],
    );
    assert.deepEqual(readFileSync(join(filesDir, String(r.json.id), 'input.wav')), audio);
    const row = await generation(r.json.id);
    assert.deepEqual(JSON.parse(row.result_json!).input, { key: `${r.json.id}/input.wav`, name: 'input.wav', media_type: 'audio/wav', bytes: audio.length });
    assert.deepEqual(readdirSync(uploadDir), [], 'the temp file is removed');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('POST /api/v2/stt with elevenlabs-scribe: diarize and language reach Scribe; diarize is refused for a model that cannot', async () => {
    const acc = await h.account({ tokens: 10 });
    const r = await postForm(
      '/api/v2/stt',
      form({ model: 'elevenlabs-scribe', diarize: 'true', language: 'en' }, { field: 'audio', name: 'talk.mp3', type: 'audio/mpeg', bytes: speech(999) }),
      acc.key,
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.status, r.json.result_text, r.json.tokens_spent], ['completed', FAKE_SCRIBE.text, 2]);
    const call = eleven.requests.filter((q) => q.pathname === '/v1/speech-to-text').at(-1)!;
    assert.deepEqual(
      ['model_id', 'diarize', 'language_code'].map((k) => call.form!.get(k)),
      ['scribe_v1', 'true', 'en'],
    );
    assert.equal((call.form!.get('file') as File).size, 999);

    const refused = await postForm('/api/v2/stt', form({ model: 'whisper', diarize: 'true' }, { field: 'audio', name: 'a.wav', type: 'audio/wav', bytes: speech() }), acc.key);
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.details.fields[0].path, 'diarize');
    assert.equal(await h.balance(acc.id), 8);
  });

  it('refusals name the field, hold nothing and leave no temp file: bad format, unknown field, no file, wrong model', async () => {
    const acc = await h.account({ tokens: 10 });
    const wav = { field: 'audio', name: 'a.wav', type: 'audio/wav', bytes: speech() };
    const cases: [FormData, number, string][] = [
      [form({}, { field: 'audio', name: 'notes.txt', type: 'text/plain', bytes: speech() }), 400, 'audio'],
      [form({ mood: 'happy' }, wav), 400, 'mood'],
      [form({ model: 'whisper' }, { ...wav, field: 'file' }), 400, 'file'],
      [form({ model: 'whisper' }), 400, 'audio'],
      [form({ model: 'gpt-5-nano' }, wav), 400, 'model'],
      [form({ language: 'english please' }, wav), 422, 'language'],
    ];
    for (const [body, status, field] of cases) {
      const r = await postForm('/api/v2/stt', body, acc.key);
      assert.equal(r.status, status, r.text);
      assert.equal(r.json.details.fields[0].path, field, r.text);
    }
    const unknown = await postForm('/api/v2/stt', form({ model: 'whisperr' }, wav), acc.key);
    assert.deepEqual([unknown.status, unknown.json.error, unknown.json.details.model], [404, 'not_found', 'whisperr']);
    const json = await h.post('/api/v2/stt', { model: 'whisper' }, acc.key);
    assert.equal(json.status, 400);
    assert.equal(json.json.details.fields[0].path, 'audio');
    assert.equal((await h.post('/api/v2/stt', {})).status, 401, 'a key is needed as on /api/v2/generate');
    assert.equal(await h.balance(acc.id), 10);
    assert.deepEqual(await generationsOf(acc.id), []);
    assert.deepEqual(readdirSync(uploadDir), []);
  });

  it('retention deletes a job input file with the outputs, for a completed and for a failed generation', async () => {
    const acc = await h.account({ plan: 'free', tokens: 10 });
    const ok = await postForm('/api/v2/stt', form({}, { field: 'audio', name: 'a.flac', type: 'audio/flac', bytes: speech() }), acc.key);
    assert.equal(ok.json.status, 'completed', ok.text);
    // OpenAI refuses the next one (its real error shape): the generation fails, released, and keeps its input for retention.
    openai.failNext({ status: 400, json: { error: { message: 'Audio file might be corrupted or unsupported', type: 'invalid_request_error', param: 'file', code: 'invalid_value' } } });
    const failed = await postForm('/api/v2/stt', form({}, { field: 'audio', name: 'b.ogg', type: 'audio/ogg', bytes: speech() }), acc.key);
    assert.deepEqual([failed.json.status, failed.json.tokens_spent], ['failed', 0], failed.text);
    assert.match(failed.json.error, /corrupted/);
    const inputs = [join(filesDir, String(ok.json.id), 'input.flac'), join(filesDir, String(failed.json.id), 'input.ogg')];
    for (const p of inputs) assert.ok(statSync(p).size > 0, p);
    const created = Date.parse((await generation(failed.json.id)).created_at);
    await h.server.files.sweep(new Date(created + 8 * 24 * 3600 * 1000)); // free plan: 7 days
    for (const p of inputs) assert.throws(() => statSync(p), /ENOENT/, `${p} deleted`);
    assert.equal(await h.balance(acc.id), 8);
  });

  it("a deleted generation's uploaded input goes at the next sweep, whatever the plan", async () => {
    const acc = await h.account({ plan: 'elite', tokens: 10 });
    const r = await postForm('/api/v2/stt', form({}, { field: 'audio', name: 'secret.wav', type: 'audio/wav', bytes: speech() }), acc.key);
    assert.equal(r.json.status, 'completed', r.text);
    const input = join(filesDir, String(r.json.id), 'input.wav');
    assert.ok(statSync(input).size > 0);
    const del = await fetch(`${h.url}/api/v2/user/history/${r.json.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${acc.key}` } });
    assert.equal(del.status, 204);
    assert.ok((await h.server.files.sweep()) >= 1);
    assert.throws(() => statSync(input), /ENOENT/, 'the uploaded audio is deleted');
  });

  /** Streams a multipart upload of `size` bytes by hand; `pause` runs after `pauseAt` bytes of the file went out. */
  function streamUpload(key: string, size: number, opts: { pauseAt?: number; pause?: () => Promise<void> } = {}): Promise<{ status: number; json: any }> {
    const boundary = '----lumengate-test-boundary';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="audio"; filename="long.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${h.url}/api/v2/stt`,
        { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + size + tail.length } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(256 * 1024, 0x41);
      void (async () => {
        req.write(head);
        let sent = 0;
        while (sent < size) {
          const n = Math.min(chunk.length, size - sent);
          // Backpressure: wait for the socket to drain rather than queueing the whole body in memory.
          if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await new Promise((r) => req.once('drain', r));
          sent += n;
          if (opts.pauseAt !== undefined && sent === opts.pauseAt) await opts.pause!();
        }
        req.end(tail);
      })().catch(reject);
    });
  }

  it('an upload over 25 MiB is 413 naming audio: nothing charged, no hold, no pending generation, temp file removed', async () => {
    const acc = await h.account({ tokens: 10 });
    const r = await streamUpload(acc.key, 25 * MiB + 512 * 1024);
    assert.equal(r.status, 413);
    assert.equal(r.json.error, 'payload_too_large');
    assert.equal(r.json.details.fields[0].path, 'audio');
    assert.equal(await h.balance(acc.id), 10);
    assert.deepEqual(
      (await ledgerOf(acc.id)).filter((l) => l.kind !== 'grant'),
      [],
      'no hold (nor anything else) in the ledger',
    );
    assert.deepEqual(await generationsOf(acc.id), []);
    assert.deepEqual(readdirSync(uploadDir), []);
  });

  it('a client that gives up mid-upload leaves no temp file and no generation', async () => {
    const acc = await h.account({ tokens: 10 });
    const boundary = '----lumengate-abort';
    const req = httpRequest(`${h.url}/api/v2/stt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acc.key}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': 10 * MiB },
    });
    req.on('error', () => {});
    req.write(`--${boundary}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
    req.write(Buffer.alloc(MiB, 0x42));
    // Gives up once the server is writing the upload to disk.
    await dirUntil(uploadDir, () => readdirSync(uploadDir).length > 0, 'a temp file');
    assert.equal(readdirSync(uploadDir).length, 1, 'the upload reached the temp directory');
    req.destroy();
    await dirUntil(uploadDir, () => readdirSync(uploadDir).length === 0, 'the temp file removed');
    assert.deepEqual(readdirSync(uploadDir), []);
    assert.deepEqual(await generationsOf(acc.id), []);
    assert.equal(await h.balance(acc.id), 10);
  });

  it('the upload is streamed: the temp file grows while the request is still being sent', async () => {
    const acc = await h.account({ tokens: 10 });
    const first = 2 * MiB;
    const r = await streamUpload(acc.key, 3 * MiB, {
      pauseAt: first,
      // The rest of the body is not sent until the server has written the first part to disk.
      pause: () => dirUntil(uploadDir, () => readdirSync(uploadDir).some((f) => statSync(join(uploadDir, f)).size >= first - 256 * 1024), 'a temp file grown while the upload was held'),
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.status, 'completed');
    const call = transcriptionCalls().at(-1)!;
    assert.equal((call.form!.get('file') as File).size, 3 * MiB);
    assert.deepEqual(readdirSync(uploadDir), []);
  });

  it('/v1/audio/transcriptions with the official openai SDK, unchanged: whisper-1 maps to whisper; text; refusals in OpenAI error shape', async () => {
    const acc = await h.account({ tokens: 10 });
    const client = new OpenAI({ apiKey: acc.key, baseURL: `${h.url}/v1`, maxRetries: 0 });
    const audio = speech(1500);
    const seen = transcriptionCalls().length;
    const t = await client.audio.transcriptions.create({ file: await toFile(audio, 'speech.mp3', { type: 'audio/mpeg' }), model: 'whisper-1' });
    assert.equal(t.text, FAKE_TRANSCRIPT);
    const call = transcriptionCalls()[seen]!;
    assert.equal(call.form!.get('model'), 'whisper-1');
    assert.deepEqual(Buffer.from(await (call.form!.get('file') as File).arrayBuffer()), audio);
    const rows = await generationsOf(acc.id);
    assert.deepEqual(
      rows.map((g) => [g.model_slug, g.category, g.status, g.tokens_spent]),
      [['whisper', 'stt', 'completed', 2]],
      'the same job, price and row as /api/v2',
    );

    const text = await client.audio.transcriptions.create({ file: await toFile(audio, 'speech.ogg'), model: 'gpt-4o-transcribe', response_format: 'text', language: 'en' });
    assert.equal(text, FAKE_TRANSCRIPT);
    await assert.rejects(client.audio.transcriptions.create({ file: await toFile(audio, 'speech.mp3'), model: 'whisper-1', response_format: 'srt' }), (err: any) => {
      assert.equal(err.status, 400);
      assert.equal(err.error.param, 'response_format');
      return true;
    });
    await assert.rejects(client.audio.transcriptions.create({ file: await toFile(audio, 'speech.mp3'), model: 'whisper-1', timestamp_granularities: ['word'] }), (err: any) => {
      assert.equal(err.status, 400);
      assert.match(err.error.param, /^timestamp_granularities/);
      return true;
    });
    await assert.rejects(client.audio.transcriptions.create({ file: await toFile(audio, 'speech.mp3'), model: 'no-such-model' }), (err: any) => {
      assert.equal(err.status, 404);
      assert.equal(err.error.param, 'model');
      return true;
    });
    const bad = await postForm('/v1/audio/transcriptions', form({ model: 'whisper-1' }, { field: 'file', name: 'x.exe', type: 'application/octet-stream', bytes: speech() }), acc.key);
    assert.equal(bad.status, 400);
    assert.deepEqual([bad.json.error.type, bad.json.error.param], ['invalid_request_error', 'file']);
    assert.equal(await h.balance(acc.id), 6);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('/api/v2/generate: a data: URL in image_url reaches the provider as the job input; an https URL stays an option; other schemes are refused naming the field', async () => {
    const acc = await h.account({ tokens: 1000 });
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), speech(300)]);
    const seen = google.requests.length;
    const r = await h.post('/api/v2/generate', { model: 'veo-3.1', prompt: 'the fox runs', duration: 4, image_url: `data:image/png;base64,${png.toString('base64')}`, wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    await google.until(() => google.requests.slice(seen).some((q) => q.pathname.endsWith(':predictLongRunning')));
    const start = google.requests.slice(seen).find((q) => q.pathname.endsWith(':predictLongRunning'))!;
    assert.deepEqual(start.json.instances[0].image, { bytesBase64Encoded: png.toString('base64'), mimeType: 'image/png' });
    assert.deepEqual(readFileSync(join(filesDir, String(r.json.id), 'input.png')), png);

    // Replicate: an https URL is passed on as given (never fetched by the gateway); a data: URL goes back as a data URL.
    const https = await h.post('/api/v2/generate', { model: 'flux-kontext-pro', prompt: 'make it blue', image_url: 'https://example.com/cat.png' }, acc.key);
    assert.equal(https.json.status, 'completed', https.text);
    assert.equal([...replicate.predictions.values()].at(-1)!.input.input_image, 'https://example.com/cat.png');
    const inline = await h.post('/api/v2/generate', { model: 'flux-kontext-pro', prompt: 'make it blue', params: { image_url: `data:image/png;base64,${png.toString('base64')}` } }, acc.key);
    assert.equal(inline.json.status, 'completed', inline.text);
    assert.equal([...replicate.predictions.values()].at(-1)!.input.input_image, `data:image/png;base64,${png.toString('base64')}`);

    const refusals: [Record<string, unknown>, number][] = [
      [{ model: 'photon', image_url: `data:image/png;base64,${png.toString('base64')}` }, 400],
      [{ image_url: 'http://example.com/a.png' }, 400],
      [{ image_url: 'file:///etc/passwd' }, 400],
      [{ audio_url: 'data:audio/wav;base64,@@@' }, 422],
      [{ image_url: 'data:image/png,not-base64' }, 422],
      [{ image_url: 'data:application/x-sh;base64,AAAA' }, 422],
    ];
    for (const [opts, status] of refusals) {
      const field = Object.keys(opts).find((k) => k !== 'model')!;
      const { model = 'veo-3.1', ...option } = opts;
      // Named where it was sent: at the top level, in params, and params when both give it (params wins).
      for (const [body, path] of [
        [{ model, prompt: 'x', ...option }, field],
        [{ model, prompt: 'x', params: option }, `params.${field}`],
        [{ model, prompt: 'x', [field]: 'https://example.com/a.png', params: option }, `params.${field}`],
      ] as const) {
        const bad = await h.post('/api/v2/generate', body, acc.key);
        assert.equal(bad.status, status, `${JSON.stringify(body).slice(0, 200)}: ${bad.text}`);
        assert.equal(bad.json.details.fields[0].path, path, bad.text);
        if (status === 400) assert.ok(bad.json.message.startsWith(`${path}: `), bad.text);
      }
    }
    assert.equal((await generationsOf(acc.id)).length, 3, 'refusals hold nothing');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('an input file its route would not read (of the wrong kind, or beside the https URL it reads instead) is refused naming the field, before any hold', async () => {
    const acc = await h.account({ plan: 'pro', tokens: 1000 });
    const wav = `data:audio/wav;base64,${speech(64).toString('base64')}`;
    const png = `data:image/png;base64,${Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]).toString('base64')}`;
    // What would start (and charge for) something at each provider, its POSTs: an earlier test's
    // Veo job (submitted with wait: 0) may still be polling Google meanwhile, with GETs.
    const starts = () => [google.requests.filter((q) => q.method === 'POST').length, replicate.creates(), eleven.requests.filter((q) => q.method === 'POST').length];
    const calls = starts();
    for (const [body, path, why] of [
      // Veo's first frame is an image: Google would leave audio out, Replicate send it as the image.
      [{ model: 'veo-3.1', prompt: 'x', audio_url: wav }, 'audio_url', /takes image input files through its google route, not audio\/wav/],
      [{ model: 'flux-kontext-pro', prompt: 'x', params: { audio_url: wav } }, 'params.audio_url', /image input files/],
      // The voice changer reads speech, not a picture.
      [{ model: 'el-voice-changer', audio_url: png }, 'audio_url', /audio or video input files through its elevenlabs route, not image\/png/],
      // An https image_url is what Replicate and Sora send; the input file beside it would be left out.
      [{ model: 'flux-kontext-pro', prompt: 'x', image_url: 'https://example.com/a.png', audio_url: png }, 'audio_url', /reads image_url instead/],
      [{ model: 'sora-2', prompt: 'x', image_url: 'https://example.com/a.png', audio_url: png }, 'audio_url', /reads image_url instead/],
      // A dub's source is video_url, else audio_url, else the input file.
      [{ model: 'el-dubbing', target_lang: 'es', video_url: 'https://example.com/a.mp4', audio_url: wav }, 'audio_url', /reads video_url instead/],
    ] as const) {
      const r = await h.post('/api/v2/generate', body, acc.key);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 120)}: ${r.text}`);
      assert.equal(r.json.details.fields[0].path, path, r.text);
      assert.match(r.json.message, why);
    }
    assert.deepEqual(starts(), calls, 'nothing started at a provider');
    assert.deepEqual([(await generationsOf(acc.id)).length, await h.balance(acc.id)], [0, 1000]);
  });

  it('an audio_url data: URL reaches ElevenLabs voice changer as its audio part', async () => {
    const acc = await h.account({ tokens: 100 });
    const wav = speech(4096);
    const r = await h.post('/api/v2/generate', { model: 'el-voice-changer', audio_url: `data:audio/wav;base64,${wav.toString('base64')}` }, acc.key);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'completed', r.text);
    const call = eleven.requests.filter((q) => q.pathname.startsWith('/v1/speech-to-speech/')).at(-1)!;
    const part = call.form!.get('audio') as File;
    assert.deepEqual([part.type, Buffer.from(await part.arrayBuffer()).equals(wav)], ['audio/wav', true]);
  });
});

describe('a data: URL over the 25 MiB input cap', () => {
  let h: Harness;
  before(async () => {
    // The body limit is raised so that the data URL reaches the gateway's own input cap.
    h = await startHarness({ env: { LUMENGATE_BODY_LIMIT: String(40 * MiB) } });
  });
  after(() => h.close());

  it('is 413 naming the field, with nothing held', async () => {
    const acc = await h.account({ tokens: 100 });
    const big = Buffer.alloc(25 * MiB + 3, 1).toString('base64');
    const r = await h.post('/api/v2/generate', { model: 'el-voice-changer', audio_url: `data:audio/wav;base64,${big}` }, acc.key);
    assert.equal(r.status, 413);
    assert.deepEqual([r.json.error, r.json.details.fields[0].path, r.json.details.max_bytes], ['payload_too_large', 'audio_url', 25 * MiB]);
    const inParams = await h.post('/api/v2/generate', { model: 'el-voice-changer', params: { audio_url: `data:audio/wav;base64,${big}` } }, acc.key);
    assert.equal(inParams.status, 413);
    assert.deepEqual([inParams.json.details.fields[0].path, inParams.json.message.startsWith('params.audio_url: ')], ['params.audio_url', true], inParams.text);
    assert.equal(await h.balance(acc.id), 100);
    assert.equal((await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', acc.id).execute()).length, 0);
  });
});
