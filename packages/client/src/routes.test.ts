// Every non-streaming method sends the documented method, path, query and body, and returns the JSON.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LumengateClient } from './client.js';
import { sendJson, startServer, type TestServer } from './test-support/http-server.js';

describe('client routes', () => {
  let server: TestServer;
  let client: LumengateClient;
  /** What the fake server answers to the next request. */
  let reply: { status: number; body?: unknown } = { status: 200, body: {} };

  before(async () => {
    server = await startServer((_req, res) => {
      if (reply.body === undefined) {
        res.writeHead(reply.status);
        return void res.end();
      }
      sendJson(res, reply.status, reply.body);
    });
    client = new LumengateClient({ apiKey: 'nb_EXAMPLEKEY', baseUrl: server.url + '/' });
  });
  after(() => server.close());

  const last = () => {
    const request = server.requests.at(-1)!;
    return { method: request.method, url: request.url, body: request.body === '' ? undefined : JSON.parse(request.body) };
  };

  it('generate posts the body without a stream flag and returns the generation', async () => {
    reply = { status: 200, body: { id: 18473, status: 'completed', result_text: 'Hi', content: 'Hi' } };
    const result = await client.generate({
      model: 'dall-e-3',
      prompt: 'city',
      size: '1024x1024',
      params: { format: 'webp' },
      stream: true,
    });
    assert.deepEqual(last(), {
      method: 'POST',
      url: '/api/v2/generate',
      body: { model: 'dall-e-3', prompt: 'city', size: '1024x1024', params: { format: 'webp' } },
    });
    assert.equal(result.id, 18473);
    assert.equal(result.content, 'Hi');
  });

  it('getGeneration', async () => {
    reply = { status: 200, body: { id: 5, status: 'pending' } };
    assert.equal((await client.getGeneration(5)).status, 'pending');
    assert.deepEqual(last(), { method: 'GET', url: '/api/v2/generate/5', body: undefined });
  });

  it('models.list accepts a bare array or a wrapped list and passes the category', async () => {
    const models = [{ slug: 'gpt-5', name: 'GPT-5', category: 'text' }];
    reply = { status: 200, body: models };
    assert.deepEqual(await client.models.list({ category: 'text' }), models);
    assert.deepEqual(last(), { method: 'GET', url: '/api/v2/models?category=text', body: undefined });
    reply = { status: 200, body: { models } };
    assert.deepEqual(await client.models.list(), models);
    assert.equal(last().url, '/api/v2/models');
    reply = { status: 200, body: { total: 1 } };
    await assert.rejects(client.models.list(), { code: 'invalid_response' });
  });

  it('models.get and models.calculatePrice', async () => {
    reply = { status: 200, body: { slug: 'dall-e-3', supports_streaming: false } };
    assert.equal((await client.models.get('dall-e-3')).slug, 'dall-e-3');
    assert.deepEqual(last(), { method: 'GET', url: '/api/v2/models/dall-e-3', body: undefined });
    reply = { status: 200, body: { token_cost: 13, min_token_cost: 5, max_token_cost: 13, pricing_type: 'matrix' } };
    const price = await client.models.calculatePrice('dall-e-3', { params: { size: '1792x1024', quality: 'hd' } });
    assert.equal(price.pricing_type, 'matrix');
    assert.deepEqual(last(), {
      method: 'POST',
      url: '/api/v2/models/dall-e-3/calculate-price',
      body: { params: { size: '1792x1024', quality: 'hd' }, count: 1 },
    });
  });

  it('balance, user.balance, user.me', async () => {
    reply = { status: 200, body: { token_balance: 283, plan: 'vip', plan_expires_at: null } };
    assert.equal((await client.balance()).token_balance, 283);
    assert.deepEqual(last(), { method: 'GET', url: '/api/v2/balance', body: undefined });
    reply = { status: 200, body: { token_balance: 543, plan: 'pro', plan_expires_at: null, bonus_tokens: 100 } };
    assert.equal((await client.user.balance()).bonus_tokens, 100);
    assert.equal(last().url, '/api/v2/user/balance');
    reply = { status: 200, body: { id: 1042, plan: 'vip', plan_expires_at: null, token_balance: 1 } };
    assert.equal((await client.user.me()).id, 1042);
    assert.equal(last().url, '/api/v2/user/me');
  });

  it('user.history sends only the filters given', async () => {
    reply = { status: 200, body: { items: [], total: 0, page: 2, limit: 10 } };
    const page = await client.user.history({ page: 2, limit: 10, status: 'failed', model_slug: 'gpt-5', cursor: undefined });
    assert.deepEqual(page.items, []);
    assert.equal(last().url, '/api/v2/user/history?page=2&limit=10&status=failed&model_slug=gpt-5');
  });

  it('keys: create, list, rename, revoke (204)', async () => {
    reply = { status: 201, body: { id: 13, name: 'prod', key: 'nb_EXAMPLE', created_at: '2026-03-08T12:00:00Z' } };
    assert.equal((await client.keys.create('prod')).key, 'nb_EXAMPLE');
    assert.deepEqual(last(), { method: 'POST', url: '/api/v2/keys', body: { name: 'prod' } });
    reply = { status: 200, body: { keys: [{ id: 13, name: 'prod', created_at: 'x' }] } };
    assert.equal((await client.keys.list())[0]?.id, 13);
    assert.deepEqual(last(), { method: 'GET', url: '/api/v2/keys', body: undefined });
    reply = { status: 200, body: { id: 13, name: 'renamed', created_at: 'x' } };
    assert.equal((await client.keys.rename(13, 'renamed')).name, 'renamed');
    assert.deepEqual(last(), { method: 'PATCH', url: '/api/v2/keys/13', body: { name: 'renamed' } });
    reply = { status: 204 };
    assert.equal(await client.keys.revoke(13), undefined);
    assert.deepEqual(last(), { method: 'DELETE', url: '/api/v2/keys/13', body: undefined });
    reply = { status: 404, body: { error: 'not_found', message: 'No such key', details: {} } };
    await assert.rejects(client.keys.revoke(99), { code: 'not_found', status: 404 });
  });
});
