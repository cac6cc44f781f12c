// Chat parameters (docs/api.md): every OpenAI field forwarded under its own name, mapped by
// the model's capability flags, or refused with 400 naming it; reasoning and usage details back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import { testCatalog } from '../support/text-models.js';

const messages = [{ role: 'user', content: 'hi' }];
const forwarded = {
  seed: 42,
  top_p: 0.9,
  frequency_penalty: 0.5,
  presence_penalty: -0.5,
  reasoning_effort: 'low',
  user: 'end-user-7',
  logprobs: true,
  top_logprobs: 3,
  temperature: 0.2,
  max_tokens: 64,
};

// A tool, a call of it, and a conversation in which the assistant made that call and `c` (the
// cases refusing unknown keys inside calls and tools, on /v1 and on /api/v2).
const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } };
const tool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' }, strict: true } };
const asked = (c: object) => [
  { role: 'user', content: 'weather?' },
  { role: 'assistant', content: null, tool_calls: [call, c] },
  { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
];

describe('parameters', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ catalog: testCatalog });
  });
  after(() => h.close());

  it('/v1 and /api/v2 (top level and params) forward every parameter with its OpenAI name', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    const bodies = [
      ['/v1/chat/completions', { model: 'plain-4o', messages, ...forwarded, stop: ['END', '##'] }],
      ['/api/v2/generate', { model: 'plain-4o', prompt: 'hi', ...forwarded, stop: ['END', '##'] }],
      ['/api/v2/generate', { model: 'plain-4o', prompt: 'hi', params: { ...forwarded, stop: ['END', '##'] } }],
    ] as const;
    for (const [path, body] of bodies) {
      const r = await h.post(path, body, a.key);
      assert.equal(r.status, 200, r.text);
      const sent = h.fake.requests.at(-1)!.body;
      assert.deepEqual(
        sent,
        {
          model: 'plain-4o',
          messages: [{ role: 'user', content: 'hi' }],
          ...forwarded,
          stop: ['END', '##'],
          stream: true,
          stream_options: { include_usage: true },
        },
        path,
      );
    }
  });

  it("stop as a string goes upstream as a one-element list; max_completion_tokens becomes the model's token limit", async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    const r = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, stop: 'END', max_completion_tokens: 30 }, a.key);
    assert.equal(r.status, 200, r.text);
    const sent = h.fake.requests.at(-1)!.body;
    assert.deepEqual(sent.stop, ['END']);
    assert.equal(sent.max_tokens, 30);
    assert.equal(sent.max_completion_tokens, undefined);
  });

  it('/v1: an unknown field is 400 naming it; refused OpenAI fields are 400 naming them; n other than 1 is refused; nothing is sent or held', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ temprature: 0.3 }, 400, 'temprature'],
      [{ functions: [{ name: 'f', parameters: {} }] }, 400, 'functions'],
      [{ function_call: 'auto' }, 400, 'function_call'],
      [{ logit_bias: { '50256': -100 } }, 400, 'logit_bias'],
      [{ audio: { voice: 'alloy', format: 'wav' } }, 400, 'audio'],
      [{ prediction: { type: 'content', content: 'x' } }, 400, 'prediction'],
      [{ n: 2 }, 422, 'n'],
      [{ store: true }, 422, 'store'],
    ];
    for (const [extra, status, param] of cases) {
      const r = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, ...extra }, a.key);
      assert.equal(r.status, status, JSON.stringify(extra));
      assert.equal(r.json.error.param, param, JSON.stringify(extra));
      assert.match(r.json.error.message, new RegExp(param));
    }
    const ok = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, n: 1, store: false }, a.key);
    assert.equal(ok.status, 200);
    assert.equal(h.fake.requests.length, before + 1);
    assert.equal(await h.balance(a.id), 9);
  });

  it('/api/v2: an option a text model does not use is 400 named where it was sent (params.temprature, size), streamed or not; nothing is sent or held', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const got: string[] = [];
    const want: string[] = [];
    for (const [extra, path] of [
      [{ params: { temprature: 0.3 } }, 'params.temprature'],
      [{ temprature: 0.3 }, 'temprature'],
      [{ size: '1024x1024' }, 'size'],
      [{ params: { size: '1024x1024' } }, 'params.size'],
      // params wins on a clash: the option is the one params gave.
      [{ temprature: 0.3, params: { temprature: 0.4 } }, 'params.temprature'],
    ] as const) {
      for (const route of ['/api/v2/generate', '/api/v2/generate/stream']) {
        const r = await h.post(route, { model: 'plain-4o', prompt: 'hi', ...extra }, a.key);
        const case_ = `${route} ${JSON.stringify(extra)}`;
        got.push(`${case_} -> ${r.status} ${r.json?.details?.fields?.[0]?.path} | ${r.json?.message}`);
        want.push(`${case_} -> 400 ${path} | ${path}: not a text generation option (model "plain-4o" is a text model)`);
      }
    }
    assert.deepEqual(got, want);
    assert.equal(h.fake.requests.length, before);
    assert.equal(await h.balance(a.id), 10);
  });

  it('/v1 messages: name is forwarded on every role; a key a message does not have is 400 naming it (messages.0.bogus_field); nothing sent or held', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    const named = [
      { role: 'system', content: 'brief', name: 'rules' },
      { role: 'user', content: 'hi', name: 'alice' },
      { role: 'assistant', content: null, tool_calls: [call], name: 'bot' },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny', name: 'get_weather' },
    ];
    const r = await h.post('/v1/chat/completions', { model: 'plain-4o', messages: named }, a.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [
      { role: 'system', content: 'brief', name: 'rules' },
      { role: 'user', content: 'hi', name: 'alice' },
      { role: 'assistant', content: null, tool_calls: [call], name: 'bot' },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny', name: 'get_weather' },
    ]);

    const before = h.fake.requests.length;
    for (const [msgs, param] of [
      [[{ role: 'user', content: 'hi', bogus_field: 1 }], 'messages.0.bogus_field'],
      [
        [
          { role: 'system', content: 'x' },
          { role: 'user', content: 'hi', tool_call_id: 'c' },
        ],
        'messages.1.tool_call_id',
      ],
    ] as const) {
      const bad = await h.post('/v1/chat/completions', { model: 'plain-4o', messages: msgs }, a.key);
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json.error.param, param);
      assert.match(bad.json.error.message, new RegExp(`${param}: unknown field`));
    }
    assert.equal(h.fake.requests.length, before);
    assert.equal(await h.balance(a.id), 9);
  });

  it('/v1 user and safety_identifier: one or the same value is forwarded as user; two different values are 400 naming safety_identifier, nothing sent or charged', async () => {
    const a = await h.account({ tokens: 10 });
    const chat = (extra: object) => h.post('/v1/chat/completions', { model: 'plain-4o', messages, ...extra }, a.key);
    const responses = (extra: object) => h.post('/v1/responses', { model: 'plain-4o', input: 'hi', ...extra }, a.key);
    for (const send of [chat, responses]) {
      for (const extra of [{ safety_identifier: 'hash-7' }, { user: 'hash-7', safety_identifier: 'hash-7' }]) {
        const r = await send(extra);
        assert.equal(r.status, 200, r.text);
        assert.equal(h.fake.requests.at(-1)!.body.user, 'hash-7');
      }
      const before = h.fake.requests.length;
      const bad = await send({ user: 'end-user-7', safety_identifier: 'hash-7' });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json.error.param, 'safety_identifier');
      assert.equal(h.fake.requests.length, before);
    }
    assert.equal(await h.balance(a.id), 6);
  });

  it('/v1 tool calls and tools: a key an assistant tool call, a tool or their function does not have is 400 naming its path; nothing sent, held or charged', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    for (const [body, param] of [
      [{ messages: asked({ ...call, id: 'call_2', foo: 1 }) }, 'messages.1.tool_calls.1.foo'],
      [{ messages: asked({ ...call, id: 'call_2', function: { ...call.function, bar: true } }) }, 'messages.1.tool_calls.1.function.bar'],
      [{ messages, tools: [tool, { ...tool, cache_control: { type: 'ephemeral' } }] }, 'tools.1.cache_control'],
      [{ messages, tools: [{ ...tool, function: { ...tool.function, examples: [] } }] }, 'tools.0.function.examples'],
    ] as const) {
      const bad = await h.post('/v1/chat/completions', { model: 'plain-4o', ...body }, a.key);
      assert.equal(bad.status, 400, bad.text);
      // The envelope of every other refused field (messages.0.bogus_field, logit_bias).
      assert.deepEqual([bad.json.error.type, bad.json.error.code, bad.json.error.param], ['invalid_request_error', 'bad_request', param]);
      assert.match(bad.json.error.message, new RegExp(`^${param}: unknown field`));
    }
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).execute(), [], 'nothing held');

    // The known keys still go through as they were.
    h.fake.respondWith({ chunks: ['ok'] });
    const ok = await h.post(
      '/v1/chat/completions',
      // `index` (a streamed call's place, which clients rebuilding calls from deltas send back) is taken, not forwarded.
      { model: 'plain-4o', messages: asked({ ...call, id: 'call_2', index: 1 }).concat({ role: 'tool', tool_call_id: 'call_2', content: 'dry' }), tools: [tool] },
      a.key,
    );
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages[1].tool_calls, [call, { ...call, id: 'call_2' }]);
    assert.deepEqual(h.fake.requests.at(-1)!.body.tools, [tool]);
  });

  it('/api/v2: a key a message, content part, tool, tool_choice or response_format does not have is 400 naming it where it was sent, streamed or not; known keys go through; nothing sent, held or charged', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const got: string[] = [];
    const want: string[] = [];
    for (const [body, path] of [
      [{ messages: [{ role: 'user', content: 'hi', foo: 1 }] }, 'messages.0.foo'],
      [
        {
          params: {
            messages: [
              { role: 'system', content: 'x' },
              { role: 'user', content: [{ type: 'text', text: 'hi', bar: 1 }] },
            ],
          },
        },
        'params.messages.1.content.0.bar',
      ],
      [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/a.png', foo: 1 } }] }] }, 'messages.0.content.0.image_url.foo'],
      [{ messages: asked({ ...call, id: 'call_2', function: { ...call.function, bar: true } }) }, 'messages.1.tool_calls.1.function.bar'],
      [{ prompt: 'hi', params: { tools: [{ type: 'function', function: { name: 'get_weather', baz: 1 } }] } }, 'params.tools.0.function.baz'],
      [{ prompt: 'hi', tools: [tool, { ...tool, cache_control: { type: 'ephemeral' } }] }, 'tools.1.cache_control'],
      [{ prompt: 'hi', tools: [tool], tool_choice: { type: 'function', function: { name: 'get_weather', foo: 1 } } }, 'tool_choice.function.foo'],
      [{ prompt: 'hi', params: { tools: [tool], tool_choice: { type: 'function', function: { name: 'get_weather' }, foo: 1 } } }, 'params.tool_choice.foo'],
      [{ prompt: 'hi', response_format: { type: 'json_object', foo: 1 } }, 'response_format.foo'],
      [{ prompt: 'hi', params: { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' }, foo: 1 } } } }, 'params.response_format.json_schema.foo'],
    ] as const) {
      for (const route of ['/api/v2/generate', '/api/v2/generate/stream']) {
        const r = await h.post(route, { model: 'plain-4o', ...body }, a.key);
        got.push(`${route} ${path} -> ${r.status} ${r.json?.error} ${r.json?.details?.fields?.[0]?.path} | ${r.json?.message}`);
        want.push(`${route} ${path} -> 400 bad_request ${path} | ${path}: unknown field`);
      }
    }
    assert.deepEqual(got, want);
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).execute(), [], 'nothing held');

    // The keys /v1 takes go through as they do there: name on every role, tool_call_id, a tool call's index (not forwarded), a tool's strict.
    h.fake.respondWith({ chunks: ['ok'] });
    const ok = await h.post(
      '/api/v2/generate',
      {
        model: 'plain-4o',
        messages: [
          { role: 'system', content: 'brief', name: 'rules' },
          { role: 'user', content: 'weather?', name: 'alice' },
          { role: 'assistant', content: null, tool_calls: [{ ...call, index: 0 }], name: 'bot' },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny', name: 'get_weather' },
        ],
        params: { tools: [tool], tool_choice: { type: 'function', function: { name: 'get_weather' } } },
      },
      a.key,
    );
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages[2].tool_calls, [call]);
    assert.deepEqual(h.fake.requests.at(-1)!.body.tools, [tool]);
  });

  it('/v1 messages: what clients send back of an earlier answer is taken (reasoning_content not forwarded, a refusal as the turn text, null function_call and audio)', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    const r = await h.post(
      '/v1/chat/completions',
      {
        model: 'plain-4o',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'Hello', refusal: null, reasoning_content: 'greet back', function_call: null, audio: null },
          { role: 'user', content: 'something bad' },
          { role: 'assistant', content: null, refusal: 'I cannot help with that.' },
          { role: 'user', content: 'ok' },
        ],
      },
      a.key,
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'something bad' },
      { role: 'assistant', content: 'I cannot help with that.' },
      { role: 'user', content: 'ok' },
    ]);
  });

  it("logprobs: the upstream's tokens reach /v1 choices[0].logprobs, whole and with each chunk, and the generation's logprobs", async () => {
    const a = await h.account({ tokens: 10 });
    const tokens = (...t: [string, number][]) =>
      t.map(([token, logprob]) => ({
        token,
        logprob,
        bytes: [...Buffer.from(token)],
        top_logprobs: [
          { token, logprob, bytes: [...Buffer.from(token)] },
          { token: `${token}~1`, logprob: logprob - 1, bytes: [...Buffer.from(`${token}~1`)] },
        ],
      }));
    const expected = tokens(['Hé', -0.5], ['llo', -1]);
    h.fake.respondWith({ chunks: ['Hé', 'llo'] });
    const r = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, logprobs: true, top_logprobs: 2 }, a.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.choices[0].logprobs, { content: expected, refusal: null });
    const g = await settled(h, r.json.lumengate.generation_id, a.key);
    assert.deepEqual(g.logprobs, expected);

    h.fake.respondWith({ chunks: ['Hé', 'llo'] });
    const s = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, stream: true, logprobs: true, top_logprobs: 2 }, a.key);
    const content = sseEvents(s.text).filter((e) => e !== '[DONE]' && e.choices[0]?.delta?.content);
    assert.deepEqual(
      content.map((e) => [e.choices[0].delta.content, e.choices[0].logprobs]),
      [
        ['Hé', { content: [expected[0]], refusal: null }],
        ['llo', { content: [expected[1]], refusal: null }],
      ],
    );

    // Not asked for: null, as OpenAI answers.
    h.fake.respondWith({ chunks: ['ok'] });
    const plain = await h.post('/v1/chat/completions', { model: 'plain-4o', messages }, a.key);
    assert.equal(plain.json.choices[0].logprobs, null);
    assert.equal((await settled(h, plain.json.lumengate.generation_id, a.key)).logprobs, null);
  });

  it('capability flags: max_tokens becomes max_completion_tokens, temperature 0.1 and sampling are not sent, temperature 1 is', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    // What LangChain (maxTokens) and LlamaIndex (temperature 0.1) send by default.
    const r = await h.post('/v1/chat/completions', { model: 'reasoner-o', messages, max_tokens: 100, temperature: 0.1, top_p: 0.9, presence_penalty: 0.3, seed: 1 }, a.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(h.fake.requests.at(-1)!.body, {
      model: 'reasoner-o',
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 100,
      seed: 1,
      stream: true,
      stream_options: { include_usage: true },
    });
    const v2 = await h.post('/api/v2/generate', { model: 'reasoner-o', prompt: 'hi', params: { temperature: 1, max_completion_tokens: 50 } }, a.key);
    assert.equal(v2.status, 200, v2.text);
    const sent = h.fake.requests.at(-1)!.body;
    assert.equal(sent.temperature, 1);
    assert.equal(sent.max_completion_tokens, 50);
    assert.equal(sent.max_tokens, undefined);
  });

  it('the shipped OpenAI gpt-5 family and deepseek-r1 carry the capability flags', async () => {
    const catalog = h.server.catalog;
    for (const slug of ['gpt-5-nano', 'gpt-5', 'gpt-5.2', 'gpt-5.2-pro']) {
      assert.deepEqual(catalog.get(slug)!.capabilities, { max_completion_tokens: true, fixed_temperature: 1, no_sampling: true }, slug);
    }
    assert.deepEqual(catalog.get('deepseek-r1')!.capabilities, { no_sampling: true });
    for (const m of catalog.models.filter((x) => x.category === 'text')) assert.ok(m.input_modalities.includes('text'), m.slug);
  });

  it("reasoning deltas reach the generation's reasoning, /v1 reasoning_content, and the v2 stream", async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ reasoning: ['Think', 'ing…'], chunks: ['42'], usage: { input: 20, output: 9, reasoning: 6, cachedInput: 16 } });
    const v2 = await h.post('/api/v2/generate', { model: 'plain-4o', prompt: 'answer?' }, a.key);
    assert.equal(v2.json.reasoning, 'Thinking…');
    assert.equal(v2.json.content, '42');
    assert.deepEqual(v2.json.usage, { input_tokens: 20, output_tokens: 9, total_tokens: 29, reasoning_tokens: 6, cached_input_tokens: 16 });

    const v1 = await h.post('/v1/chat/completions', { model: 'plain-4o', messages }, a.key);
    assert.equal(v1.json.choices[0].message.reasoning_content, 'Thinking…');
    assert.deepEqual(v1.json.usage, { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29, prompt_tokens_details: { cached_tokens: 16 }, completion_tokens_details: { reasoning_tokens: 6 } });

    const v1s = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, stream: true, stream_options: { include_usage: true } }, a.key);
    const events = sseEvents(v1s.text).slice(0, -1);
    assert.deepEqual(
      events.slice(1, 4).map((e) => e.choices[0].delta),
      [{ reasoning_content: 'Think' }, { reasoning_content: 'ing…' }, { content: '42' }],
    );
    assert.deepEqual(events.at(-1).usage, v1.json.usage);

    const v2s = await h.post('/api/v2/generate/stream', { model: 'plain-4o', prompt: 'answer?' }, a.key);
    assert.deepEqual(sseEvents(v2s.text).slice(1, 4), [
      { type: 'reasoning_delta', delta: 'Think' },
      { type: 'reasoning_delta', delta: 'ing…' },
      { type: 'content_delta', delta: '42' },
    ]);
    const g = await settled(h, Number(v2s.headers.get('x-generation-id')), a.key);
    assert.equal(g.reasoning, 'Thinking…');
    assert.equal(g.usage.reasoning_tokens, 6);
    assert.equal(g.usage.cached_input_tokens, 16);
  });
});
