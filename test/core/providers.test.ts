// The gateway end to end in front of Anthropic and Gemini fakes that speak their real wire formats:
// text and usage come through; an in-stream provider error becomes our error event, 0 charged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sseEvents, startHarness, type Harness } from '../support/harness.js';
import { closeClaudeGemini, startClaudeGemini } from '../support/claude-gemini.js';
import { startFakeGoogle } from '../support/fake-google.js';
import type { FakeUpstream } from '../support/fake-upstream.js';
import { openAITextModel } from '../support/text-models.js';

describe('Anthropic and Google through the gateway', () => {
  let h: Harness;
  let anthropic: FakeUpstream;
  let google: FakeUpstream;
  let acct: { id: number; key: string };
  before(async () => {
    ({ h, anthropic, google } = await startClaudeGemini({
      // A model with a fallback of another provider, for refusals of only some routes.
      catalog: {
        models: [
          {
            slug: 'claude-sonnet-4.5',
            routes: [
              { provider: 'anthropic', model: 'claude-sonnet-4-5' },
              { provider: 'google', model: 'gemini-2.5-flash' },
            ],
          },
          // Gemini first, Claude behind it: for a tool schema only Gemini's SDK refuses.
          openAITextModel('gemini-then-claude', {
            routes: [
              { provider: 'google', model: 'gemini-2.5-flash' },
              { provider: 'anthropic', model: 'claude-haiku-4-5' },
            ],
          }),
        ],
      },
    }));
    acct = await h.account({ plan: 'pro', tokens: 100 });
  });
  after(() => closeClaudeGemini({ h, anthropic, google }));

  it('claude-haiku-4.5 streams through the Messages API with usage recorded', async () => {
    anthropic.respondWith({ chunks: ['Привет', ' 👋'], usage: { input: 9, output: 4 } });
    const r = await h.post('/api/v2/generate/stream', { model: 'claude-haiku-4.5', prompt: 'hi', system: 'Be kind.' }, acct.key);
    const events = sseEvents(r.text);
    assert.deepEqual(
      events.map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'content_delta', 'generation_end', '[DONE]'],
    );
    const sent = anthropic.requests.at(-1)!;
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.headers['x-api-key'], 'sk-ant-fake');
    assert.equal(sent.body.model, 'claude-haiku-4-5');
    const g = (await h.get(`/api/v2/generate/${events[0].id}`, acct.key)).json;
    assert.equal(g.result_text, 'Привет 👋');
    assert.deepEqual({ input_tokens: g.usage.input_tokens, output_tokens: g.usage.output_tokens, total_tokens: g.usage.total_tokens }, { input_tokens: 9, output_tokens: 4, total_tokens: 13 });
  });

  it('Anthropic overloaded_error mid-stream: error event, then [DONE], 0 charged', async () => {
    const before = await h.balance(acct.id);
    anthropic.respondWith({ chunks: ['partial'], ending: 'error-event' });
    const r = await h.post('/api/v2/generate/stream', { model: 'claude-haiku-4.5', prompt: 'hi' }, acct.key);
    const events = sseEvents(r.text);
    assert.deepEqual(
      events.map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'error', '[DONE]'],
    );
    assert.match(events[2].message, /Overloaded/);
    assert.equal(await h.balance(acct.id), before);
    const g = (await h.get(`/api/v2/generate/${events[0].id}`, acct.key)).json;
    assert.equal(g.status, 'failed');
  });

  it('Anthropic 529 before the stream, on every retry: JSON 500 provider_error, 0 charged', async () => {
    const before = await h.balance(acct.id);
    anthropic.respondWith({ status: 529 });
    const r = await h.post('/api/v2/generate', { model: 'claude-haiku-4.5', prompt: 'hi' }, acct.key);
    assert.equal(r.status, 500);
    assert.equal(r.json.error, 'provider_error');
    assert.equal(await h.balance(acct.id), before);
    anthropic.respondWith({});
  });

  it('gemini-2.5-flash generates through streamGenerateContent with usage', async () => {
    google.respondWith({ chunks: ['Hola', ' mundo'], usage: { input: 5, output: 2 } });
    const r = await h.post('/api/v2/generate', { model: 'gemini-2.5-flash', prompt: 'hi' }, acct.key);
    assert.equal(r.status, 200);
    assert.equal(r.json.result_text, 'Hola mundo');
    assert.equal(r.json.usage.input_tokens, 5);
    assert.equal(r.json.usage.output_tokens, 2);
    const sent = google.requests.at(-1)!;
    assert.match(sent.path, /^\/v1beta\/models\/gemini-2\.5-flash:streamGenerateContent\?alt=sse/);
    assert.equal(sent.headers['x-goog-api-key'], 'g-fake');
  });

  it('a field the provider cannot take (seed on Claude) is 400 naming it, before anything is counted, held or sent', async () => {
    const a = await h.account({ plan: 'pro', tokens: 10 });
    const remaining = (await h.get('/api/v2/balance', a.key)).headers.get('x-ratelimit-remaining-hour');
    const sent = anthropic.requests.length;
    const v1 = await h.post('/v1/chat/completions', { model: 'claude-haiku-4.5', messages: [{ role: 'user', content: 'hi' }], seed: 7 }, a.key);
    assert.equal(v1.status, 400, v1.text);
    assert.equal(v1.json.error.code, 'bad_request');
    assert.equal(v1.json.error.param, 'seed');
    assert.equal(v1.json.error.message, 'seed: Anthropic has no seed');
    assert.equal(v1.json.error.details.generation_id, undefined, 'no generation was created');
    const v2 = await h.post('/api/v2/generate', { model: 'claude-haiku-4.5', prompt: 'hi', params: { temperature: 1.5 } }, a.key);
    assert.equal(v2.status, 400, v2.text);
    assert.deepEqual(v2.json.details.fields, [{ path: 'params.temperature', message: 'Anthropic takes 0 to 1' }]);
    assert.equal(v2.headers.get('x-ratelimit-remaining-hour'), remaining, 'no request was counted');
    assert.equal(anthropic.requests.length, sent);
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).execute(), []);
  });

  it("a field only some routes refuse is served by the routes that take it; one no route takes names the first route's reason", async () => {
    const a = await h.account({ plan: 'pro', tokens: 10 });
    const sent = anthropic.requests.length;
    google.respondWith({ chunks: ['seeded'] });
    const r = await h.post('/api/v2/generate', { model: 'claude-sonnet-4.5', prompt: 'hi', seed: 7 }, a.key);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result_text, 'seeded');
    assert.equal(google.requests.at(-1)!.body.generationConfig.seed, 7);
    assert.equal(anthropic.requests.length, sent, 'the route that refuses seed was not tried');
    const both = await h.post('/v1/chat/completions', { model: 'claude-sonnet-4.5', messages: [{ role: 'user', content: 'hi' }], logprobs: true }, a.key);
    assert.equal(both.status, 400, both.text);
    assert.equal(both.json.error.param, 'logprobs');
    assert.equal(await h.balance(a.id), 10 - r.json.tokens_spent, 'only the served request was charged');
  });

  it("a tool schema only Gemini's SDK refuses goes to the route that takes it, unchanged", async () => {
    const a = await h.account({ plan: 'pro', tokens: 10 });
    const sent = google.requests.length;
    const parameters = { type: 'object', properties: { unit: { enum: ['celsius', 0] } } };
    anthropic.respondWith({ chunks: ['Claude took it'] });
    const r = await h.post(
      '/v1/chat/completions',
      { model: 'gemini-then-claude', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'convert', parameters } }] },
      a.key,
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'Claude took it');
    assert.deepEqual(anthropic.requests.at(-1)!.body.tools[0].input_schema, parameters);
    assert.equal(google.requests.length, sent, 'the Gemini route was not tried');
  });

  it('Gemini error mid-stream (connection cut): error event, 0 charged', async () => {
    const before = await h.balance(acct.id);
    google.respondWith({ chunks: ['uno'], ending: 'reset', delayMs: 20 });
    const r = await h.post('/api/v2/generate/stream', { model: 'gemini-2.5-flash', prompt: 'hi' }, acct.key);
    assert.deepEqual(
      sseEvents(r.text).map((e) => e.type ?? e),
      ['generation_start', 'content_delta', 'error', '[DONE]'],
    );
    assert.equal(await h.balance(acct.id), before);
  });
});

