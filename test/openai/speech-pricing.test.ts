// Long speech is not free speech: a per_char TTS model (docs/api.md, Pricing types) is held and
// charged by the characters of the text the openai SDK's audio.speech.create sends as `input`,
// before the provider is called; a text the balance cannot cover is 402 with nothing held or sent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startHarness, type Harness } from '../support/harness.js';
import { FAKE_OPENAI_KEY, startFakeOpenAIMedia } from '../support/fake-openai-media.js';
import type { FakeMediaServer } from '../support/fake-media.js';

describe('/v1/audio/speech on a per_char model', () => {
  let h: Harness;
  let openai: FakeMediaServer;
  let filesDir: string;
  before(async () => {
    openai = await startFakeOpenAIMedia();
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-speech-price-'));
    h = await startHarness({
      env: { OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: `${openai.origin}/v1`, LUMENGATE_FILES_DIR: filesDir, LUMENGATE_JOB_IDLE_POLL_MS: '50', LUMENGATE_JOB_BACKOFF_MS: '10' },
      // 1 credit per 100 characters, never below 1 (the override docs/api.md shows).
      catalog: { models: [{ slug: 'openai-tts', pricing_type: 'per_char', min_token_cost: 1, max_token_cost: 50, pricing: { rate: 0.01 } }] },
    });
  });
  after(async () => {
    await h.close();
    await openai.close();
    rmSync(filesDir, { recursive: true, force: true });
  });

  it('held and charged by the input’s characters; a text the balance cannot cover is 402, nothing held or sent', async () => {
    const a = await h.account({ tokens: 20 });
    const client = new OpenAI({ apiKey: a.key, baseURL: `${h.url}/v1`, maxRetries: 0 });
    const { response } = await client.audio.speech.create({ model: 'tts-1', input: 'x'.repeat(1234), voice: 'nova' }).withResponse();
    assert.equal(response.headers.get('x-lumengate-tokens-spent'), '13');
    assert.equal(await h.balance(a.id), 7);

    const sent = openai.requests.length;
    const err = await client.audio.speech.create({ model: 'tts-1', input: 'y'.repeat(2000), voice: 'nova' }).then(
      () => assert.fail('a 20-credit text was spoken on a balance of 7'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.APIError && err.status === 402, String(err));
    assert.equal(openai.requests.length, sent, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 7);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});
