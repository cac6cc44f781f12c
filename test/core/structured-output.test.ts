// Structured output (docs/api.md): response_format goes upstream natively; with strict: true the
// finished answer is checked against the schema and a mismatch is a failed generation at 0.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import { testCatalog } from '../support/text-models.js';
import { SCHEMA_CHECK_MS } from '../../src/generation/structured-output.js';

const citySchema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' } }, required: ['city', 'population'], additionalProperties: false };
const strictFormat = { type: 'json_schema', json_schema: { name: 'city', schema: citySchema, strict: true } };
const messages = [{ role: 'user', content: 'Largest city in Norway?' }];
/** OpenAI's refusal as it streams: delta.refusal in pieces, content left out (after the fake's role chunk). */
const refusalChunks = (...pieces: string[]) =>
  pieces
    .map(
      (refusal) =>
        `data: ${JSON.stringify({ id: 'chatcmpl-r', object: 'chat.completion.chunk', created: 1735689600, model: 'plain-4o', choices: [{ index: 0, delta: { refusal }, logprobs: null, finish_reason: null }] })}\n\n`,
    )
    .join('');
const refused = "I'm sorry, I cannot help with that.";

describe('structured output', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ catalog: testCatalog });
  });
  after(() => h.close());

  it('json_schema strict: the format is sent as given; a matching answer is completed and charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['{"city":"Oslo",', '"population":709000}'] });
    const r = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: strictFormat }, a.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(h.fake.requests.at(-1)!.body.response_format, strictFormat);
    assert.equal(r.json.choices[0].message.content, '{"city":"Oslo","population":709000}');
    assert.equal(r.json.lumengate.tokens_spent, 1);
    assert.equal(await h.balance(a.id), 9);
  });

  it('a refusal is the answer: /v1 message.refusal with null content (strict schema not checked), delta.refusal when streamed, /api/v2 refusal and refusal_delta, /v1/responses a refusal part; completed and charged', async () => {
    const a = await h.account({ tokens: 10 });
    const raw = refusalChunks("I'm sorry, ", 'I cannot help with that.');
    for (const format of [strictFormat, { ...strictFormat, json_schema: { ...strictFormat.json_schema, strict: false } }]) {
      h.fake.respondWith({ chunks: [], raw });
      const r = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: format }, a.key);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.choices[0].message, { role: 'assistant', content: null, refusal: refused });
      assert.equal(r.json.choices[0].finish_reason, 'stop');
      assert.equal(r.json.lumengate.tokens_spent, 1);
      const g = await settled(h, r.json.lumengate.generation_id, a.key);
      assert.equal(g.status, 'completed');
      assert.equal(g.refusal, refused);
    }

    h.fake.respondWith({ chunks: [], raw });
    const s = await h.post('/v1/chat/completions', { model: 'plain-4o', stream: true, messages, response_format: strictFormat }, a.key);
    const deltas = sseEvents(s.text).flatMap((e) => (e !== '[DONE]' && e.choices[0]?.delta?.refusal ? [e.choices[0].delta.refusal] : []));
    assert.deepEqual(deltas, ["I'm sorry, ", 'I cannot help with that.']);
    assert.equal(sseEvents(s.text).at(-2).choices[0].finish_reason, 'stop');

    h.fake.respondWith({ chunks: [], raw });
    const v2 = await h.post('/api/v2/generate/stream', { model: 'plain-4o', messages, response_format: strictFormat }, a.key);
    const v2Events = sseEvents(v2.text);
    assert.deepEqual(
      v2Events.filter((e) => e.type === 'refusal_delta').map((e) => e.delta),
      ["I'm sorry, ", 'I cannot help with that.'],
    );
    assert.equal(v2Events.at(-2).type, 'generation_end');

    h.fake.respondWith({ chunks: [], raw });
    const resp = await h.post('/v1/responses', { model: 'plain-4o', input: 'Largest city in Norway?' }, a.key);
    assert.equal(resp.status, 200, resp.text);
    assert.deepEqual(resp.json.output[0].content, [{ type: 'refusal', refusal: refused }]);
    assert.equal(await h.balance(a.id), 5);
  });

  it('json_schema strict, answer not matching: /api/v2 stream ends with an error event code output_invalid, 0 charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['{"city":"Oslo"}'] });
    const r = await h.post('/api/v2/generate/stream', { model: 'plain-4o', messages, response_format: strictFormat }, a.key);
    assert.equal(r.status, 200);
    const events = sseEvents(r.text);
    const id = Number(r.headers.get('x-generation-id'));
    assert.deepEqual(events.slice(0, 2), [
      { type: 'generation_start', id, model: 'plain-4o' },
      { type: 'content_delta', delta: '{"city":"Oslo"}' },
    ]);
    const err = events[2];
    assert.equal(err.type, 'error');
    assert.equal(err.code, 'output_invalid');
    assert.equal(err.id, id);
    assert.match(err.message, /population/);
    assert.match(err.message, /^the answer does not match the response_format schema: /, 'named as sent: top level');
    assert.equal(events[3], '[DONE]');
    assert.equal(events.length, 4, 'no generation_end for a failed generation');
    const g = await settled(h, id, a.key);
    assert.equal(g.status, 'failed');
    assert.equal(g.tokens_spent, 0);
    assert.equal(await h.balance(a.id), 10);
  });

  it('json_schema strict, answer not JSON: JSON 500 provider_error with details.reason output_invalid on /api/v2 and /v1; /v1 stream gets an error event', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Oslo, about 700k people.'] });
    const v2 = await h.post('/api/v2/generate', { model: 'plain-4o', prompt: 'Largest city in Norway?', params: { response_format: strictFormat } }, a.key);
    assert.equal(v2.status, 500);
    assert.equal(v2.json.error, 'provider_error');
    assert.equal(v2.json.details.reason, 'output_invalid');
    assert.equal(typeof v2.json.details.generation_id, 'number');
    // Named where the body has it, in the answer and the stored error.
    assert.match(v2.json.message, /^the answer does not match the params\.response_format schema: the answer is not JSON/);
    assert.equal((await settled(h, v2.json.details.generation_id, a.key)).error, v2.json.message);
    const v1 = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: strictFormat }, a.key);
    assert.equal(v1.status, 500);
    assert.equal(v1.json.error.code, 'provider_error');
    assert.equal(v1.json.error.details.reason, 'output_invalid');
    const v1s = await h.post('/v1/chat/completions', { model: 'plain-4o', stream: true, messages, response_format: strictFormat }, a.key);
    const events = sseEvents(v1s.text);
    assert.deepEqual(events.at(-2).error.code, 'output_invalid');
    assert.equal(events.at(-1), '[DONE]');
    assert.ok(!events.some((e) => e !== '[DONE]' && e.choices?.[0]?.finish_reason), 'no finish chunk for a failed generation');
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('json_schema strict with tools: an answer that ends in tool calls is not checked, completed and charged on every surface', async () => {
    const a = await h.account({ tokens: 10 });
    const weather = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
    const call = { toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: ['{"city":"Oslo"}'] }], chunks: [] as string[] };
    h.fake.respondWith(call);
    const v1 = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, tools: [{ type: 'function', function: weather }], response_format: strictFormat }, a.key);
    assert.equal(v1.status, 200, v1.text);
    assert.equal(v1.json.choices[0].finish_reason, 'tool_calls');
    assert.equal(v1.json.choices[0].message.tool_calls[0].function.arguments, '{"city":"Oslo"}');
    h.fake.respondWith(call);
    const v1s = await h.post('/v1/chat/completions', { model: 'plain-4o', stream: true, messages, tools: [{ type: 'function', function: weather }], response_format: strictFormat }, a.key);
    const events = sseEvents(v1s.text);
    assert.equal(events.at(-2).choices[0].finish_reason, 'tool_calls', v1s.text);
    h.fake.respondWith(call);
    const v2 = await h.post('/api/v2/generate', { model: 'plain-4o', prompt: 'Weather in Oslo?', tools: [{ type: 'function', function: weather }], response_format: strictFormat }, a.key);
    assert.equal(v2.status, 200, v2.text);
    assert.equal(v2.json.tool_calls[0].function.name, 'get_weather');
    h.fake.respondWith(call);
    const format = { type: 'json_schema', name: 'city', schema: citySchema, strict: true };
    const resp = await h.post('/v1/responses', { model: 'plain-4o', input: 'Weather in Oslo?', tools: [{ type: 'function', ...weather }], text: { format } }, a.key);
    assert.equal(resp.status, 200, resp.text);
    assert.equal(resp.json.output[0].type, 'function_call');
    assert.equal(await h.balance(a.id), 6);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('an invalid schema is 422 before anything is held or sent', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const bad = { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'objekt' }, strict: true } };
    const v1 = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: bad }, a.key);
    assert.equal(v1.status, 422);
    assert.equal(v1.json.error.param, 'response_format.json_schema.schema');
    // /api/v2 names it where it was sent: at the top level, or in params (params wins, as for tool_choice).
    for (const [body, path] of [
      [{ response_format: bad }, 'response_format.json_schema.schema'],
      [{ params: { response_format: bad } }, 'params.response_format.json_schema.schema'],
      [{ response_format: { type: 'text' }, params: { response_format: bad } }, 'params.response_format.json_schema.schema'],
    ] as const) {
      for (const route of ['/api/v2/generate', '/api/v2/generate/stream']) {
        const v2 = await h.post(route, { model: 'plain-4o', prompt: 'x', ...body }, a.key);
        assert.deepEqual([v2.status, v2.json.details.fields[0].path, v2.json.message.split(': ')[0]], [422, path, path], `${route} ${JSON.stringify(body)}`);
      }
    }
    assert.equal(h.fake.requests.length, before);
    assert.equal(await h.balance(a.id), 10);
  });

  it('json_object and non-strict json_schema are forwarded and not checked', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['not json'] });
    const obj = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: { type: 'json_object' } }, a.key);
    assert.equal(obj.status, 200);
    assert.deepEqual(h.fake.requests.at(-1)!.body.response_format, { type: 'json_object' });
    const loose = { type: 'json_schema', json_schema: { name: 'city', schema: citySchema } };
    const r = await h.post('/api/v2/generate', { model: 'plain-4o', prompt: 'x', params: { response_format: loose } }, a.key);
    assert.equal(r.status, 200);
    assert.deepEqual(h.fake.requests.at(-1)!.body.response_format, loose);
    const text = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: { type: 'text' } }, a.key);
    assert.equal(text.status, 200);
    assert.equal(h.fake.requests.at(-1)!.body.response_format, undefined, 'type text is the default: nothing to send');
    assert.equal(await h.balance(a.id), 7);
  });

  // The schema is compiled, and the answer checked, off the event loop and within SCHEMA_CHECK_MS
  // (docs/api.md): on it, one request froze every other of the process.
  it('a pattern that backtracks on the answer: the check is stopped after its time, the generation fails at 0, and other requests are served meanwhile', async () => {
    const a = await h.account({ tokens: 10 });
    const b = await h.account({ tokens: 10 });
    const schema = { type: 'object', properties: { x: { type: 'string', pattern: '^(a+)+$' } }, required: ['x'] };
    // On V8's backtracking engine this answer takes minutes to refuse.
    h.fake.respondWith([{ chunks: [JSON.stringify({ x: `${'a'.repeat(30)}!` })] }, { chunks: ['{"x":"aaa"}'] }]);
    const arrived = h.fake.nextRequest();
    const stuck = h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } }, a.key);
    await arrived;
    const other = await h.post('/v1/chat/completions', { model: 'plain-4o', messages }, b.key);
    assert.equal(other.status, 200, other.text);
    const r = await stuck;
    assert.equal(r.status, 500, r.text);
    assert.equal(r.json.error.details.reason, 'output_invalid');
    assert.equal(r.json.error.message, `the answer does not match the response_format schema: not checked: the check did not finish within ${SCHEMA_CHECK_MS} ms`);
    assert.equal(await h.balance(a.id), 10, 'not charged');
    // The checks that follow run on a new worker.
    h.fake.respondWith({ chunks: ['{"x":"aaa"}'] });
    const ok = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } }, a.key);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(await h.balance(a.id), 9);
  });

  it('a schema too costly to compile (thousands of properties) is 422 before anything is held', async () => {
    const a = await h.account({ tokens: 0 });
    const properties = Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`p${i}`, { type: 'string', pattern: `^a${i}$` }]));
    const r = await h.post(
      '/v1/chat/completions',
      { model: 'plain-4o', messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties }, strict: true } } },
      a.key,
    );
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.error.param, 'response_format.json_schema.schema');
    assert.match(r.json.error.message, new RegExp(`too large or complex to check: the check did not finish within ${SCHEMA_CHECK_MS} ms`));
    assert.equal((await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).execute()).length, 0);
  });

  it("one account's schema $id stays its own: another account's schema with the same $id is compiled, and cannot $ref it", async () => {
    const a = await h.account({ tokens: 10 });
    const b = await h.account({ tokens: 10 });
    const format = (schema: object) => ({ type: 'json_schema', json_schema: { name: 'x', schema, strict: true } });
    const id = 'https://schemas.example.com/answer';
    h.fake.respondWith({ chunks: ['{"city":"Oslo"}'] });
    const first = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: format({ $id: id, type: 'object', properties: { city: { type: 'string' } } }) }, a.key);
    assert.equal(first.status, 200, first.text);
    const same = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: format({ $id: id, type: 'object', properties: { city: { const: 'Oslo' } } }) }, b.key);
    assert.equal(same.status, 200, same.text);
    const ref = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, response_format: format({ $ref: id }) }, b.key);
    assert.equal(ref.status, 422, ref.text);
    assert.match(ref.json.error.message, /can't resolve reference/);
  });
});
