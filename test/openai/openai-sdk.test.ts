// The /v1 surface through the official openai SDK: same keys, balance, prices and generation rows
// as /api/v2; chunk streams, usage, mid-stream errors, OpenAI-shaped typed errors, disconnects.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { settled, sseEvents, startHarness, type Harness } from '../support/harness.js';

const genId = (id: string) => {
  const m = /^gen-(\d+)$/.exec(id);
  assert.ok(m, `completion id ${id} is gen-<id>`);
  return Number(m[1]);
};

describe('/v1 with the openai SDK', () => {
  let h: Harness;
  const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${h.url}/v1`, maxRetries: 0 });
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('chat.completions.create: text, usage, gen-<id>, charged like /api/v2, same generation row', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Hello', ' there'], usage: { input: 21, output: 4 } });
    const { data: res, response } = await client(a.key)
      .chat.completions.create({
        model: 'gpt-5',
        messages: [
          { role: 'developer', content: 'be brief' },
          { role: 'user', content: [{ type: 'text', text: 'hi' }] },
        ],
        max_completion_tokens: 50,
      })
      .withResponse();
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, 'gpt-5');
    assert.equal(res.choices[0]!.message.content, 'Hello there');
    assert.equal(res.choices[0]!.finish_reason, 'stop');
    assert.deepEqual(res.usage, { prompt_tokens: 21, completion_tokens: 4, total_tokens: 25, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
    const id = genId(res.id);
    assert.equal(response.headers.get('x-generation-id'), String(id));
    assert.equal(response.headers.get('x-lumengate-tokens-spent'), '2');
    assert.deepEqual((res as any).lumengate, { generation_id: id, tokens_spent: 2, balance_remaining: 8 });
    assert.equal(await h.balance(a.id), 8);
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.equal(g.status, 'completed');
    assert.equal(g.result_text, 'Hello there');
    assert.equal(g.tokens_spent, 2);
    // The adapter's translation reached the upstream.
    const upstream = h.fake.requests.at(-1)!.body;
    assert.deepEqual(upstream.messages, [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi' },
    ]);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('stream with include_usage: role chunk, content chunks, stop chunk, usage chunk, [DONE]', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Once', ' upon', ' a time'], usage: { input: 9, output: 3 } });
    const stream = await client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'story' }], stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id && c.model === 'gpt-5-nano'));
    assert.deepEqual(chunks[0]!.choices[0]!.delta, { role: 'assistant', content: '' });
    assert.deepEqual(
      chunks.slice(1, 4).map((c) => c.choices[0]!.delta.content),
      ['Once', ' upon', ' a time'],
    );
    assert.equal(chunks[4]!.choices[0]!.finish_reason, 'stop');
    assert.deepEqual(chunks[5]!.choices, []);
    assert.deepEqual(chunks[5]!.usage, { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
    assert.equal(chunks.length, 6);
    const id = genId(chunks[0]!.id);
    assert.deepEqual((chunks[4] as any).lumengate, { generation_id: id, tokens_spent: 1, balance_remaining: 9 });
    assert.equal(await h.balance(a.id), 9);
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.equal(g.status, 'completed');
    assert.equal(g.result_text, 'Once upon a time');
  });

  it('stream without include_usage: no usage chunk; raw bytes end with [DONE]; x-generation-id header', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['a', 'b'] });
    const r = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'x' }], stream: true }, a.key);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const events = sseEvents(r.text);
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(events.length, 5);
    assert.ok(events.slice(0, 4).every((e) => e.usage === undefined));
    assert.equal(`gen-${r.headers.get('x-generation-id')}`, events[0].id);
  });

  it('stream_options.include_obfuscation: each delta chunk pads its delta to a multiple of 16 bytes with random letters and digits; not asked, no field', async () => {
    const a = await h.account({ tokens: 10 });
    const padded = (c: any) => {
      assert.match(c.obfuscation, /^[A-Za-z0-9]{1,16}$/);
      assert.equal((Buffer.byteLength(JSON.stringify(c.choices[0].delta)) + c.obfuscation.length) % 16, 0, JSON.stringify(c));
    };
    // Quotes, a newline and multi-byte characters: their escaped UTF-8 bytes are what the padding evens out.
    const texts = ['a', 'Sixteen letters!', 'say "é"\n', 'слово'];
    h.fake.respondWith({ chunks: texts, toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: ['{"city":', '"Oslo"}'] }] });
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const messages = [{ role: 'user' as const, content: 'x' }];
    const stream = await client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages, tools, stream: true, stream_options: { include_usage: true, include_obfuscation: true } });
    const chunks: any[] = [];
    for await (const c of stream) chunks.push(c);
    const withDelta = chunks.filter((c) => c.choices[0] && Object.keys(c.choices[0].delta).length > 0);
    assert.deepEqual(
      withDelta.map((c) => c.choices[0].delta.content ?? null).filter((t) => t),
      texts,
    );
    assert.ok(
      withDelta.some((c) => c.choices[0].delta.tool_calls),
      'tool call fragments are padded too',
    );
    withDelta.forEach(padded);
    // The finish and usage chunks carry no delta to hide.
    assert.ok(chunks.filter((c) => !withDelta.includes(c)).every((c) => c.obfuscation === undefined));
    assert.equal(new Set(withDelta.map((c) => c.obfuscation)).size, withDelta.length, 'random, not a fixed string');

    for (const options of [undefined, { include_obfuscation: false }]) {
      h.fake.respondWith({ chunks: texts });
      const plain = await client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages, stream: true, ...(options ? { stream_options: options } : {}) });
      const got: any[] = [];
      for await (const c of plain) got.push(c);
      assert.ok(got.length > texts.length);
      assert.ok(got.every((c) => !('obfuscation' in c)));
    }
  });

  it('mid-stream upstream failure: a bare {"error"} event as OpenAI sends it, then [DONE]; the SDK throws; 0 charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['one', 'two'], ending: 'reset', delayMs: 20 });
    const raw = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'x' }], stream: true }, a.key);
    const events = sseEvents(raw.text);
    assert.equal(events.at(-1), '[DONE]');
    const failed = events.at(-2);
    assert.deepEqual(Object.keys(failed), ['error']);
    assert.equal(failed.error.code, 'provider_error');
    assert.ok(failed.error.message.length > 0);

    h.fake.respondWith({ chunks: ['one', 'two'], ending: 'reset', delayMs: 20 });
    const stream = await client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'x' }], stream: true });
    const got: string[] = [];
    let id = 0;
    await assert.rejects(
      async () => {
        for await (const c of stream) {
          id = genId(c.id);
          got.push(c.choices[0]?.delta.content ?? '');
        }
      },
      (err: unknown) => err instanceof OpenAI.APIError && /provider error/.test(err.message),
    );
    assert.equal(got.join(''), 'onetwo');
    const g = await settled(h, id, a.key);
    assert.equal(g.status, 'failed');
    assert.equal(g.tokens_spent, 0);
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('errors before the stream are OpenAI-shaped with our statuses, so the SDK raises typed errors', async () => {
    const a = await h.account({ tokens: 0 });
    const b = await h.account({ tokens: 10 });
    const msgs = [{ role: 'user' as const, content: 'x' }];
    await assert.rejects(client('nb_wrong').chat.completions.create({ model: 'gpt-5-nano', messages: msgs }), OpenAI.AuthenticationError);
    await assert.rejects(
      client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages: msgs }),
      (e: any) => e instanceof OpenAI.APIError && e.status === 402 && e.code === 'insufficient_tokens' && e.type === 'insufficient_quota',
    );
    await assert.rejects(client(b.key).chat.completions.create({ model: 'no-such-model', messages: msgs, stream: true }), (e: any) => e instanceof OpenAI.NotFoundError && e.param === 'model');
    await assert.rejects(
      client(b.key).chat.completions.create({ model: 'gpt-5-nano', messages: msgs, temperature: 5 }),
      (e: any) => e instanceof OpenAI.UnprocessableEntityError && e.param === 'temperature' && e.code === 'validation_error',
    );
    h.fake.respondWith({ status: 500 });
    await assert.rejects(
      client(b.key).chat.completions.create({ model: 'gpt-5-nano', messages: msgs, stream: true }),
      (e: any) => e instanceof OpenAI.InternalServerError && e.code === 'provider_error' && /^\d+$/.test(e.headers.get('x-generation-id') ?? ''),
    );
    h.fake.respondWith({});
    const raw = await h.post('/v1/chat/completions', { model: 'gpt-5-nano' }, b.key);
    assert.equal(raw.status, 400);
    assert.deepEqual(Object.keys(raw.json.error).sort(), ['code', 'details', 'message', 'param', 'type']);
    assert.equal(raw.json.error.type, 'invalid_request_error');
    assert.equal(raw.json.error.code, 'bad_request');
    assert.equal((await h.post('/v1/chat/completions', '{"model":', b.key)).json.error.code, 'bad_request');
    assert.equal((await h.get('/v1/nothing-here', b.key)).json.error.code, 'not_found');
    assert.equal(await h.balance(b.id), 10);
  });

  it('content parts: a key a text, image_url, file, input_audio or refusal part (or its inner object) does not have is 400 naming its path; the parts the SDK sends go through', async () => {
    const a = await h.account({ tokens: 10 });
    const text = { type: 'text' as const, text: 'Describe these.' };
    const image = { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' as const } };
    const file = { type: 'file' as const, file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' } };
    const audio = { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } };
    const user = (...content: object[]) => [{ role: 'user', content }];
    const before = h.fake.requests.length;
    for (const [messages, param] of [
      [user(text, { ...image, foo: 1 }), 'messages.0.content.1.foo'],
      [user({ ...text, cache_control: { type: 'ephemeral' } }), 'messages.0.content.0.cache_control'],
      [user(text, { ...image, image_url: { ...image.image_url, foo: 1 } }), 'messages.0.content.1.image_url.foo'],
      [user({ ...file, file: { ...file.file, foo: 1 } }), 'messages.0.content.0.file.foo'],
      [user(text, { ...audio, input_audio: { ...audio.input_audio, foo: 1 } }), 'messages.0.content.1.input_audio.foo'],
      [[{ role: 'system', content: [{ ...text, foo: 1 }] }, ...user(text)], 'messages.0.content.0.foo'],
      [[...user(text), { role: 'assistant', content: [text, { type: 'refusal', refusal: 'no', foo: 1 }] }, ...user(text)], 'messages.1.content.1.foo'],
      [
        [
          ...user(text),
          { role: 'assistant', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: [{ ...text, foo: 1 }] },
        ],
        'messages.2.content.0.foo',
      ],
    ] as const) {
      const bad = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages }, a.key);
      assert.equal(bad.status, 400, bad.text);
      assert.deepEqual([bad.json.error.type, bad.json.error.code, bad.json.error.param], ['invalid_request_error', 'bad_request', param]);
      assert.match(bad.json.error.message, new RegExp(`^${param}: unknown field`));
    }
    // A file_id beside the inline data is refused by name, not dropped.
    const byId = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: user(text, { ...file, file: { ...file.file, file_id: 'file-abc' } }) }, a.key);
    assert.equal(byId.status, 400, byId.text);
    assert.equal(byId.json.error.param, 'messages.0.content.1.file.file_id');
    assert.match(byId.json.error.message, /file_id: not supported/);
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);

    // What the SDK's types have goes through: image detail, file name and data.
    h.fake.respondWith({ chunks: ['A chart.'] });
    const res = await client(a.key).chat.completions.create({
      model: 'gpt-5-nano',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
        { role: 'user', content: [text, image, file] },
      ],
    });
    assert.equal(res.choices[0]!.message.content, 'A chart.');
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [text, image, file] },
    ]);
  });

  it('tool_choice, response_format and stream_options: a key their objects do not have is 400 naming its path; what the SDK sends goes through', async () => {
    const a = await h.account({ tokens: 10 });
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const choice = { type: 'function' as const, function: { name: 'get_weather' } };
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const json_schema = { name: 'city', description: 'A city', strict: true, schema };
    const messages = [{ role: 'user' as const, content: 'x' }];
    const before = h.fake.requests.length;
    for (const [body, param] of [
      [{ tools, tool_choice: { ...choice, foo: 1 } }, 'tool_choice.foo'],
      [{ tools, tool_choice: { ...choice, function: { ...choice.function, foo: 1 } } }, 'tool_choice.function.foo'],
      [{ response_format: { type: 'json_schema', json_schema: { ...json_schema, foo: 1 } } }, 'response_format.json_schema.foo'],
      [{ response_format: { type: 'json_object', schema } }, 'response_format.schema'],
      [{ stream: true, stream_options: { include_usage: true, foo: 1 } }, 'stream_options.foo'],
    ] as const) {
      const bad = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages, ...body }, a.key);
      assert.equal(bad.status, 400, bad.text);
      assert.deepEqual([bad.json.error.type, bad.json.error.code, bad.json.error.param], ['invalid_request_error', 'bad_request', param]);
      assert.match(bad.json.error.message, new RegExp(`^${param}: unknown field`));
    }
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);

    // The SDK's named tool_choice, a json_schema with description and strict, and both stream_options.
    h.fake.respondWith({ chunks: [], toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: ['{"city":"Oslo"}'] }] });
    const called = await client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages, tools, tool_choice: choice });
    assert.equal(called.choices[0]!.finish_reason, 'tool_calls');
    assert.deepEqual(h.fake.requests.at(-1)!.body.tool_choice, choice);
    h.fake.respondWith({ chunks: ['{"city":"Oslo"}'] });
    const formatted = await client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages, response_format: { type: 'json_schema', json_schema } });
    assert.deepEqual(JSON.parse(formatted.choices[0]!.message.content!), { city: 'Oslo' });
    assert.deepEqual(h.fake.requests.at(-1)!.body.response_format, { type: 'json_schema', json_schema });
    h.fake.respondWith({ chunks: ['ok'], usage: { input: 3, output: 1 } });
    const stream = await client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages, stream: true, stream_options: { include_usage: true, include_obfuscation: false } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    assert.equal(chunks.at(-1)!.usage?.total_tokens, 4);
    assert.equal(await h.balance(a.id), 7);
  });

  it('models.list and models.retrieve: the chat models of the catalog, key required', async () => {
    const a = await h.account();
    const list = [];
    for await (const m of client(a.key).models.list()) list.push(m);
    assert.ok(list.some((m) => m.id === 'gpt-5-nano' && m.object === 'model'));
    assert.ok(!list.some((m) => m.id === 'dall-e-3'), 'image models are not chat models');
    assert.equal((await client(a.key).models.retrieve('gpt-5')).id, 'gpt-5');
    await assert.rejects(client('nb_nope').models.list(), OpenAI.AuthenticationError);
  });

  it('client abort mid-stream aborts the upstream; completed with partial text and charged (docs/api.md)', async () => {
    const a = await h.account({ tokens: 10 });
    // Two chunks, then the upstream holds the rest until its connection closes: the stream cannot
    // end on its own before the client aborts, however slow the machine.
    let release!: () => void;
    h.fake.respondWith({ chunks: Array.from({ length: 200 }, (_, i) => `w${i} `), holdAfter: { writes: 2, until: new Promise<void>((r) => (release = r)) } });
    const controller = new AbortController();
    const stream = await client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'long' }], stream: true }, { signal: controller.signal });
    let id = 0;
    // The SDK ends the iteration quietly when its signal aborts.
    for await (const c of stream) {
      id = genId(c.id);
      if (c.choices[0]?.delta.content) controller.abort();
    }
    const upstream = h.fake.requests.at(-1)!;
    await upstream.closed;
    release();
    const g = await settled(h, id, a.key);
    assert.equal(g.status, 'completed');
    assert.equal(g.result_metadata.finish_reason, 'client_disconnected');
    assert.equal(g.tokens_spent, 1);
    assert.equal(await h.balance(a.id), 9);
  });

  it('chat.completions.parse and .stream: a refusal is message.refusal and parsed stays null', async () => {
    const a = await h.account({ tokens: 10 });
    const chunk = (refusal: string) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-r', object: 'chat.completion.chunk', created: 1735689600, model: 'gpt-5-nano', choices: [{ index: 0, delta: { refusal }, logprobs: null, finish_reason: null }] })}\n\n`;
    const raw = chunk("I'm sorry, ") + chunk('I cannot help with that.');
    const response_format = {
      type: 'json_schema' as const,
      json_schema: { name: 'city', strict: true, schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } },
    };
    const body = { model: 'gpt-5-nano', messages: [{ role: 'user' as const, content: 'Largest city?' }], response_format };
    h.fake.respondWith({ chunks: [], raw });
    const parsed = await client(a.key).chat.completions.parse(body);
    assert.equal(parsed.choices[0]!.message.refusal, "I'm sorry, I cannot help with that.");
    assert.equal(parsed.choices[0]!.message.parsed, null);
    h.fake.respondWith({ chunks: [], raw });
    const runner = client(a.key).chat.completions.stream(body);
    const deltas: string[] = [];
    runner.on('refusal.delta', (e) => void deltas.push(e.delta));
    const final = await runner.finalChatCompletion();
    assert.deepEqual(deltas, ["I'm sorry, ", 'I cannot help with that.']);
    assert.equal(final.choices[0]!.message.refusal, "I'm sorry, I cannot help with that.");
  });

  it('chat with tools, streamed and not: the SDK assembles the call (id, name, parsed arguments)', async () => {
    const a = await h.account({ tokens: 10 });
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    const call = { id: 'call_9', name: 'get_weather', arguments: ['{"city"', ':"Kyiv"}'] };
    h.fake.respondWith({ chunks: [], toolCalls: [call] });
    const res = await client(a.key).chat.completions.create({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'weather?' }], tools, tool_choice: 'required' });
    assert.equal(res.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(res.choices[0]!.message.content, null);
    const c = res.choices[0]!.message.tool_calls![0]!;
    assert.ok(c.type === 'function');
    assert.deepEqual([c.id, c.function.name, JSON.parse(c.function.arguments)], ['call_9', 'get_weather', { city: 'Kyiv' }]);
    assert.equal(h.fake.requests.at(-1)!.body.tool_choice, 'required');

    h.fake.respondWith({ chunks: [], toolCalls: [call] });
    const runner = client(a.key).chat.completions.stream({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'weather?' }], tools });
    const done: string[] = [];
    runner.on('tool_calls.function.arguments.done', (e) => done.push(e.arguments));
    const final = await runner.finalChatCompletion();
    const sc = final.choices[0]!.message.tool_calls![0]!;
    assert.ok(sc.type === 'function');
    assert.deepEqual([sc.id, sc.function.name, JSON.parse(sc.function.arguments)], ['call_9', 'get_weather', { city: 'Kyiv' }]);
    assert.deepEqual(done, ['{"city":"Kyiv"}']);
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(await h.balance(a.id), 8);
  });
});
