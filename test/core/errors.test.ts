// Every documented error code on the generate endpoints: right status, the JSON envelope, and no
// balance change. A client's mistake is never a 5xx.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';
import { revokeKey } from '../../src/accounts/service.js';

function assertEnvelope(r: { status: number; json: any; headers: Headers }, status: number, code: string) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.json.error, code);
  assert.equal(typeof r.json.message, 'string');
  assert.ok(r.json.message.length > 0);
  assert.equal(typeof r.json.details, 'object');
}

describe('errors', () => {
  let h: Harness;
  let acct: { id: number; key: string };
  before(async () => {
    h = await startHarness({ env: { ANTHROPIC_API_KEY: '', DEEPSEEK_API_KEY: 'sk-x', DEEPSEEK_BASE_URL: 'http://127.0.0.1:9/v1' } });
    acct = await h.account({ plan: 'pro', tokens: 20 });
  });
  after(() => h.close());
  const unchanged = async () => assert.equal(await h.balance(acct.id), 20);

  it('concurrent requests with valid, unknown and revoked keys each get their own answer', async () => {
    // On PostgreSQL the callers of requests that arrive together are read in one statement
    // (src/accounts/keys.ts, db/postgres-batch.ts): each must still get its own account, or 401.
    const accounts = await Promise.all([3, 4, 5].map((tokens) => h.account({ plan: 'pro', tokens })));
    const revoked = await h.account({ tokens: 6 });
    const keyId = (await h.server.db.kysely.selectFrom('api_keys').select('id').where('account_id', '=', revoked.id).executeTakeFirstOrThrow()).id;
    await revokeKey(h.server.db, keyId);
    const keys = [...accounts.map((a, i) => ({ key: a.key, balance: 3 + i })), { key: revoked.key, balance: null }, { key: 'nb_' + 'B'.repeat(45), balance: null }];
    const calls = Array.from({ length: 40 }, (_, i) => keys[i % keys.length]!);
    const answers = await Promise.all(calls.map((c) => h.get('/api/v2/balance', c.key)));
    for (const [i, r] of answers.entries()) {
      if (calls[i]!.balance === null) assertEnvelope(r, 401, 'not_authenticated');
      else assert.equal(r.json.token_balance, calls[i]!.balance, `request ${i}: ${JSON.stringify(r.json)}`);
    }
  });

  for (const path of ['/api/v2/generate', '/api/v2/generate/stream']) {
    describe(path, () => {
      it('400 bad_request: unparsable JSON', async () => {
        assertEnvelope(await h.post(path, '{"model": "gpt-5", "prompt": ', acct.key), 400, 'bad_request');
        await unchanged();
      });
      it('400 bad_request: missing model, with the field named', async () => {
        const r = await h.post(path, { prompt: 'hi' }, acct.key);
        assertEnvelope(r, 400, 'bad_request');
        assert.match(r.json.message, /model/);
        await unchanged();
      });
      it('400 bad_request: missing prompt and messages', async () => {
        const r = await h.post(path, { model: 'gpt-5' }, acct.key);
        assertEnvelope(r, 400, 'bad_request');
        assert.match(r.json.message, /prompt/);
        await unchanged();
      });
      it('400 bad_request: no body, or a body that is not an object', async () => {
        assertEnvelope(await h.post(path, undefined, acct.key), 400, 'bad_request');
        assertEnvelope(await h.post(path, '[1,2]', acct.key), 400, 'bad_request');
        assertEnvelope(await h.post(path, 'model=gpt-5', acct.key, { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'bad_request');
        await unchanged();
      });
      it('422 validation_error: wrong types and out-of-range values, with details.fields', async () => {
        const cases: Array<[unknown, string]> = [
          [{ model: 'gpt-5', prompt: 'x', temperature: 3 }, 'temperature'],
          [{ model: 'gpt-5', prompt: 'x', params: { temperature: -0.1 } }, 'params.temperature'],
          [{ model: 'gpt-5', prompt: 42 }, 'prompt'],
          [{ model: 'gpt-5', prompt: 'x', max_tokens: -5 }, 'max_tokens'],
          [{ model: 'gpt-5', prompt: 'x', max_tokens: 1.5 }, 'max_tokens'],
          [{ model: 'gpt-5', messages: [{ role: 'wizard', content: 'x' }] }, 'messages.0.role'],
          [{ model: 'gpt-5', prompt: 'x', stream: 'yes' }, 'stream'],
          [{ model: 7, prompt: 'x' }, 'model'],
          [{ model: 'gpt-5', prompt: 'x', params: 'hot' }, 'params'],
        ];
        for (const [body, field] of cases) {
          const r = await h.post(path, body, acct.key);
          assertEnvelope(r, 422, 'validation_error');
          assert.ok(
            r.json.details.fields.some((f: any) => f.path === field && f.message),
            `${JSON.stringify(body)} -> ${JSON.stringify(r.json.details)}`,
          );
        }
        await unchanged();
      });
      it('401 not_authenticated: missing, malformed, unknown and revoked keys', async () => {
        const body = { model: 'gpt-5', prompt: 'x' };
        assertEnvelope(await h.post(path, body), 401, 'not_authenticated');
        assertEnvelope(await h.post(path, body, undefined, { authorization: 'Basic abc' }), 401, 'not_authenticated');
        assertEnvelope(await h.post(path, body, 'nb_' + 'A'.repeat(45)), 401, 'not_authenticated');
        const other = await h.account({ tokens: 5 });
        const keyId = (await h.server.db.kysely.selectFrom('api_keys').select('id').where('account_id', '=', other.id).executeTakeFirstOrThrow()).id;
        await revokeKey(h.server.db, keyId);
        assertEnvelope(await h.post(path, body, other.key), 401, 'not_authenticated');
        assert.equal(await h.balance(other.id), 5);
      });
      it('402 insufficient_tokens when the balance cannot cover the price', async () => {
        const poor = await h.account({ plan: 'pro', tokens: 3 });
        const r = await h.post(path, { model: 'gpt-5.2', prompt: 'x' }, poor.key);
        assertEnvelope(r, 402, 'insufficient_tokens');
        assert.equal(r.json.details.required, 4);
        assert.equal(await h.balance(poor.id), 3);
      });
      it('403 insufficient_plan for a Basic+ model on the free plan', async () => {
        const free = await h.account({ plan: 'free', tokens: 50 });
        const r = await h.post(path, { model: 'gpt-5', prompt: 'x' }, free.key);
        assertEnvelope(r, 403, 'insufficient_plan');
        assert.equal(r.json.details.required_plan, 'basic');
        assert.equal(await h.balance(free.id), 50);
      });
      it('404 not_found for an unknown model', async () => {
        const r = await h.post(path, { model: 'gpt-9000', prompt: 'x' }, acct.key);
        assertEnvelope(r, 404, 'not_found');
        assert.equal(r.json.details.model, 'gpt-9000');
        await unchanged();
      });
      it('413 payload_too_large over the 1 MiB body limit', async () => {
        const r = await h.post(path, { model: 'gpt-5', prompt: 'x'.repeat(1024 * 1024 + 10) }, acct.key);
        assertEnvelope(r, 413, 'payload_too_large');
        await unchanged();
      });
      it('503 model_unavailable naming the env var that enables the provider', async () => {
        const r = await h.post(path, { model: 'claude-haiku-4.5', prompt: 'x' }, acct.key);
        assertEnvelope(r, 503, 'model_unavailable');
        assert.match(r.json.message, /ANTHROPIC_API_KEY/);
        await unchanged();
      });
      it('503 model_unavailable when the only route cannot be reached', async () => {
        const r = await h.post(path, { model: 'deepseek-v3', prompt: 'x' }, acct.key);
        assertEnvelope(r, 503, 'model_unavailable');
        assert.equal(typeof r.json.details.generation_id, 'number');
        await unchanged();
      });
      it('500 provider_error when the upstream fails, with the failed generation id, 0 charged', async () => {
        h.fake.respondWith({ status: 500 });
        const r = await h.post(path, { model: 'gpt-5', prompt: 'x' }, acct.key);
        h.fake.respondWith({});
        assertEnvelope(r, 500, 'provider_error');
        const g = (await h.get(`/api/v2/generate/${r.json.details.generation_id}`, acct.key)).json;
        assert.equal(g.status, 'failed');
        assert.equal(g.tokens_spent, 0);
        await unchanged();
      });
    });
  }

  it('400 bad_request (with details.model) when streaming a model that cannot stream, before any SSE byte', async () => {
    for (const [path, body] of [
      ['/api/v2/generate/stream', { model: 'dall-e-3', prompt: 'a cat' }],
      ['/api/v2/generate', { model: 'dall-e-3', prompt: 'a cat', stream: true }],
    ] as const) {
      const r = await h.post(path, body, acct.key);
      assertEnvelope(r, 400, 'bad_request');
      assert.equal(r.json.details.model, 'dall-e-3');
    }
    await unchanged();
  });

  it('404 not_found for unknown routes and generations, in the envelope', async () => {
    assertEnvelope(await h.get('/api/v2/nothing-here', acct.key), 404, 'not_found');
    assertEnvelope(await h.get('/api/v2/generate/999999', acct.key), 404, 'not_found');
  });
});
