// Tools (docs/api.md) through the real server and the fake OpenAI upstream: what goes upstream,
// what the client gets on /v1 and /api/v2 (JSON and streams), and that a tool-call answer is charged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import { openAITextModel, testCatalog } from '../support/text-models.js';

const weatherTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true },
};
const timeTool = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } };
const user = (text: string) => ({ role: 'user', content: text });
const oneCall = { toolCalls: [{ id: 'call_abc', name: 'get_weather', arguments: ['{"city"', ':"Paris"}'] }], chunks: [] as string[] };
const twoCalls = {
  chunks: [] as string[],
  toolCalls: [
    { id: 'call_1', name: 'get_weather', arguments: ['{"city":', '"Oslo"}'] },
    { id: 'call_2', name: 'get_time', arguments: ['{"tz":"Europe/Oslo"}'] },
  ],
};

/**
 * Posts each body (over `{model: 'plain-4o', prompt: 'hi'}`) to /api/v2/generate and
 * /api/v2/generate/stream and checks that the answer is 400 naming `path` in details.fields and
 * saying `message`. All cases are compared at once, so a failure lists every one that is wrong.
 */
async function assertNamedAt(h: Harness, key: string, cases: readonly (readonly [body: Record<string, unknown>, path: string, message: string])[]): Promise<void> {
  const got: string[] = [];
  const want: string[] = [];
  for (const [body, path, message] of cases) {
    for (const route of ['/api/v2/generate', '/api/v2/generate/stream']) {
      const r = await h.post(route, { model: 'plain-4o', prompt: 'hi', ...body }, key);
      const case_ = `${route} ${JSON.stringify(body)}`;
      got.push(`${case_} -> ${r.status} ${r.json?.details?.fields?.[0]?.path} | ${r.json?.message}`);
      want.push(`${case_} -> 400 ${path} | ${message}`);
    }
  }
  assert.deepEqual(got, want);
}

