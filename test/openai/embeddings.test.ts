// POST /v1/embeddings through the official openai SDK and raw HTTP: OpenAI's shapes (float and
// base64), a flat price held and settled like a generation, failures released, refusals by name.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startHarness, type Harness } from '../support/harness.js';
import { HugeBody } from '../support/huge-body.js';
import { embeddingsLimit } from '../../src/providers/body-limit.js';

const upstreamAnswer = (vectors: number[][], promptTokens = 6) => ({
  object: 'list',
  data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
  model: 'text-embedding-3-small',
  usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
});

describe('/v1/embeddings', () => {
  let h: Harness;
  const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${h.url}/v1`, maxRetries: 0 });
  const row = (id: number) => h.server.db.kysely.selectFrom('generations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('openai SDK embeddings.create: vectors in input order (base64 on the wire), usage, charged, an embedding generation row', async () => {
    const a = await h.account({ tokens: 10 });
    // Upstream answers out of order: the gateway orders by index.
    const answer = upstreamAnswer(
      [
        [0.5, -0.25, 1],
        [0.125, 2, -3],
      ],
      9,
    );
    answer.data.reverse();
    h.fake.respondWith({ json: answer });
    const { data: res, response } = await client(a.key)
      .embeddings.create({ model: 'text-embedding-3-small', input: ['first', 'second'], dimensions: 3 })
      .withResponse();
    assert.equal(res.object, 'list');
    assert.equal(res.model, 'text-embedding-3-small');
    // float32 values that are exact in binary survive the SDK's default base64 round trip.
    assert.deepEqual(
      res.data.map((d) => [d.index, d.embedding]),
      [
        [0, [0.5, -0.25, 1]],
        [1, [0.125, 2, -3]],
      ],
    );
    assert.deepEqual(res.usage, { prompt_tokens: 9, total_tokens: 9 });
    const upstream = h.fake.requests.at(-1)!;
    assert.equal(upstream.path, '/v1/embeddings');
    assert.deepEqual(upstream.body, { model: 'text-embedding-3-small', input: ['first', 'second'], encoding_format: 'float', dimensions: 3 });
    const id = Number(response.headers.get('x-generation-id'));
    assert.deepEqual((res as any).lumengate, { generation_id: id, tokens_spent: 1, balance_remaining: 9 });
    assert.equal(await h.balance(a.id), 9);
    const g = await row(id);
    assert.equal(g.category, 'embedding');
    assert.equal(g.status, 'completed');
    assert.equal(g.tokens_spent, 1);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a string input, encoding_format float: one embedding as a number array; user is forwarded', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ json: upstreamAnswer([[0.1, 0.2]]) });
    const r = await h.post('/v1/embeddings', { model: 'text-embedding-3-large', input: 'hello', encoding_format: 'float', user: 'u1' }, a.key);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.data, [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }]);
    assert.deepEqual(h.fake.requests.at(-1)!.body, { model: 'text-embedding-3-large', input: ['hello'], encoding_format: 'float', user: 'u1' });
    assert.equal(await h.balance(a.id), 8, 'text-embedding-3-large costs 2');
  });

  it('upstream failure: 5xx to the client, the hold released, the row failed', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ status: 500 });
    let id = 0;
    await assert.rejects(client(a.key).embeddings.create({ model: 'text-embedding-3-small', input: 'x' }), (e: any) => {
      id = Number(e.headers.get('x-generation-id'));
      return e instanceof OpenAI.InternalServerError && e.code === 'provider_error';
    });
    const g = await row(id);
    assert.equal(g.status, 'failed');
    assert.equal(g.tokens_spent, 0);
    assert.equal(await h.balance(a.id), 10);
    h.fake.respondWith({ status: 400 });
    await assert.rejects(client(a.key).embeddings.create({ model: 'text-embedding-3-small', input: 'x' }), OpenAI.BadRequestError);
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  for (const declared of [true, false]) {
    it(`an upstream answer over the bound for the vectors asked (${declared ? 'with its Content-Length' : 'chunked'}): cut short, 5xx naming the limit, released`, async () => {
      const a = await h.account({ tokens: 10 });
      const limit = embeddingsLimit(2).bytes;
      const body = new HugeBody(64 * 1024 * 1024, declared, '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,');
      h.fake.respondWith({ huge: body });
      const r = await h.post('/v1/embeddings', { model: 'text-embedding-3-small', input: ['first', 'second'] }, a.key);
      assert.equal(r.status, 500, r.text);
      assert.equal(r.json.error.code, 'provider_error');
      assert.match(r.json.error.message, new RegExp(`over the gateway's limit of ${limit} bytes for an answer of 2 embeddings: not read`));
      await body.over;
      assert.equal(body.finished, false, 'the gateway read the whole answer');
      const g = await row(Number(r.headers.get('x-generation-id')));
      assert.deepEqual([g.status, g.tokens_spent, await h.balance(a.id)], ['failed', 0, 10]);
      assert.deepEqual(await h.ledgerMismatches(), []);
    });
  }

  it('refusals before any upstream call: token arrays, unknown fields, chat models, balance', async () => {
    const a = await h.account({ tokens: 10 });
    const poor = await h.account({ tokens: 0 });
    const before = h.fake.requests.length;
    const post = (body: unknown, key = a.key) => h.post('/v1/embeddings', body, key);
    const tokens = await post({ model: 'text-embedding-3-small', input: [[1, 2, 3]] });
    assert.equal(tokens.status, 400);
    assert.equal(tokens.json.error.param, 'input');
    const unknown = await post({ model: 'text-embedding-3-small', input: 'x', truncate: true });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.error.param, 'truncate');
    assert.equal((await post({ model: 'text-embedding-3-small', input: 'x', encoding_format: 'int8' })).status, 422);
    assert.equal((await post({ model: 'text-embedding-3-small' })).status, 400);
    const chat = await post({ model: 'gpt-5-nano', input: 'x' });
    assert.equal(chat.status, 400);
    assert.match(chat.json.error.message, /not an embedding model/);
    assert.equal((await post({ model: 'no-such-model', input: 'x' })).status, 404);
    assert.equal((await post({ model: 'text-embedding-3-small', input: 'x' }, poor.key)).status, 402);
    // And the other way round: an embedding model is no chat model.
    const asChat = await h.post('/v1/chat/completions', { model: 'text-embedding-3-small', messages: [{ role: 'user', content: 'x' }] }, a.key);
    assert.equal(asChat.status, 400);
    assert.match(asChat.json.error.message, /\/v1\/embeddings/);
    assert.equal(h.fake.requests.length, before);
    assert.equal(await h.balance(a.id), 10);
  });

  it('models.list includes the embedding models', async () => {
    const a = await h.account();
    const ids = [];
    for await (const m of client(a.key).models.list()) ids.push(m.id);
    assert.ok(ids.includes('text-embedding-3-small'));
  });
});

