// Every non-text catalog model is routed or says why not (docs/api.md), and each new provider path
// runs end to end over HTTP: Sora 2 (OpenAI Videos, an async job), the Replicate image tools and
// MiniMax TTS, ElevenLabs dialogue and dubbing (an async job). Fakes speak each wire format; the
// tests wait on the fakes' requests and the generation's state, never on time.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { settled, startHarness, type Harness } from '../support/harness.js';
import { startFakeReplicate, type FakeReplicate } from '../support/fake-replicate.js';
import { startFakeOpenAIVideos, type FakeOpenAIVideos } from '../support/fake-openai-videos.js';
import { startFakeElevenLabsTools, type FakeElevenLabsTools } from '../support/fake-elevenlabs-tools.js';
import { FAKE_OPENAI_KEY } from '../support/fake-openai-media.js';
import { FAKE_ELEVENLABS_KEY } from '../support/fake-elevenlabs.js';

const KEYS = ['OPENAI_API_KEY', 'REPLICATE_API_KEY', 'REPLICATE_API_TOKEN', 'ELEVENLABS_API_KEY', 'LUMA_API_KEY', 'GOOGLE_API_KEY'];

describe('tool and media routes', () => {
  let h: Harness;
  let replicate: FakeReplicate;
  let sora: FakeOpenAIVideos;
  let eleven: FakeElevenLabsTools;
  let filesDir: string;
  before(async () => {
    replicate = await startFakeReplicate();
    sora = await startFakeOpenAIVideos();
    eleven = await startFakeElevenLabsTools();
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-files-'));
    h = await startHarness({
      env: {
        REPLICATE_API_TOKEN: 'r8_fake_test_token',
        REPLICATE_BASE_URL: replicate.baseUrl,
        OPENAI_API_KEY: FAKE_OPENAI_KEY,
        OPENAI_BASE_URL: sora.baseUrl,
        ELEVENLABS_API_KEY: FAKE_ELEVENLABS_KEY,
        ELEVENLABS_BASE_URL: eleven.baseUrl,
        LUMA_API_KEY: 'luma-test',
        GOOGLE_API_KEY: 'google-test',
        LUMENGATE_FILES_DIR: filesDir,
        LUMENGATE_JOB_PROVIDER_POLL_MS: '20',
        LUMENGATE_JOB_IDLE_POLL_MS: '50',
        LUMENGATE_JOB_BACKOFF_MS: '10',
      },
    });
  });
  after(async () => {
    await h.close();
    await Promise.all([replicate.close(), sora.close(), eleven.close()]);
    rmSync(filesDir, { recursive: true, force: true });
  });

  /** The stored result, fetched from the gateway's signed result_url. */
  const resultBytes = async (g: any) => Buffer.from(await (await fetch(g.result_url)).arrayBuffer());

  it('sora-2: queued -> in_progress -> completed; the MP4 is stored and exactly the per-second price is charged', async () => {
    const acc = await h.account({ tokens: 200 });
    sora.queue.push({ hold: true });
    const seen = sora.videos.size;
    const r = await h.post('/api/v2/generate', { model: 'sora-2', prompt: 'a paper boat on a stream', duration: 8, aspect_ratio: '16:9' }, acc.key);
    assert.equal(r.status, 200, r.text);
    // 8 s × 10.4 = 83.2 -> 84 held; the job answers pending at once (video: wait 0).
    assert.deepEqual([r.json.status, r.json.balance_remaining], ['pending', 116]);
    await sora.until(() => sora.videos.size === seen + 1);
    const v = [...sora.videos.values()].at(-1)!;
    assert.deepEqual(v.form, { model: 'sora-2', prompt: 'a paper boat on a stream', seconds: '8', size: '1280x720' });
    // The video id is stored the moment OpenAI answers, before the video is done.
    await sora.until(() => v.looks >= 1);
    const job = await h.server.db.kysely.selectFrom('jobs').selectAll().where('generation_id', '=', r.json.id).executeTakeFirstOrThrow();
    assert.equal(job.provider_job_id, v.id);
    assert.equal(v.status, 'in_progress');
    sora.release();
    const done = await settled(h, r.json.id, acc.key);
    assert.deepEqual([done.status, done.tokens_spent, await h.balance(acc.id)], ['completed', 84, 116]);
    assert.deepEqual(await resultBytes(done), Buffer.from(sora.bytes(v.id)));
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('sora-2: a data: URL first frame is stored as the job input and sent as the input_reference file', async () => {
    const acc = await h.account({ tokens: 200 });
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const seen = sora.videos.size;
    const r = await h.post('/api/v2/generate', { model: 'sora-2', prompt: 'the boat sails on', duration: 4, image_url: `data:image/png;base64,${png.toString('base64')}` }, acc.key);
    assert.equal(r.status, 200, r.text);
    await sora.until(() => sora.videos.size === seen + 1);
    const v = [...sora.videos.values()].at(-1)!;
    assert.equal(v.form.input_reference, `file:image/png:${png.length}`);
    assert.equal(v.form['input_reference[image_url]'], undefined);
    const done = await settled(h, r.json.id, acc.key);
    assert.equal(done.status, 'completed');
  });

  it('sora-2: a failed video fails the generation at once and charges nothing', async () => {
    const acc = await h.account({ tokens: 200 });
    sora.queue.push({ ending: 'failed' });
    const r = await h.post('/api/v2/generate', { model: 'sora-2', prompt: 'something blocked' }, acc.key);
    const done = await settled(h, r.json.id, acc.key);
    assert.equal(done.status, 'failed');
    assert.match(done.error, /blocked by our moderation/);
    assert.deepEqual([done.tokens_spent, await h.balance(acc.id)], [0, 200]);
  });

  it('upscale: image_url goes to Real-ESRGAN as `image` by version; the upscaled file is stored and 1 token charged', async () => {
    const acc = await h.account({ tokens: 10 });
    replicate.queue.push({ polls: 1, ext: 'png' });
    const r = await h.post('/api/v2/generate', { model: 'upscale', image_url: 'https://example.com/cat.jpg', params: { scale: 2 } }, acc.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.status, r.json.tokens_spent, await h.balance(acc.id)], ['completed', 1, 9]);
    const create = replicate.calls.filter((c) => c.method === 'POST' && c.path === '/v1/predictions').at(-1)!;
    assert.deepEqual(create.body, { version: 'f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa', input: { image: 'https://example.com/cat.jpg', scale: 2 } });
    assert.match(String(create.headers.prefer), /^wait=\d+$/);
    const p = [...replicate.predictions.values()].at(-1)!;
    assert.deepEqual(await resultBytes(r.json), replicate.fileBytes(p.id, 0));
  });

  it('text-ocr answers the text in result_text; face-swap sends both images', async () => {
    const acc = await h.account({ tokens: 10 });
    replicate.queue.push({ text: 'INVOICE 42\nTotal: 10 EUR' });
    const ocr = await h.post('/api/v2/generate', { model: 'text-ocr', image_url: 'data:image/png;base64,iVBORw0KGgo=' }, acc.key);
    assert.deepEqual([ocr.json.status, ocr.json.result_text, ocr.json.tokens_spent], ['completed', 'INVOICE 42\nTotal: 10 EUR', 1]);
    assert.deepEqual([...replicate.predictions.values()].at(-1)!.input, { image: 'data:image/png;base64,iVBORw0KGgo=' });
    const swap = await h.post('/api/v2/generate', { model: 'face-swap', image_url: 'https://example.com/a.jpg', swap_image_url: 'https://example.com/b.jpg' }, acc.key);
    assert.equal(swap.json.status, 'completed');
    assert.deepEqual([...replicate.predictions.values()].at(-1)!.input, { input_image: 'https://example.com/a.jpg', swap_image: 'https://example.com/b.jpg' });
  });

  it('a tool without its required input is refused naming the field, before any hold', async () => {
    const acc = await h.account({ tokens: 10 });
    const creates = replicate.creates();
    const missing = await h.post('/api/v2/generate', { model: 'remove-bg' }, acc.key);
    assert.equal(missing.status, 400, missing.text);
    assert.equal(missing.json.details.fields[0].path, 'image_url');
    const noMask = await h.post('/api/v2/generate', { model: 'inpaint', prompt: 'a hat', image_url: 'https://example.com/a.jpg' }, acc.key);
    assert.equal(noMask.status, 400);
    assert.equal(noMask.json.details.fields[0].path, 'mask_url');
    const plainHttp = await h.post('/api/v2/generate', { model: 'colorize', image_url: 'http://example.com/a.jpg' }, acc.key);
    assert.equal(plainHttp.status, 422);
    assert.equal(plainHttp.json.details.fields[0].path, 'image_url');
    // Sent in params, it is named there; params wins on a clash.
    for (const body of [{ params: { image_url: 'http://example.com/a.jpg' } }, { image_url: 'https://example.com/a.jpg', params: { image_url: 'http://example.com/a.jpg' } }]) {
      const inParams = await h.post('/api/v2/generate', { model: 'colorize', ...body }, acc.key);
      assert.equal(inParams.status, 422, inParams.text);
      assert.equal(inParams.json.details.fields[0].path, 'params.image_url');
    }
    const noLang = await h.post('/api/v2/generate', { model: 'el-dubbing', audio_url: 'https://example.com/a.mp3' }, acc.key);
    assert.equal(noLang.status, 400);
    assert.equal(noLang.json.details.fields[0].path, 'target_lang');
    assert.equal(replicate.creates(), creates);
    assert.equal(await h.balance(acc.id), 10);
    const rows = await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', acc.id).execute();
    assert.equal(rows.length, 0);
  });

  it('an option of a type its provider module cannot read is 422 naming it where it was sent, before any hold; values it reads as they are sent go through', async () => {
    const acc = await h.account({ tokens: 10 });
    const creates = replicate.creates();
    // Each of these the module would read as absent (num, bool, str in src/providers/media-http.ts) and the job would run without.
    for (const [model, body, path] of [
      ['upscale', { image_url: 'https://example.com/a.jpg', face_enhance: 'yes' }, 'face_enhance'],
      ['upscale', { image_url: 'https://example.com/a.jpg', params: { scale: 'four' } }, 'params.scale'],
      ['colorize', { image_url: 'https://example.com/a.jpg', model_size: true }, 'model_size'],
      ['minimax-tts', { text: 'Hi', emotion: ['happy'] }, 'emotion'],
      ['face-swap', { image_url: 'https://example.com/a.jpg', swap_image_url: { url: 'https://example.com/b.jpg' } }, 'swap_image_url'],
      ['el-dialogue', { prompt: 'Anna: hi', params: { voices: 'Anna=voice-anna' } }, 'params.voices'],
    ] as const) {
      const r = await h.post('/api/v2/generate', { model, ...body }, acc.key);
      assert.equal(r.status, 422, `${model} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.details.fields[0].path, path, r.text);
    }
    assert.equal(replicate.creates(), creates);
    assert.equal(await h.balance(acc.id), 10);
    assert.equal((await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', acc.id).execute()).length, 0);
    // The forms the modules do read: a boolean as "true", a number as a numeric string.
    replicate.queue.push({ polls: 0, ext: 'png' });
    const ok = await h.post('/api/v2/generate', { model: 'upscale', image_url: 'https://example.com/a.jpg', face_enhance: 'true', scale: '2' }, acc.key);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual([...replicate.predictions.values()].at(-1)!.input, { image: 'https://example.com/a.jpg', scale: 2, face_enhance: true });
  });

  it('minimax-tts: the text and voice go to MiniMax Speech-02 HD on Replicate; the audio is stored', async () => {
    const acc = await h.account({ tokens: 10 });
    replicate.queue.push({ ext: 'mp3' });
    const r = await h.post('/api/v2/generate', { model: 'minimax-tts', text: 'Hello there', voice_id: 'Deep_Voice_Man', speed: 1.2 }, acc.key);
    assert.deepEqual([r.json.status, r.json.tokens_spent], ['completed', 1]);
    const create = replicate.calls.filter((c) => c.method === 'POST').at(-1)!;
    assert.equal(create.path, '/v1/models/minimax/speech-02-hd/predictions');
    assert.deepEqual(create.body, { input: { text: 'Hello there', voice_id: 'Deep_Voice_Man', speed: 1.2 } });
    assert.equal(
      JSON.parse((await h.server.db.kysely.selectFrom('generations').select('result_json').where('id', '=', r.json.id).executeTakeFirstOrThrow()).result_json!).files[0].media_type,
      'audio/mpeg',
    );
  });

  it('el-dialogue: "Speaker: line" prompt lines become ElevenLabs inputs; the audio is stored and 15 tokens charged', async () => {
    const acc = await h.account({ tokens: 20 });
    const r = await h.post('/api/v2/generate', { model: 'el-dialogue', prompt: 'Anna: Hi!\nJBFqnCBsd6RMkjVDRZzb: Hello, Anna.', params: { voices: { Anna: '21m00Tcm4TlvDq8ikWAM' } } }, acc.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.status, r.json.tokens_spent, await h.balance(acc.id)], ['completed', 15, 5]);
    const call = eleven.server.requests.filter((q) => q.pathname === '/v1/text-to-dialogue').at(-1)!;
    assert.equal(call.path, '/v1/text-to-dialogue?output_format=mp3_44100_128');
    assert.deepEqual(call.json, {
      inputs: [
        { text: 'Hi!', voice_id: '21m00Tcm4TlvDq8ikWAM' },
        { text: 'Hello, Anna.', voice_id: 'JBFqnCBsd6RMkjVDRZzb' },
      ],
      model_id: 'eleven_v3',
    });
    assert.equal((await resultBytes(r.json)).toString(), 'EL-dialogue-mp3_44100_128:21m00Tcm4TlvDq8ikWAM>Hi!|JBFqnCBsd6RMkjVDRZzb>Hello, Anna.');
  });

  it('text to be spoken counts against the prompt limit wherever it is sent: a `text` beside the prompt, el-dialogue `inputs`; 422 naming it, nothing held', async () => {
    const acc = await h.account({ tokens: 50 });
    const creates = replicate.creates();
    const dialogues = eleven.server.requests.length;
    const long = 'a'.repeat(10_001); // the media prompt limit is 10,000 characters (src/generation/limits.ts)
    assert.equal((await h.post('/api/v2/generate', { model: 'minimax-tts', text: long }, acc.key)).status, 422, 'the text alone, as the prompt');
    for (const [model, body, path] of [
      ['minimax-tts', { prompt: 'hi', text: long }, 'text'],
      ['minimax-tts', { prompt: 'hi', params: { text: long } }, 'params.text'],
      [
        'el-dialogue',
        {
          params: {
            inputs: [
              { text: 'Hello', voice_id: 'voice-1' },
              { text: long, voice_id: 'voice-2' },
            ],
          },
        },
        'params.inputs',
      ],
      ['el-dialogue', { inputs: Array.from({ length: 3 }, () => ({ text: 'b'.repeat(4_000), voice_id: 'voice-1' })) }, 'inputs'],
    ] as const) {
      const r = await h.post('/api/v2/generate', { model, ...body }, acc.key);
      assert.equal(r.status, 422, `${model} ${path}: ${r.text.slice(0, 300)}`);
      assert.equal(r.json.details.fields[0].path, path, r.text.slice(0, 300));
    }
    assert.deepEqual([replicate.creates(), eleven.server.requests.length, await h.balance(acc.id)], [creates, dialogues, 50]);
    assert.equal((await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', acc.id).execute()).length, 0);
  });

  it('two options of which the model reads only one are refused naming the one it would drop, before any hold', async () => {
    const acc = await h.account({ tokens: 50 });
    const creates = replicate.creates();
    const seen = eleven.server.requests.length;
    for (const [model, body, path] of [
      // MiniMax speaks `text`, else the prompt.
      ['minimax-tts', { prompt: 'Say this', text: 'No, this' }, 'prompt'],
      // el-dialogue's inputs replace its prompt lines and the voices they map.
      ['el-dialogue', { prompt: 'Anna: hi', params: { inputs: [{ text: 'Hello', voice_id: 'voice-1' }] } }, 'prompt'],
      ['el-dialogue', { inputs: [{ text: 'Hello', voice_id: 'voice-1' }], params: { voices: { Anna: 'voice-anna' } } }, 'params.voices'],
      // A dub takes one source: video_url, else audio_url.
      ['el-dubbing', { target_lang: 'es', video_url: 'https://example.com/a.mp4', audio_url: 'https://example.com/a.mp3' }, 'audio_url'],
    ] as const) {
      const r = await h.post('/api/v2/generate', { model, ...body }, acc.key);
      assert.equal(r.status, 400, `${model}: ${r.text}`);
      assert.equal(r.json.details.fields[0].path, path, r.text);
    }
    assert.deepEqual([replicate.creates(), eleven.server.requests.length, await h.balance(acc.id)], [creates, seen, 50]);
    // One of them alone goes through: MiniMax's text sent as `text` is its prompt.
    replicate.queue.push({ ext: 'mp3' });
    const one = await h.post('/api/v2/generate', { model: 'minimax-tts', text: 'Only this' }, acc.key);
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(replicate.calls.filter((c) => c.method === 'POST').at(-1)!.body, { input: { text: 'Only this' } });
  });

  it('el-dubbing: dubbing -> dubbed; the dubbing id is stored at once; charged the seconds dubbed', async () => {
    const acc = await h.account({ tokens: 200 });
    eleven.next = { hold: true, sourceSeconds: 75 };
    const seen = eleven.dubs.size;
    const r = await h.post('/api/v2/generate', { model: 'el-dubbing', video_url: 'https://example.com/talk.mp4', target_lang: 'es', duration: 90, wait: 0 }, acc.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.status, await h.balance(acc.id)], ['pending', 110]);
    await eleven.until(() => eleven.dubs.size === seen + 1);
    const d = [...eleven.dubs.values()].at(-1)!;
    assert.deepEqual(d.form, { source_url: 'https://example.com/talk.mp4', target_lang: 'es', source_lang: 'auto', end_time: '90' });
    await eleven.until(() => d.looks >= 1);
    const job = await h.server.db.kysely.selectFrom('jobs').selectAll().where('generation_id', '=', r.json.id).executeTakeFirstOrThrow();
    assert.equal(job.provider_job_id, d.id);
    eleven.release();
    const done = await settled(h, r.json.id, acc.key);
    // 90 s held; the source is 75 s long, so 75 are dubbed and charged (1 token a second).
    assert.deepEqual([done.status, done.tokens_spent, await h.balance(acc.id)], ['completed', 75, 125]);
    assert.deepEqual(await resultBytes(done), Buffer.from(eleven.dubBytes(d.id, 'es')));
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('el-dubbing: a failed dub charges nothing', async () => {
    const acc = await h.account({ tokens: 200 });
    eleven.next = { fail: true };
    const r = await h.post('/api/v2/generate', { model: 'el-dubbing', audio_url: 'https://example.com/a.mp3', target_lang: 'de', wait: 0 }, acc.key);
    const done = await settled(h, r.json.id, acc.key);
    assert.deepEqual([done.status, done.tokens_spent, await h.balance(acc.id)], ['failed', 0, 200]);
    assert.match(done.error, /no speech/);
  });

  it('/api/v2/models: every non-text model is available with its provider keys set, or says why not', async () => {
    const { models } = (await h.get('/api/v2/models')).json;
    const media = models.filter((m: any) => m.category !== 'text' && m.category !== 'embedding');
    assert.ok(media.length >= 40, `${media.length} media models`);
    for (const m of media) {
      if (m.available) continue;
      assert.ok(typeof m.unavailable_reason === 'string' && m.unavailable_reason.length > 0, `${m.slug} is unavailable without a reason`);
      assert.doesNotMatch(m.unavailable_reason, /API_KEY/, `${m.slug}: its provider key is set, yet: ${m.unavailable_reason}`);
    }
    assert.deepEqual(
      media.filter((m: any) => !m.available).map((m: any) => m.slug),
      ['midjourney', 'midjourney-video'],
    );
    assert.deepEqual(media.find((m: any) => m.slug === 'face-swap').config, { required_options: ['image_url', 'swap_image_url'], prompt_optional: true });
  });
});

describe('model availability without provider keys', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ env: Object.fromEntries(KEYS.map((k) => [k, ''])) });
  });
  after(() => h.close());

  it('each non-text model names the env var that enables it (or the catalog says why it cannot be served)', async () => {
    const { models } = (await h.get('/api/v2/models')).json;
    const media = models.filter((m: any) => m.category !== 'text' && m.category !== 'embedding');
    for (const m of media) {
      if (m.slug === 'espeak') {
        assert.equal(m.available, true, 'eSpeak runs in-process and needs no key');
        continue;
      }
      assert.equal(m.available, false, m.slug);
      if (m.slug.startsWith('midjourney')) assert.equal(m.unavailable_reason, 'MidJourney has no public API');
      else assert.match(m.unavailable_reason, /^no provider configured: the operator must set [A-Z]+_API_KEY( or set [A-Z]+_API_KEY)*$/, m.slug);
    }
    const reason = (slug: string) => media.find((m: any) => m.slug === slug).unavailable_reason;
    assert.match(reason('sora-2'), /OPENAI_API_KEY/);
    assert.match(reason('upscale'), /REPLICATE_API_KEY/);
    assert.match(reason('el-dubbing'), /ELEVENLABS_API_KEY/);
  });
});
