// POST /api/v2/generate (all three body styles) and status polling, against a fake OpenAI upstream.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';
import { testCatalog } from '../support/text-models.js';

describe('POST /api/v2/generate', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ catalog: testCatalog });
  });
  after(() => h.close());

  it('style A (prompt + params) returns the full generation object and charges the flat price', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Quantum', ' computing', ' uses qubits.'], usage: { input: 21, output: 3 } });
    const r = await h.post('/api/v2/generate', { model: 'gpt-5', prompt: 'Explain quantum computing', params: { system_prompt: 'Be brief.', temperature: 0.3, max_tokens: 50 } }, a.key);
    assert.equal(r.status, 200);
    const g = r.json;
    assert.equal(typeof g.id, 'number');
    assert.equal(g.status, 'completed');
    assert.equal(g.model_slug, 'gpt-5');
    assert.equal(g.model, 'gpt-5');
    assert.equal(g.result_text, 'Quantum computing uses qubits.');
    assert.equal(g.content, g.result_text);
    assert.equal(g.tokens_spent, 2);
    assert.equal(g.tokens_used, 2);
    assert.equal(g.balance_remaining, 8);
    assert.deepEqual(g.usage, { input_tokens: 21, output_tokens: 3, total_tokens: 24, reasoning_tokens: 0, cached_input_tokens: 0 });
    for (const k of ['result_url', 'thumbnail_url', 'error']) assert.equal(g[k], null, k);
    assert.equal(typeof g.processing_ms, 'number');
    assert.match(g.created_at, /^\d{4}-\d\d-\d\dT/);
    assert.match(g.completed_at, /^\d{4}-\d\d-\d\dT/);
    assert.equal(await h.balance(a.id), 8);

    const sent = h.fake.requests.at(-1)!;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.equal(sent.headers.authorization, 'Bearer sk-fake-test-key');
    assert.equal(sent.body.model, 'gpt-5');
    assert.equal(sent.body.stream, true);
    assert.deepEqual(sent.body.stream_options, { include_usage: true });
    // gpt-5 takes only max_completion_tokens and temperature 1 (catalog capability flags, docs/api.md).
    assert.equal(sent.body.temperature, undefined);
    assert.equal(sent.body.max_completion_tokens, 50);
    assert.equal(sent.body.max_tokens, undefined);
    assert.deepEqual(sent.body.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Explain quantum computing' },
    ]);
  });

  it('style B (messages, system, temperature at the top level) works and params win on a clash', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    const r = await h.post(
      '/api/v2/generate',
      {
        model: 'plain-4o',
        system: 'You code.',
        temperature: 0.5,
        params: { temperature: 0.9 },
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
          { role: 'user', content: [{ type: 'text', text: 'parse JSON' }] },
        ],
      },
      a.key,
    );
    assert.equal(r.status, 200);
    assert.equal(r.json.content, 'ok');
    const sent = h.fake.requests.at(-1)!.body;
    assert.equal(sent.temperature, 0.9);
    assert.deepEqual(
      sent.messages.map((m: any) => [m.role, m.content]),
      [
        ['system', 'You code.'],
        ['user', 'hi'],
        ['assistant', 'hello'],
        ['user', 'parse JSON'],
      ],
    );
  });

  it('prompt is appended after params.messages as the last user turn', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    const r = await h.post(
      '/api/v2/generate',
      {
        model: 'gpt-5-nano',
        prompt: 'second',
        params: {
          messages: [
            { role: 'user', content: 'first' },
            { role: 'assistant', content: 'reply' },
          ],
        },
      },
      a.key,
    );
    assert.equal(r.status, 200);
    assert.deepEqual(
      h.fake.requests.at(-1)!.body.messages.map((m: any) => m.content),
      ['first', 'reply', 'second'],
    );
  });

  it('GET /api/v2/generate/{id} and /status/{id} return the stored generation; other accounts get 404', async () => {
    const a = await h.account({ tokens: 10 });
    const b = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['stored'] });
    const created = (await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x' }, a.key)).json;
    for (const path of [`/api/v2/generate/${created.id}`, `/api/v2/generate/status/${created.id}`]) {
      const r = await h.get(path, a.key);
      assert.equal(r.status, 200, path);
      assert.equal(r.json.id, created.id);
      assert.equal(r.json.status, 'completed');
      assert.equal(r.json.result_text, 'stored');
      assert.equal(r.json.tokens_spent, 1);
      assert.deepEqual(r.json.usage, created.usage);
      const other = await h.get(path, b.key);
      assert.equal(other.status, 404);
      assert.equal(other.json.error, 'not_found');
    }
    assert.equal((await h.get('/api/v2/generate/gen_01j9x2abc123', a.key)).status, 404);
  });

  it('ids are increasing integers', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['x'] });
    const one = (await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: '1' }, a.key)).json.id;
    const two = (await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: '2' }, a.key)).json.id;
    assert.ok(Number.isInteger(one) && two > one);
  });

  it('balance endpoints show plan and package tokens; plan tokens are spent first', async () => {
    const a = await h.account({ plan: 'vip', tokens: 1, packageTokens: 5 });
    let r = await h.get('/api/v2/balance', a.key);
    assert.deepEqual(r.json, { token_balance: 6, plan: 'vip', plan_expires_at: null });
    h.fake.respondWith({ chunks: ['x'] });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5', prompt: 'x' }, a.key)).json.balance_remaining, 4);
    r = await h.get('/api/v2/user/balance', a.key);
    assert.equal(r.json.token_balance, 4);
    assert.equal(r.json.plan_tokens_remaining, 0);
    assert.equal(r.json.bonus_tokens, 4);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});
