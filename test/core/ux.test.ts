// What a client is told when it cannot get an answer: model availability with reasons in every
// listing (never a server path), 402 with price/balance/top-up, unknown-model suggestions,
// empty prompts refused before any charge, bad JSON said once, and one 429 body on both surfaces.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from '../support/harness.js';

describe('model availability and error texts', () => {
  let h: Harness;
  let modelsDir: string;
  before(async () => {
    modelsDir = mkdtempSync(join(tmpdir(), 'lumengate-ux-models-'));
    h = await startHarness({ env: { LUMENGATE_MODELS_DIR: modelsDir }, catalog: { plans: { basic: { requests_per_hour: 2, requests_per_day: 5 } } } });
  });
  after(async () => {
    await h.close();
    rmSync(modelsDir, { recursive: true, force: true });
  });

  it('/api/v2/models says why a model is unavailable: missing local file, provider key, plan of the caller', async () => {
    const anon = await h.get('/api/v2/models');
    const bySlug = (r: any) => new Map<string, any>(r.json.models.map((m: any) => [m.slug, m]));
    const models = bySlug(anon);
    const qwen = models.get('qwen2.5-0.5b-instruct');
    assert.equal(qwen.available, false);
    assert.match(qwen.unavailable_reason, /qwen2\.5-0\.5b-instruct-q4_k_m\.gguf is missing/);
    assert.match(qwen.unavailable_reason, /LUMENGATE_MODELS_DIR/);
    assert.match(models.get('claude-haiku-4.5').unavailable_reason, /ANTHROPIC_API_KEY/);
    assert.equal(models.get('gpt-5').available, true, 'without a key the plan is not known');
    assert.equal(models.get('gpt-5-nano').unavailable_reason, null);
    const midjourney = anon.json.models.find((m: any) => /MidJourney/i.test(m.unavailable_reason ?? ''));
    assert.ok(midjourney, 'the catalog reason is used as is');
    assert.ok(!anon.text.includes(modelsDir) && !anon.text.includes(process.cwd()), 'no server path in the listing');

    const free = await h.account({ plan: 'free' });
    const mine = bySlug(await h.get('/api/v2/models', free.key));
    assert.equal(mine.get('gpt-5').available, false);
    assert.match(mine.get('gpt-5').unavailable_reason, /needs the basic plan/);
    assert.equal((await h.get('/api/v2/models/gpt-5', free.key)).json.available, false);
  });

  it('/v1/models lists only what the caller can use; the missing-file 503 names no server path', async () => {
    const free = await h.account({ plan: 'free' });
    const ids = (await h.get('/v1/models', free.key)).json.data.map((m: any) => m.id);
    assert.ok(ids.includes('gpt-5-nano'));
    for (const gone of ['qwen2.5-0.5b-instruct', 'claude-haiku-4.5', 'gpt-5']) assert.ok(!ids.includes(gone), gone);
    const pro = await h.account({ plan: 'pro' });
    assert.ok((await h.get('/v1/models', pro.key)).json.data.some((m: any) => m.id === 'gpt-5'));

    const r = await h.post('/api/v2/generate', { model: 'qwen2.5-0.5b-instruct', prompt: 'hi' }, pro.key);
    assert.equal(r.status, 503);
    assert.match(r.json.message, /qwen2\.5-0\.5b-instruct-q4_k_m\.gguf/);
    assert.match(r.json.message, /LUMENGATE_MODELS_DIR/);
    assert.ok(!r.text.includes(modelsDir) && !r.text.includes(process.cwd()), r.text);
    assert.equal(await h.balance(pro.id), 100);
  });

  it('402 names the price in credits, the balance and how to top up, on both surfaces', async () => {
    const poor = await h.account({ plan: 'pro', tokens: 0 });
    const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, poor.key);
    assert.equal(r.status, 402);
    assert.match(r.json.message, /costs \d+ credits? per request and this account has 0/);
    assert.match(r.json.message, new RegExp(`lumengate tokens grant ${poor.id} \\d+`));
    assert.equal(r.json.details.balance, 0);
    const v1 = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'hi' }] }, poor.key);
    assert.equal(v1.status, 402);
    assert.equal(v1.json.error.message, r.json.message);
  });

  it('an unknown model suggests the closest slugs; provider/upstream-model names the routed model', async () => {
    const a = await h.account();
    const r = await h.post('/api/v2/generate', { model: 'gpt-5-nanno', prompt: 'hi' }, a.key);
    assert.equal(r.status, 404);
    assert.equal(r.json.details.suggestions[0], 'gpt-5-nano');
    assert.match(r.json.message, /did you mean "gpt-5-nano"/);
    assert.match(r.json.message, /\/api\/v2\/models/);
    const far = await h.post('/v1/chat/completions', { model: 'zzzzzzzzzzzzzz', messages: [{ role: 'user', content: 'hi' }] }, a.key);
    assert.equal(far.status, 404);
    assert.deepEqual(far.json.error.details.suggestions, []);
    const mapped = await h.post('/v1/chat/completions', { model: 'openai/gpt-5-nano', messages: [{ role: 'user', content: 'hi' }] }, a.key);
    assert.equal(mapped.status, 200, mapped.text);
    assert.equal(mapped.json.model, 'gpt-5-nano');
  });

  it('an empty prompt is 400 and never charged', async () => {
    const a = await h.account({ tokens: 10 });
    for (const body of [
      { model: 'gpt-5-nano', prompt: '' },
      { model: 'gpt-5-nano', prompt: '  \n ' },
      { model: 'gpt-5-nano', messages: [{ role: 'user', content: ' ' }] },
    ]) {
      const r = await h.post('/api/v2/generate', body, a.key);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.json.message, /prompt is empty/);
    }
    const v1 = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: '' }] }, a.key);
    assert.equal(v1.status, 400);
    assert.equal(await h.balance(a.id), 10);
  });

  it('an empty prompt is named where it was sent (params.text in params, text at the top level), streamed or not', async () => {
    const a = await h.account({ tokens: 10 });
    const cases: [Record<string, unknown>, string][] = [
      [{ prompt: ' ' }, 'prompt'],
      [{ text: ' ' }, 'text'],
      [{ params: { text: ' ' } }, 'params.text'],
      [{ text: 'hi', params: { text: ' ' } }, 'params.text'],
      [{ params: { messages: [{ role: 'user', content: ' ' }] } }, 'params.messages.0'],
    ];
    for (const path of ['/api/v2/generate', '/api/v2/generate/stream']) {
      for (const [body, field] of cases) {
        const r = await h.post(path, { model: 'gpt-5-nano', ...body }, a.key);
        assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
        assert.deepEqual([r.json.message, r.json.details.fields], [`${field}: the prompt is empty`, [{ path: field, message: 'empty' }]], JSON.stringify(body));
      }
    }
    assert.equal(await h.balance(a.id), 10);
  });

  it('bad JSON says so once', async () => {
    const a = await h.account();
    for (const path of ['/api/v2/generate', '/v1/chat/completions']) {
      const r = await h.post(path, '{"model": "gpt-5-nano",', a.key);
      assert.equal(r.status, 400);
      const message: string = r.json.message ?? r.json.error.message;
      assert.equal(message.match(/not valid JSON/gi)?.length, 1, message);
    }
  });

  it('the 429 carries the same details (retry_after, limits) on /api/v2 and /v1', async () => {
    const a = await h.account({ plan: 'basic' });
    for (let i = 0; i < 2; i++) assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x' }, a.key)).status, 200);
    const v2 = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x' }, a.key);
    const v1 = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'x' }] }, a.key);
    assert.equal(v2.status, 429);
    assert.equal(v1.status, 429);
    assert.deepEqual(v2.json.details.limits, { hour: 2, day: 5 });
    assert.ok(v2.json.details.retry_after >= 1);
    assert.equal(v2.json.retry_after, v2.json.details.retry_after);
    const { retry_after: r1, ...v1Rest } = v1.json.error.details;
    const { retry_after: r2, ...v2Rest } = v2.json.details;
    assert.deepEqual(v1Rest, v2Rest);
    assert.ok(Math.abs(r1 - r2) <= 1);
  });
});
