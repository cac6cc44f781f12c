// Prices by option (docs/api.md) over HTTP, and the ledger's partial charge on this engine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, startJobHarness, type Harness } from '../support/harness.js';
import { FAKE_OPENAI_KEY, startFakeOpenAIMedia } from '../support/fake-openai-media.js';
import type { FakeMediaServer } from '../support/fake-media.js';
import { holdTokens, settleGeneration } from '../../src/billing/ledger.js';

describe('calculate-price', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      catalog: {
        models: [
          { slug: 'openai-tts', pricing_type: 'per_char', min_token_cost: 1, max_token_cost: 50, pricing: { rate: 0.01 } },
          { slug: 'el-dialogue', pricing_type: 'per_char', min_token_cost: 1, max_token_cost: 50, pricing: { rate: 0.01 } },
        ],
      },
    });
  });
  after(() => h.close());

  const quote = async (slug: string, body: unknown) => h.post(`/api/v2/models/${slug}/calculate-price`, body);

  it('matrix: DALL-E 3 by size × quality, defaults for what is not given, count multiplies', async () => {
    assert.equal((await quote('dall-e-3', {})).json.token_cost, 5);
    const hd = await quote('dall-e-3', { params: { size: '1792x1024', quality: 'hd' }, count: 1 });
    assert.equal(hd.status, 200);
    assert.deepEqual(hd.json, { token_cost: 13, min_token_cost: 5, max_token_cost: 13, pricing_type: 'matrix', count: 1 });
    assert.equal((await quote('dall-e-3', { quality: 'hd' })).json.token_cost, 9, 'Style C: options at the top level');
    assert.equal((await quote('dall-e-3', { params: { quality: 'hd' }, count: 3 })).json.token_cost, 27);
  });

  it('matrix: a combination without a price is 422 naming the options', async () => {
    const r = await quote('dall-e-3', { params: { size: '640x480' } });
    assert.equal(r.status, 422);
    assert.equal(r.json.error, 'validation_error');
    assert.match(JSON.stringify(r.json), /640x480/);
    assert.deepEqual(
      r.json.details.fields.map((f: any) => f.path),
      ['size', 'quality'],
    );
  });

  it('per_second: the duration (which the flat price used to ignore) times the rate, bounds enforced', async () => {
    assert.equal((await quote('kling-v2.1', {})).json.token_cost, 26, '5 s default');
    const ten = await quote('kling-v2.1', { params: { duration: 10 } });
    assert.deepEqual(ten.json, { token_cost: 52, min_token_cost: 26, max_token_cost: 94, pricing_type: 'per_second', count: 1 });
    assert.equal((await quote('sora-2', { duration: 12 })).json.token_cost, 125);
    const bad = await quote('sora-2', { duration: 10 });
    assert.equal(bad.status, 422);
    assert.match(bad.json.details.fields[0].message, /4 or 8 or 12/);
    assert.equal((await quote('kling-v2.1', { params: { duration: 60 } })).status, 422);
  });

  it('per_point and per_char', async () => {
    assert.equal((await quote('midjourney', { quality: 'turbo' })).json.token_cost, 35);
    assert.equal((await quote('openai-tts', { text: 'x'.repeat(1234) })).json.token_cost, 13);
    assert.equal((await quote('openai-tts', { text: 'hi' })).json.token_cost, 1, 'never below min_token_cost');
    // el-dialogue speaks its inputs' texts (no prompt): priced on them, as its settlement measures them.
    const inputs = [
      { text: 'x'.repeat(700), voice_id: 'voice-1' },
      { text: 'y'.repeat(534), voice_id: 'voice-2' },
    ];
    assert.equal((await quote('el-dialogue', { params: { inputs } })).json.token_cost, 13);
  });

  it("every shipped non-fixed price stays within the model's advertised min and max", async () => {
    const models = (await h.get('/api/v2/models')).json.models;
    for (const m of models.filter((x: any) => x.pricing_type === 'matrix' || x.pricing_type === 'per_second')) {
      const r = await quote(m.slug, {});
      assert.equal(r.status, 200, m.slug);
      assert.ok(r.json.token_cost >= m.min_token_cost && r.json.token_cost <= m.max_token_cost, `${m.slug}: ${r.json.token_cost}`);
    }
  });
});