describe('tools', () => {
  let h: Harness;
  before(async () => {
    // And a model whose catalog entry says it takes no tools.
    h = await startHarness({ catalog: { models: [...testCatalog.models, openAITextModel('no-tools', { supports_tools: false })] } });
  });
  after(() => h.close());

  it('/v1 non-streaming: tools and tool_choice go upstream as sent; the answer has tool_calls, null content, finish_reason tool_calls; charged 1', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith(oneCall);
    const r = await h.post('/v1/chat/completions', { model: 'plain-4o', messages: [user('Weather in Paris?')], tools: [weatherTool], tool_choice: 'auto' }, a.key);
    assert.equal(r.status, 200, r.text);
    const sent = h.fake.requests.at(-1)!.body;
    assert.deepEqual(sent.tools, [weatherTool]);
    assert.equal(sent.tool_choice, 'auto');
    assert.deepEqual(r.json.choices[0].message, {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
    assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
    assert.equal(r.json.lumengate.tokens_spent, 1);
    assert.equal(await h.balance(a.id), 9);
    const g = await settled(h, r.json.lumengate.generation_id, a.key);
    assert.equal(g.status, 'completed');
    assert.equal(g.result_metadata.finish_reason, 'tool-calls');
  });

  it('/v1 streaming: each call opens with index, id and name, then its arguments in pieces; parallel calls keep their index', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith(twoCalls);
    const r = await h.post('/v1/chat/completions', { model: 'plain-4o', stream: true, messages: [user('Oslo weather and time')], tools: [weatherTool, timeTool], parallel_tool_calls: true }, a.key);
    assert.equal(r.status, 200, r.text);
    assert.equal(h.fake.requests.at(-1)!.body.parallel_tool_calls, true);
    const events = sseEvents(r.text);
    assert.equal(events.at(-1), '[DONE]');
    const choices = events.slice(0, -1).map((e) => e.choices[0]);
    assert.deepEqual(
      choices.map((c) => c.delta),
      [
        { role: 'assistant', content: '' },
        { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
        { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
        { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] },
        { tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } }] },
        { tool_calls: [{ index: 1, function: { arguments: '{"tz":"Europe/Oslo"}' } }] },
        {},
      ],
    );
    assert.deepEqual(
      choices.map((c) => c.finish_reason),
      [null, null, null, null, null, null, 'tool_calls'],
    );
    const id = Number(r.headers.get('x-generation-id'));
    const g = await settled(h, id, a.key);
    assert.equal(g.status, 'completed');
    assert.equal(g.tokens_spent, 1);
    assert.deepEqual(g.tool_calls, [
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Oslo"}' } },
    ]);
    assert.equal(await h.balance(a.id), 9);
  });

  it('/v1 streaming: a call whose name comes in a later fragment than its id opens with its id and name, then its arguments so far in one piece', async () => {
    const a = await h.account({ tokens: 10 });
    const frame = (call: Record<string, unknown>) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-t', object: 'chat.completion.chunk', created: 1735689600, model: 'plain-4o', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...call }] }, logprobs: null, finish_reason: null }] })}\n\n`;
    const raw = frame({ id: 'call_A', type: 'function', function: { arguments: '{"city":' } }) + frame({ function: { name: 'get_weather', arguments: '"Oslo"}' } });
    h.fake.respondWith({ chunks: [], raw });
    const r = await h.post('/v1/chat/completions', { model: 'plain-4o', stream: true, messages: [user('Oslo weather')], tools: [weatherTool] }, a.key);
    assert.equal(r.status, 200, r.text);
    const deltas = sseEvents(r.text)
      .slice(0, -1)
      .map((e) => e.choices[0]?.delta)
      .filter((d) => d?.tool_calls);
    assert.deepEqual(deltas, [
      { tool_calls: [{ index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] },
    ]);
  });

  it('/v1 streaming: parallel calls from a server that omits their index, or gives each index 0, stay two calls, each with its own index, id, name and arguments', async () => {
    const a = await h.account({ tokens: 10 });
    const frame = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-t', object: 'chat.completion.chunk', created: 1735689600, model: 'plain-4o', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    for (const index of [undefined, 0]) {
      // Servers that omit `index` (Gemini's OpenAI endpoint, some local servers) or reuse 0 for every call.
      const at = (call: Record<string, unknown>) => frame({ tool_calls: [{ ...(index === undefined ? {} : { index }), ...call }] });
      const raw =
        at({ id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '' } }) +
        at({ function: { arguments: '{"city":"Oslo"}' } }) +
        at({ id: 'call_B', type: 'function', function: { name: 'get_time', arguments: '{"tz":' } }) +
        at({ function: { arguments: '"CET"}' } }) +
        frame({}, 'tool_calls') +
        'data: [DONE]\n\n';
      h.fake.respondWith({ chunks: [], raw, ending: 'truncate' });
      const r = await h.post('/v1/chat/completions', { model: 'plain-4o', stream: true, messages: [user('Oslo weather and time')], tools: [weatherTool, timeTool] }, a.key);
      assert.equal(r.status, 200, r.text);
      const events = sseEvents(r.text).slice(0, -1);
      assert.deepEqual(
        events.map((e) => e.choices[0]?.delta).filter((d) => d?.tool_calls),
        [
          { tool_calls: [{ index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
          { tool_calls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] },
          { tool_calls: [{ index: 1, id: 'call_B', type: 'function', function: { name: 'get_time', arguments: '' } }] },
          { tool_calls: [{ index: 1, function: { arguments: '{"tz":' } }] },
          { tool_calls: [{ index: 1, function: { arguments: '"CET"}' } }] },
        ],
        `index ${index}`,
      );
      assert.equal(events.at(-1).choices[0].finish_reason, 'tool_calls');
      const g = await settled(h, Number(r.headers.get('x-generation-id')), a.key);
      assert.deepEqual(
        g.tool_calls,
        [
          { id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
          { id: 'call_B', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } },
        ],
        `index ${index}`,
      );
    }
    // A fragment with another id but no name is not a new call: it continues the one at its index.
    const raw =
      frame({ tool_calls: [{ index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] }) +
      frame({ tool_calls: [{ index: 0, id: 'call_A2', function: { arguments: '"Oslo"}' } }] }) +
      frame({}, 'tool_calls') +
      'data: [DONE]\n\n';
    h.fake.respondWith({ chunks: [], raw, ending: 'truncate' });
    const r = await h.post('/v1/chat/completions', { model: 'plain-4o', messages: [user('Oslo weather')], tools: [weatherTool] }, a.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.json.choices[0].message.tool_calls.map((c: { function: { name: string; arguments: string } }) => [c.function.name, c.function.arguments]),
      [['get_weather', '{"city":"Oslo"}']],
    );
  });

  it('/api/v2 non-streaming: top-level tools; the generation object carries tool_calls in OpenAI shape', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith(oneCall);
    const r = await h.post('/api/v2/generate', { model: 'plain-4o', prompt: 'Weather in Paris?', tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'get_weather' } } }, a.key);
    assert.equal(r.status, 200, r.text);
    const sent = h.fake.requests.at(-1)!.body;
    assert.deepEqual(sent.tools, [weatherTool]);
    assert.deepEqual(sent.tool_choice, { type: 'function', function: { name: 'get_weather' } });
    assert.equal(r.json.status, 'completed');
    assert.equal(r.json.result_text, '');
    assert.deepEqual(r.json.tool_calls, [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    assert.equal(r.json.result_metadata.finish_reason, 'tool-calls');
    assert.equal(r.json.tokens_spent, 1);
    assert.equal(await h.balance(a.id), 9);
  });

  it('/api/v2 stream: tools in params; one tool_call event per complete call, before generation_end', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ ...twoCalls, chunks: ['Checking.'] });
    const r = await h.post('/api/v2/generate/stream', { model: 'plain-4o', prompt: 'Oslo?', params: { tools: [weatherTool, timeTool], tool_choice: 'required', parallel_tool_calls: false } }, a.key);
    assert.equal(r.status, 200, r.text);
    const sent = h.fake.requests.at(-1)!.body;
    assert.deepEqual(sent.tools, [weatherTool, timeTool]);
    assert.equal(sent.tool_choice, 'required');
    assert.equal(sent.parallel_tool_calls, false);
    const events = sseEvents(r.text);
    const id = Number(r.headers.get('x-generation-id'));
    assert.deepEqual(events, [
      { type: 'generation_start', id, model: 'plain-4o' },
      { type: 'content_delta', delta: 'Checking.' },
      { type: 'tool_call', index: 0, id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { type: 'tool_call', index: 1, id: 'call_2', name: 'get_time', arguments: '{"tz":"Europe/Oslo"}' },
      { type: 'generation_end', id, tokens_spent: 1, tokens_used: 1, balance_remaining: 9 },
      '[DONE]',
    ]);
    const g = await settled(h, id, a.key);
    assert.equal(g.content, 'Checking.');
    assert.equal(g.tool_calls.length, 2);
  });

  it('a tool result in the next turn reaches the upstream as assistant tool_calls + tool message', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['It is 18°C in Paris.'] });
    const call = { id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
    const messages = [user('Weather in Paris?'), { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_abc', content: '{"temp_c":18}' }];
    for (const path of ['/v1/chat/completions', '/api/v2/generate']) {
      const r = await h.post(path, { model: 'plain-4o', messages, tools: [weatherTool] }, a.key);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(
        h.fake.requests.at(-1)!.body.messages,
        [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: 'call_abc', content: '{"temp_c":18}' },
        ],
        path,
      );
    }
    assert.equal(await h.balance(a.id), 8);
  });

  it('tool_choice forms: none, auto, required and a named function are forwarded; a function that is no tool is 422', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    for (const choice of ['none', 'auto', 'required', { type: 'function', function: { name: 'get_time' } }]) {
      const r = await h.post('/v1/chat/completions', { model: 'plain-4o', messages: [user('hi')], tools: [weatherTool, timeTool], tool_choice: choice }, a.key);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(h.fake.requests.at(-1)!.body.tool_choice, choice);
    }
    const before = h.fake.requests.length;
    const bad = await h.post('/v1/chat/completions', { model: 'plain-4o', messages: [user('hi')], tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'launch' } } }, a.key);
    assert.equal(bad.status, 422);
    assert.equal(bad.json.error.param, 'tool_choice.function.name');
    const noTools = await h.post('/v1/chat/completions', { model: 'plain-4o', messages: [user('hi')], tool_choice: 'required' }, a.key);
    assert.equal(noTools.status, 400);
    assert.equal(noTools.json.error.param, 'tool_choice');
    const parallelAlone = await h.post('/v1/chat/completions', { model: 'plain-4o', messages: [user('hi')], parallel_tool_calls: false }, a.key);
    assert.equal(parallelAlone.status, 400);
    assert.equal(parallelAlone.json.error.param, 'parallel_tool_calls');
    assert.equal(h.fake.requests.length, before, 'refused before any upstream call');
    assert.equal(await h.balance(a.id), 6);
  });

  it('a bad tool_choice names its own field (tool_choice.function.name, tool_choice.type) or lists what it takes, on /v1 and /api/v2, not "Invalid input" at tool_choice', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const allowed = '"none", "auto", "required", or {"type": "function", "function": {"name": …}} naming one of the tools';
    const cases = [
      ['sometimes', 422, 'tool_choice', `tool_choice: ${allowed}`],
      [{ type: 'function', function: { name: 5 } }, 422, 'tool_choice.function.name', 'tool_choice.function.name: Invalid input: expected string, received number'],
      [{ type: 'tool', function: { name: 'get_weather' } }, 422, 'tool_choice.type', 'tool_choice.type: Invalid input: expected "function"'],
      [{ type: 'function', function: {} }, 400, 'tool_choice.function.name', 'missing required field: tool_choice.function.name'],
      [{ type: 'function' }, 400, 'tool_choice.function', 'missing required field: tool_choice.function'],
    ] as const;
    for (const [choice, status, path, message] of cases) {
      const v1 = await h.post('/v1/chat/completions', { model: 'plain-4o', messages: [user('hi')], tools: [weatherTool], tool_choice: choice }, a.key);
      assert.deepEqual([v1.status, v1.json.error.param, v1.json.error.message], [status, path, message]);
      const v2 = await h.post('/api/v2/generate', { model: 'plain-4o', prompt: 'hi', tools: [weatherTool], tool_choice: choice }, a.key);
      assert.deepEqual([v2.status, v2.json.details.fields[0].path, v2.json.message], [status, path, message]);
    }
    assert.equal(h.fake.requests.length, before, 'refused before any upstream call');
    assert.equal(await h.balance(a.id), 10);
  });

  it('/api/v2: a tool_choice in params naming no tool, or without tools, is named where it was sent (params.tool_choice…)', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    for (const [body, status, path] of [
      [{ tools: [weatherTool], params: { tool_choice: { type: 'function', function: { name: 'launch' } } } }, 422, 'params.tool_choice.function.name'],
      [{ params: { tool_choice: 'required' } }, 400, 'params.tool_choice'],
      [{ params: { tools: [weatherTool] }, tool_choice: { type: 'function', function: { name: 'launch' } } }, 422, 'tool_choice.function.name'],
    ] as const) {
      const r = await h.post('/api/v2/generate', { model: 'plain-4o', prompt: 'hi', ...body }, a.key);
      assert.deepEqual([r.status, r.json.details.fields[0].path, r.json.message.split(/:? /)[0]], [status, path, path]);
    }
    assert.equal(h.fake.requests.length, before, 'refused before any upstream call');
    assert.equal(await h.balance(a.id), 10);
  });

  it('tools for a model that takes none are 400 named where they were sent (params.tools on /api/v2), nothing held or sent', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const noTools = 'model "no-tools" does not take tools';
    const v1 = await h.post('/v1/chat/completions', { model: 'no-tools', messages: [user('hi')], tools: [weatherTool] }, a.key);
    assert.deepEqual([v1.status, v1.json.error.param, v1.json.error.message], [400, 'tools', `tools: ${noTools}`]);
    await assertNamedAt(h, a.key, [
      [{ model: 'no-tools', params: { tools: [weatherTool] } }, 'params.tools', `params.tools: ${noTools}`],
      [{ model: 'no-tools', tools: [weatherTool] }, 'tools', `tools: ${noTools}`],
      // params wins on a clash, as for tool_choice.
      [{ model: 'no-tools', tools: [timeTool], params: { tools: [weatherTool] } }, 'params.tools', `params.tools: ${noTools}`],
    ]);
    assert.equal(h.fake.requests.length, before, 'refused before any upstream call');
    assert.equal(await h.balance(a.id), 10);
  });

  it('/api/v2: parallel_tool_calls without tools is named where it was sent (params.parallel_tool_calls), streamed or not', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    await assertNamedAt(h, a.key, [
      [{ params: { parallel_tool_calls: false } }, 'params.parallel_tool_calls', 'params.parallel_tool_calls needs tools'],
      [{ parallel_tool_calls: false }, 'parallel_tool_calls', 'parallel_tool_calls needs tools'],
      // params wins on a clash, as for tool_choice.
      [{ parallel_tool_calls: true, params: { parallel_tool_calls: false } }, 'params.parallel_tool_calls', 'params.parallel_tool_calls needs tools'],
    ]);
    assert.equal(h.fake.requests.length, before, 'refused before any upstream call');
    assert.equal(await h.balance(a.id), 10);
  });

  it('a tool message whose tool_call_id answers no earlier call is 422 naming it, nothing held or sent', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const messages = [
      user('Weather?'),
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_real', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_other', content: '{}' },
    ];
    const v1 = await h.post('/v1/chat/completions', { model: 'plain-4o', messages, tools: [weatherTool] }, a.key);
    assert.equal(v1.status, 422);
    assert.equal(v1.json.error.param, 'messages.2.tool_call_id');
    assert.match(v1.json.error.message, /call_other/);
    const v2 = await h.post('/api/v2/generate', { model: 'plain-4o', messages }, a.key);
    assert.equal(v2.status, 422);
    assert.equal(v2.json.details.fields[0].path, 'messages.2.tool_call_id');
    assert.equal(h.fake.requests.length, before);
    assert.equal(await h.balance(a.id), 10);
  });
});
