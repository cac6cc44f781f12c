// `lumengate generate` as a real child process against a real gateway: an espeak speech job saved
// as WAV, an image from a fake OpenAI images upstream (saved, or its URL printed), a text model's
// answer, a failed job (exit 1 with the provider's message, not charged), and --out paths that
// cannot be written (refused before anything is submitted).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/config/env.js';
import { startHarness, type Harness } from '../support/harness.js';
import { FAKE_OPENAI_KEY, pngOf, startFakeOpenAIImages, type FakeOpenAIImages } from '../support/fake-openai-images.js';

const cli = join(packageRoot(), 'bin', 'lumengate.js');

function lumengate(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

describe('lumengate generate', () => {
  let h: Harness;
  let images: FakeOpenAIImages;
  let dir: string;
  let account: { id: number; key: string };
  const generations = async () => (await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', account.id).execute()).length;

  before(async () => {
    images = await startFakeOpenAIImages();
    dir = mkdtempSync(join(tmpdir(), 'lumengate-cli-generate-'));
    h = await startHarness({
      env: { LUMENGATE_FILES_DIR: join(dir, 'files'), IMAGES_API_KEY: FAKE_OPENAI_KEY, LUMENGATE_JOB_IDLE_POLL_MS: '50' },
      catalog: { providers: { images: { type: 'openai', base_url: `${images.origin}/v1` } }, models: [{ slug: 'dall-e-3', routes: [{ provider: 'images', model: 'dall-e-3' }] }] },
    });
    account = await h.account({ plan: 'free', tokens: 100 });
  });
  after(async () => {
    await h.close();
    await images.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = () => ['--url', h.url, '--key', account.key];

  it('speaks a text with espeak (polling a job answered pending) and saves the WAV to --out', async () => {
    const out = join(dir, 'speech.wav');
    // --wait 0: the gateway answers pending at once and the command polls until the job ends.
    const r = await lumengate(['generate', 'espeak', '--text', 'Hello from the command line.', '--param', 'voice_id=en', '--wait', '0', '--out', out, ...base()]);
    assert.equal(r.code, 0, r.stderr);
    const wav = readFileSync(out);
    assert.equal(wav.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(wav.subarray(8, 12).toString('latin1'), 'WAVE');
    assert.equal(wav.readUInt32LE(4), wav.length - 8, 'the whole file (RIFF size)');
    assert.equal(r.stdout.length, 0, 'nothing on stdout when the file is saved');
    assert.match(r.stderr, new RegExp(`saved ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.match(r.stderr, /\[espeak · generation \d+ · 1 credit spent · balance 99 · audio\/wav, \d+ bytes\]/);
    const g = await h.server.db.kysely.selectFrom('generations').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    assert.deepEqual([g.model_slug, g.status, g.prompt], ['espeak', 'completed', 'Hello from the command line.']);
  });

  it('makes an image through the fake upstream: options from --param, the PNG saved byte for byte', async () => {
    const out = join(dir, 'kite.png');
    const calls = images.requests.length;
    const r = await lumengate(['generate', 'dall-e-3', '--prompt', 'a red kite', '--param', 'size=1792x1024', '--param', 'quality=hd', '--out', out, ...base()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(images.requests.length, calls + 1);
    assert.deepEqual(images.requests.at(-1)!.json, { model: 'dall-e-3', prompt: 'a red kite', n: 1, size: '1792x1024', quality: 'hd', response_format: 'b64_json' });
    assert.deepEqual(readFileSync(out), pngOf(96, 64));
    assert.match(r.stderr, /\[dall-e-3 · generation \d+ · 13 credits spent · balance 86 · image\/png/);
  });

  it('without --out prints the signed result URL, which serves the file; --out - writes to stdout; --json prints the generation', async () => {
    const r = await lumengate(['generate', 'dall-e-3', '--prompt', 'a blue kite', ...base()]);
    assert.equal(r.code, 0, r.stderr);
    const url = r.stdout.toString().trim();
    assert.match(url, new RegExp(`^${h.url}/files/\\d+/[^?]+\\?expires=\\d+&sig=[0-9a-f]{64}$`));
    assert.deepEqual(Buffer.from(await (await fetch(url)).arrayBuffer()), pngOf(96, 64));

    const piped = await lumengate(['generate', 'dall-e-3', '--prompt', 'a green kite', '--out', '-', ...base()]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(piped.stdout, pngOf(96, 64), '--out - writes the file to stdout');

    const j = await lumengate(['generate', 'espeak', '--prompt', 'JSON please', '--json', ...base()]);
    assert.equal(j.code, 0, j.stderr);
    const g = JSON.parse(j.stdout.toString());
    assert.deepEqual([g.status, g.result_metadata.mime_type, g.tokens_spent], ['completed', 'audio/wav', 1]);
  });

  it('a text model prints its answer', async () => {
    h.fake.respondWith({ chunks: ['Hi ', 'from the ', 'model.'] });
    const r = await lumengate(['generate', 'gpt-5-nano', '--prompt', 'Say hi', '--param', 'max_tokens=50', ...base()]);
    assert.equal(r.code, 0, r.stderr);
    h.fake.respondWith({});
    assert.equal(r.stdout.toString(), 'Hi from the model.\n');
    assert.equal(h.fake.requests.at(-1)!.body.max_completion_tokens, 50, '--param max_tokens=50 reached the upstream as a number');
    assert.match(r.stderr, /\[gpt-5-nano · generation \d+ · 1 credit spent/);
  });

  it('a failed job exits 1 with the provider message, not charged; an unknown model names the error', async () => {
    const before = await h.balance(account.id);
    const r = await lumengate(['generate', 'dall-e-3', '--prompt', 'fail: Your request was rejected by the safety system.', '--out', join(dir, 'never.png'), ...base()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^lumengate: generation \d+ failed: .*Your request was rejected by the safety system\..* \(not charged\)\n$/m);
    assert.equal(await h.balance(account.id), before);
    assert.throws(() => readFileSync(join(dir, 'never.png')), /ENOENT/, 'no file written');

    const unknown = await lumengate(['generate', 'dall-e-4', '--prompt', 'x', ...base()]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^lumengate: not_found: .*dall-e-4/);
  });

  it('--out that cannot be written is refused before anything is submitted', async () => {
    const n = await generations();
    const missing = await lumengate(['generate', 'espeak', '--prompt', 'x', '--out', join(dir, 'no-such-dir', 'a.wav'), ...base()]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^lumengate: cannot write .*no-such-dir\/a\.wav: directory .*no-such-dir does not exist\n$/);
    const isDir = await lumengate(['generate', 'espeak', '--prompt', 'x', '--out', dir, ...base()]);
    assert.equal(isDir.code, 1);
    assert.match(isDir.stderr, /^lumengate: cannot write .*: it is a directory\n$/);
    assert.equal(await generations(), n, 'no generation was started (nothing held or charged)');

    const noPrompt = await lumengate(['generate', 'espeak', ...base()]);
    assert.equal(noPrompt.code, 1);
    assert.match(noPrompt.stderr, /nothing to generate: give --prompt/);
    const badParam = await lumengate(['generate', 'espeak', '--prompt', 'x', '--param', 'novalue', ...base()]);
    assert.equal(badParam.code, 1);
    assert.match(badParam.stderr, /--param.*must be key=value/);
  });
});