describe('partial charge', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('charges part of a hold and releases the rest (package tokens first); balance = ledger', async () => {
    const acc = await h.account({ tokens: 10, packageTokens: 10 });
    const db = h.server.db;
    const hold = await holdTokens(db, { accountId: acc.id, apiKeyId: null, modelSlug: 'kling-v2.1', category: 'video', price: 15, prompt: 'p', holdTtlMs: 60_000 });
    assert.ok(hold);
    assert.equal(await h.balance(acc.id), 5);
    const base = { resultText: null, error: null, finishReason: null, usage: null, route: null, firstTokenAt: null };
    const s = await settleGeneration(db, hold.generationId, { ...base, status: 'completed', charge: 8 });
    assert.deepEqual([s.applied, s.tokensSpent, s.balance], [true, 8, 12]);
    const a = await db.kysely.selectFrom('accounts').selectAll().where('id', '=', acc.id).executeTakeFirstOrThrow();
    assert.deepEqual([a.plan_tokens, a.package_tokens], [2, 10], 'the 5 package tokens held come back first, then 2 plan tokens');
    const rows = await db.kysely.selectFrom('ledger').select(['kind', 'amount', 'plan_delta', 'package_delta']).where('generation_id', '=', hold.generationId).orderBy('id').execute();
    // One statement on PostgreSQL writes charge and release: their id order is not defined.
    assert.deepEqual(rows.map((r) => [r.kind, r.amount, r.plan_delta, r.package_delta]).sort(), [
      ['charge', 8, 0, 0],
      ['hold', 15, -10, -5],
      ['release', 7, 2, 5],
    ]);

    // Never above the hold; a second settlement changes nothing.
    const h2 = await holdTokens(db, { accountId: acc.id, apiKeyId: null, modelSlug: 'kling-v2.1', category: 'video', price: 4, prompt: 'p', holdTtlMs: 60_000 });
    const s2 = await settleGeneration(db, h2!.generationId, { ...base, status: 'completed', charge: 400 });
    assert.deepEqual([s2.tokensSpent, s2.balance], [4, 8]);
    const again = await settleGeneration(db, h2!.generationId, { ...base, status: 'failed', error: 'late' });
    assert.deepEqual([again.applied, again.balance], [false, 8]);
    assert.equal((await db.kysely.selectFrom('ledger').select('kind').where('generation_id', '=', h2!.generationId).execute()).length, 2, 'hold + charge, no release of 0');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});

// A price assumes the table's defaults for the options a request leaves out (`defaults`,
// `seconds.default`). The provider must then be asked for exactly those, not its own defaults:
// gpt-image picks its own quality ("auto") when asked for none (the catalog prices "low"). (Veo's
// duration: test/jobs/output-urls.test.ts.) Otherwise the hold, and the
// charge it caps, pays for less than the provider makes (a hold at the base tier).
describe('what is made is what is held: the priced defaults reach the provider', () => {
  let h: Harness;
  let openai: FakeMediaServer;
  before(async () => {
    openai = await startFakeOpenAIMedia();
    h = await startJobHarness({ OPENAI_API_KEY: FAKE_OPENAI_KEY, OPENAI_BASE_URL: `${openai.origin}/v1` });
  });
  after(async () => {
    await h.close();
    await openai.close();
  });

  it('gpt-image-1.5 without a quality: OpenAI is asked for the "low" held, on /api/v2 and /v1/images/generations', async () => {
    const acc = await h.account({ plan: 'pro', tokens: 100 });
    const r = await h.post('/api/v2/generate', { model: 'gpt-image-1.5', prompt: 'a lighthouse' }, acc.key);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.tokens_spent, 1);
    assert.equal(openai.requests.at(-1)!.json.quality, 'low');
    const v1 = await h.post('/v1/images/generations', { model: 'gpt-image-1.5', prompt: 'a lighthouse', response_format: 'b64_json' }, acc.key);
    assert.equal(v1.status, 200, v1.text);
    assert.equal(openai.requests.at(-1)!.json.quality, 'low');
    assert.equal(await h.balance(acc.id), 98);
  });
});