describe('/v1/embeddings on a provider without an embeddings API', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      env: { ANTHROPIC_API_KEY: 'sk-ant-fake' },
      catalog: {
        models: [
          {
            slug: 'claude-embed',
            name: 'x',
            category: 'embedding',
            min_plan: 'free',
            pricing_type: 'fixed',
            token_cost: 1,
            min_token_cost: 1,
            max_token_cost: 1,
            supports_streaming: false,
            routes: [{ provider: 'anthropic', model: 'x' }],
          },
        ],
      },
    });
  });
  after(() => h.close());

  it('503 model_unavailable naming the reason, nothing held', async () => {
    const a = await h.account({ tokens: 10 });
    const r = await h.post('/v1/embeddings', { model: 'claude-embed', input: 'x' }, a.key);
    assert.equal(r.status, 503);
    assert.equal(r.json.error.code, 'model_unavailable');
    assert.match(r.json.error.message, /no embeddings API/);
    assert.equal(await h.balance(a.id), 10);
  });
});

// The catalog's input limits (max_prompt_chars over all the text, max_messages as the number of
// inputs) bound what one flat-priced request may send upstream, on /v1/embeddings as on chat.
describe('/v1/embeddings within the model input limits of the catalog', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ catalog: { models: [{ slug: 'text-embedding-3-small', max_prompt_chars: 10, max_messages: 2 }] } });
  });
  after(() => h.close());

  it('over max_prompt_chars or max_messages: 422 naming input, nothing sent, held or charged; within them: served', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ json: upstreamAnswer([[1], [2]]) });
    const before = h.fake.requests.length;
    const chars = await h.post('/v1/embeddings', { model: 'text-embedding-3-small', input: ['hello', 'world!'] }, a.key);
    assert.equal(chars.status, 422, chars.text);
    assert.equal(chars.json.error.param, 'input.1');
    assert.match(chars.json.error.message, /at most 10 characters/);
    const one = await h.post('/v1/embeddings', { model: 'text-embedding-3-small', input: 'hello world!' }, a.key);
    assert.equal(one.status, 422, one.text);
    assert.equal(one.json.error.param, 'input');
    const many = await h.post('/v1/embeddings', { model: 'text-embedding-3-small', input: ['a', 'b', 'c'] }, a.key);
    assert.equal(many.status, 422, many.text);
    assert.equal(many.json.error.param, 'input');
    assert.match(many.json.error.message, /at most 2 inputs/);
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);
    const pending = await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).execute();
    assert.equal(pending.length, 0, 'no generation row');
    const ok = await h.post('/v1/embeddings', { model: 'text-embedding-3-small', input: ['hello', 'world'] }, a.key);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(await h.balance(a.id), 9);
  });
});