describe('a request the AI SDK refuses before sending it', () => {
  let h: Harness;
  let google: FakeUpstream;
  before(async () => {
    google = await startFakeGoogle();
    h = await startHarness({
      env: { GOOGLE_API_KEY: 'g-fake', GOOGLE_BASE_URL: `${google.origin}/v1beta` },
      catalog: { retries: { attempts: 2, backoff_ms: 5 }, circuit_breaker: { failures: 2, cooldown_ms: 60_000 } },
    });
  });
  after(async () => {
    await h.close();
    await google.close();
  });

  it("is the caller's 400, never retried or counted: another account is served after many of them", async () => {
    const noisy = await h.account({ plan: 'pro', tokens: 100 });
    // A system message after the first turn (OpenAI takes it; Gemini's SDK cannot place it), and a
    // tool schema whose enum mixes types (the SDK's Gemini schema conversion refuses it).
    const lateSystem = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'system', content: 'Answer in French.' },
      { role: 'user', content: 'How are you?' },
    ];
    const mixedEnum = [{ type: 'function', function: { name: 'pick', parameters: { type: 'object', properties: { v: { enum: [1, 'one'] } } } } }];
    for (let i = 0; i < 3; i++) {
      const late = await h.post('/v1/chat/completions', { model: 'gemini-2.5-flash', messages: lateSystem }, noisy.key);
      assert.equal(late.status, 400, late.text);
      assert.equal(late.json.error.code, 'bad_request');
      assert.equal(late.json.error.param, 'messages.2');
      assert.match(late.json.error.message, /system messages only before the first turn/);
      // On /api/v2 the path is the body's, after the `system` field's own system message.
      const v2 = await h.post('/api/v2/generate', { model: 'gemini-2.5-flash', system: 'Be brief.', messages: lateSystem }, noisy.key);
      assert.equal(v2.status, 400, v2.text);
      assert.equal(v2.json.details.fields[0].path, 'messages.2');
      const tools = await h.post('/api/v2/generate', { model: 'gemini-2.5-flash', prompt: 'Pick one', tools: mixedEnum }, noisy.key);
      assert.equal(tools.status, 400, tools.text);
      assert.equal(tools.json.error, 'bad_request');
      assert.equal(tools.json.details.fields[0].path, 'tools.0.function.parameters.properties.v');
      assert.match(tools.json.message, /enum/);
    }
    assert.equal(google.requests.length, 0, 'nothing was sent upstream');
    assert.equal(await h.balance(noisy.id), 100, '0 charged');
    const rows = await h.server.db.kysely.selectFrom('generations').select('error').where('account_id', '=', noisy.id).execute();
    assert.deepEqual(rows, [], 'no generation: both are refused before the hold');
    const other = await h.account({ plan: 'pro', tokens: 10 });
    google.respondWith({ chunks: ['Bien'] });
    const ok = await h.post('/v1/chat/completions', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] }, other.key);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.choices[0].message.content, 'Bien');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a tool or response_format schema the SDK cannot convert is 400 naming its place, before anything is counted, held or sent', async () => {
    const a = await h.account({ plan: 'pro', tokens: 10 });
    const remaining = (await h.get('/api/v2/balance', a.key)).headers.get('x-ratelimit-remaining-hour');
    const sent = google.requests.length;
    // Gemini's schema conversion in the SDK takes an enum of one type only.
    const mixed = { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['celsius', 0] } } };
    const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
    const convert = { type: 'function', function: { name: 'convert', parameters: mixed } };
    const messages = [{ role: 'user', content: 'Weather in Oslo?' }];
    const forecast = { type: 'json_schema', json_schema: { name: 'forecast', schema: mixed } };
    const cases: [string, Record<string, unknown>, string][] = [
      ['/v1/chat/completions', { messages, tools: [weather, convert] }, 'tools.1.function.parameters.properties.unit'],
      ['/v1/chat/completions', { messages, tools: [convert], tool_choice: 'required', stream: true }, 'tools.0.function.parameters.properties.unit'],
      ['/v1/chat/completions', { messages, response_format: forecast }, 'response_format.json_schema.schema.properties.unit'],
      ['/v1/responses', { input: 'Weather in Oslo?', tools: [{ type: 'function', name: 'convert', parameters: mixed }] }, 'tools.0.parameters.properties.unit'],
      ['/api/v2/generate', { prompt: 'Weather in Oslo?', tools: [weather, convert] }, 'tools.1.function.parameters.properties.unit'],
      ['/api/v2/generate', { prompt: 'Weather in Oslo?', params: { tools: [convert] } }, 'params.tools.0.function.parameters.properties.unit'],
      ['/api/v2/generate/stream', { messages, response_format: forecast }, 'response_format.json_schema.schema.properties.unit'],
      ['/api/v2/generate', { prompt: 'Weather in Oslo?', params: { response_format: forecast } }, 'params.response_format.json_schema.schema.properties.unit'],
      ['/api/v2/generate/stream', { prompt: 'Weather in Oslo?', params: { response_format: forecast } }, 'params.response_format.json_schema.schema.properties.unit'],
    ];
    for (const [path, body, field] of cases) {
      const r = await h.post(path, { model: 'gemini-2.5-flash', ...body }, a.key);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      const [code, param, message, details] = path.startsWith('/v1/')
        ? [r.json.error.code, r.json.error.param, r.json.error.message, r.json.error.details]
        : [r.json.error, r.json.details.fields[0].path, r.json.message, r.json.details];
      assert.deepEqual([code, param], ['bad_request', field], path);
      assert.match(message, /Google does not support this JSON Schema enum/);
      assert.equal(details.generation_id, undefined, `${path}: no generation was created`);
    }
    assert.equal(google.requests.length, sent, 'nothing was sent upstream');
    assert.equal(await h.balance(a.id), 10, 'nothing held or charged');
    assert.deepEqual(await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).execute(), []);
    assert.equal((await h.get('/api/v2/balance', a.key)).headers.get('x-ratelimit-remaining-hour'), remaining, 'no request was counted');
  });
});
