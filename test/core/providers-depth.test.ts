// Anthropic and Gemini behind /v1/chat/completions, against fakes speaking their real wire formats:
// tool calls come back OpenAI-shaped (whole and streamed), tool results go back in the provider's
// shape, reasoning and cached/reasoning token counts are recorded, and a parameter the provider
// cannot take is refused with 400 naming it before any upstream call, nothing charged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sseEvents, type Harness } from '../support/harness.js';
import { closeClaudeGemini, startClaudeGemini } from '../support/claude-gemini.js';
import type { FakeUpstream } from '../support/fake-upstream.js';

const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
];
const ask = [{ role: 'user', content: 'Weather in Paris and Oslo?' }];
const picture = (detail?: string) => ({ type: 'image_url', image_url: { url: 'https://example.com/cat.png', ...(detail ? { detail } : {}) } });

/** The tool calls of a chat-completion stream, reassembled the way OpenAI clients do. */
function streamedToolCalls(text: string): { calls: { id: string; name: string; arguments: string }[]; finish: string | undefined } {
  const calls: { id: string; name: string; arguments: string }[] = [];
  let finish: string | undefined;
  for (const e of sseEvents(text)) {
    if (e === '[DONE]') continue;
    const choice = e.choices?.[0];
    finish = choice?.finish_reason ?? finish;
    for (const t of choice?.delta?.tool_calls ?? []) {
      calls[t.index] ??= { id: '', name: '', arguments: '' };
      const c = calls[t.index]!;
      if (t.id) c.id = t.id;
      if (t.function?.name) c.name = t.function.name;
      c.arguments += t.function?.arguments ?? '';
    }
  }
  return { calls, finish };
}

describe('Anthropic and Google in depth through /v1/chat/completions', () => {
  let h: Harness;
  let anthropic: FakeUpstream;
  let google: FakeUpstream;
  let acct: { id: number; key: string };
  before(async () => {
    ({ h, anthropic, google } = await startClaudeGemini());
    acct = await h.account({ plan: 'pro', tokens: 1000 });
  });
  after(() => closeClaudeGemini({ h, anthropic, google }));

  it('Claude tool calls come back as OpenAI tool_calls with their toolu_ ids (non-streaming)', async () => {
    anthropic.respondWith({
      chunks: [],
      toolCalls: [
        { id: 'toolu_01A', name: 'get_weather', arguments: ['{"city":', '"Paris"}'] },
        { id: 'toolu_01B', name: 'get_weather', arguments: ['{"city":"Oslo"}'] },
      ],
    });
    const r = await h.post('/v1/chat/completions', { model: 'claude-haiku-4.5', messages: ask, tools }, acct.key);
    assert.equal(r.status, 200, r.text);
    const choice = r.json.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.deepEqual(choice.message.tool_calls, [
      { id: 'toolu_01A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'toolu_01B', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
    ]);
  });

  it('Claude tool calls stream as OpenAI tool_call deltas', async () => {
    anthropic.respondWith({ chunks: ['Checking.'], toolCalls: [{ id: 'toolu_01C', name: 'get_weather', arguments: ['{"ci', 'ty":"Paris"}'] }] });
    const r = await h.post('/v1/chat/completions', { model: 'claude-haiku-4.5', messages: ask, tools, stream: true }, acct.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(streamedToolCalls(r.text), { calls: [{ id: 'toolu_01C', name: 'get_weather', arguments: '{"city":"Paris"}' }], finish: 'tool_calls' });
  });

  it('Gemini calls stream with the ids the SDK made, and those ids name the results of the next turn', async () => {
    google.respondWith({
      chunks: [],
      toolCalls: [
        { id: '-', name: 'get_weather', arguments: ['{"city":"Paris"}'] },
        { id: '-', name: 'get_weather', arguments: ['{"city":"Oslo"}'] },
      ],
    });
    const r = await h.post('/v1/chat/completions', { model: 'gemini-2.5-flash', messages: ask, tools, stream: true }, acct.key);
    const { calls, finish } = streamedToolCalls(r.text);
    assert.equal(finish, 'tool_calls');
    assert.deepEqual(
      calls.map((c) => c.arguments),
      ['{"city":"Paris"}', '{"city":"Oslo"}'],
    );
    assert.ok(calls[0]!.id && calls[1]!.id && calls[0]!.id !== calls[1]!.id, JSON.stringify(calls));

    google.respondWith({ chunks: ['Sunny in both.'] });
    const next = await h.post(
      '/v1/chat/completions',
      {
        model: 'gemini-2.5-flash',
        tools,
        messages: [
          ...ask,
          { role: 'assistant', content: null, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) },
          // LangChain names a tool result after its tool: Gemini has that name from the call already.
          { role: 'tool', tool_call_id: calls[0]!.id, content: 'sunny', name: 'get_weather' },
          { role: 'tool', tool_call_id: calls[1]!.id, content: 'sunny too' },
        ],
      },
      acct.key,
    );
    assert.equal(next.status, 200, next.text);
    assert.equal(next.json.choices[0].message.content, 'Sunny in both.');
    const contents = google.requests.at(-1)!.body.contents.slice(1);
    // The first call goes back with the thought signature Gemini gave it (docs/api.md, Reasoning in tool loops).
    const signature = contents[0].parts[0].thoughtSignature;
    assert.match(signature, /^CiQB0e2Kb1/);
    assert.deepEqual(contents, [
      { role: 'model', parts: calls.map((c, i) => ({ functionCall: { id: c.id, name: 'get_weather', args: JSON.parse(c.arguments) }, ...(i === 0 ? { thoughtSignature: signature } : {}) })) },
      {
        role: 'user',
        parts: [
          { functionResponse: { id: calls[0]!.id, name: 'get_weather', response: { name: 'get_weather', content: 'sunny' } } },
          { functionResponse: { id: calls[1]!.id, name: 'get_weather', response: { name: 'get_weather', content: 'sunny too' } } },
        ],
      },
    ]);
  });

  for (const [model, body, field] of [
    ['claude-haiku-4.5', { seed: 7 }, 'seed'],
    ['claude-haiku-4.5', { frequency_penalty: 0.5 }, 'frequency_penalty'],
    ['claude-haiku-4.5', { temperature: 0.5, top_p: 0.9 }, 'top_p'],
    ['claude-haiku-4.5', { logprobs: true }, 'logprobs'],
    ['gemini-2.5-flash', { presence_penalty: 0.5 }, 'presence_penalty'],
    ['gemini-2.5-flash', { logprobs: true, top_logprobs: 2 }, 'logprobs'],
    // Neither API has participant names.
    ['claude-haiku-4.5', { messages: [{ role: 'user', content: 'hi', name: 'alice' }] }, 'messages.0.name'],
    [
      'gemini-2.5-flash',
      {
        messages: [
          { role: 'system', content: 'brief' },
          { role: 'user', content: 'hi', name: 'bob' },
        ],
      },
      'messages.1.name',
    ],
    // OpenAI's image detail has no counterpart on either provider: only "auto" (their own choice) goes through.
    ['claude-haiku-4.5', { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, picture('low')] }] }, 'messages.0.content.1.image_url.detail'],
    [
      'gemini-2.5-flash',
      {
        messages: [
          { role: 'system', content: 'brief' },
          { role: 'user', content: [picture('high')] },
        ],
      },
      'messages.1.content.0.image_url.detail',
    ],
    // An earlier call whose arguments are not a JSON object (cut off by max_tokens): Claude and Gemini take objects.
    [
      'claude-haiku-4.5',
      {
        messages: [
          ...ask,
          { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_01T', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Par' } }] },
          { role: 'tool', tool_call_id: 'toolu_01T', content: 'unknown city' },
        ],
      },
      'messages.1.tool_calls.0.function.arguments',
    ],
    [
      'gemini-2.5-flash',
      {
        messages: [
          { role: 'system', content: 'brief' },
          ...ask,
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
              { id: 'c2', type: 'function', function: { name: 'get_weather', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'c2', content: '?' },
        ],
      },
      'messages.2.tool_calls.1.function.arguments',
    ],
    // Claude reads files only as PDF or text/plain: the part is named, not the conversation.
    [
      'claude-haiku-4.5',
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'hi' },
              { type: 'file', file: { filename: 'a.csv', file_data: 'data:text/csv;base64,YSxi' } },
            ],
          },
        ],
      },
      'messages.0.content.1',
    ],
  ] as const) {
    it(`${model}: ${field} is refused with 400 naming it, nothing sent upstream, nothing charged`, async () => {
      const balance = await h.balance(acct.id);
      const sent = anthropic.requests.length + google.requests.length;
      const r = await h.post('/v1/chat/completions', { model, messages: ask, ...body }, acct.key);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.equal(r.json.error.param, field);
      assert.match(r.json.error.message, new RegExp(`\\b${field}\\b`));
      assert.equal(anthropic.requests.length + google.requests.length, sent);
      assert.equal(await h.balance(acct.id), balance);
    });
  }

  it('image (https with detail auto, and data:), PDF and audio parts reach Claude and Gemini in their own blocks, none dropped', async () => {
    const png = 'iVBORw0KGgo=';
    const parts = [
      { type: 'text', text: 'Compare' },
      picture('auto'),
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
      { type: 'file', file: { filename: 'spec.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' } },
    ];
    anthropic.respondWith({ chunks: ['ok'] });
    const claude = await h.post('/v1/chat/completions', { model: 'claude-haiku-4.5', messages: [{ role: 'user', content: parts }] }, acct.key);
    assert.equal(claude.status, 200, claude.text);
    assert.deepEqual(anthropic.requests.at(-1)!.body.messages[0].content, [
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' }, title: 'spec.pdf' },
    ]);
    google.respondWith({ chunks: ['ok'] });
    const audio = { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } };
    const gemini = await h.post('/v1/chat/completions', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [...parts, audio] }] }, acct.key);
    assert.equal(gemini.status, 200, gemini.text);
    assert.deepEqual(google.requests.at(-1)!.body.contents[0].parts, [
      { text: 'Compare' },
      { fileData: { mimeType: 'image/png', fileUri: 'https://example.com/cat.png' } },
      { inlineData: { mimeType: 'image/png', data: png } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0xLjQK' } },
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
    ]);
  });

  it('Claude thinking streams as reasoning_content; cached input tokens are reported', async () => {
    anthropic.respondWith({ reasoning: ['Paris is', ' in France.'], chunks: ['Sunny.'], usage: { input: 30, output: 12, cachedInput: 20 } });
    const r = await h.post(
      '/v1/chat/completions',
      { model: 'claude-haiku-4.5', messages: ask, reasoning_effort: 'low', user: 'end-user-42', stream: true, stream_options: { include_usage: true } },
      acct.key,
    );
    assert.equal(r.status, 200, r.text);
    const events = sseEvents(r.text).filter((e) => e !== '[DONE]');
    assert.equal(events.map((e) => e.choices?.[0]?.delta?.reasoning_content ?? '').join(''), 'Paris is in France.');
    assert.equal(events.map((e) => e.choices?.[0]?.delta?.content ?? '').join(''), 'Sunny.');
    const usage = events.filter((e) => e.usage).at(-1)!.usage;
    assert.deepEqual([usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens_details.cached_tokens], [30, 12, 20]);
    const sent = anthropic.requests.at(-1)!.body;
    assert.deepEqual(sent.thinking, { type: 'enabled', budget_tokens: 2048 });
    assert.deepEqual(sent.metadata, { user_id: 'end-user-42' });
  });

  it('Gemini thought parts come back as reasoning_content with thoughts and cached tokens counted', async () => {
    google.respondWith({ reasoning: ['Thinking about', ' the sky.'], chunks: ['Clear.'], usage: { input: 40, output: 25, cachedInput: 32, reasoning: 18 } });
    const r = await h.post('/v1/chat/completions', { model: 'gemini-2.5-flash', messages: ask, reasoning_effort: 'high' }, acct.key);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.reasoning_content, 'Thinking about the sky.');
    assert.equal(r.json.choices[0].message.content, 'Clear.');
    const u = r.json.usage;
    assert.deepEqual([u.prompt_tokens, u.completion_tokens, u.prompt_tokens_details.cached_tokens, u.completion_tokens_details.reasoning_tokens], [40, 25, 32, 18]);
    assert.deepEqual(google.requests.at(-1)!.body.generationConfig.thinkingConfig, { thinkingBudget: 24576, includeThoughts: true });
  });

  it("/api/v2: a provider's refusal once the generation runs names the field where the body has it (after system, in params.messages, params.response_format), as the check before the hold does, in the answer and the stored error", async () => {
    const a = await h.account({ tokens: 10 });
    const claude = h.server.app.services.providers.get('anthropic')!;
    const refuse = claude.refuse;
    const csv = { type: 'file', file: { filename: 'a.csv', file_data: 'data:text/csv;base64,YSxi' } };
    const messages = [{ role: 'user', content: [{ type: 'text', text: 'x' }, csv] }];
    const cases = [
      { body: { model: 'claude-haiku-4.5', system: 'be brief', messages }, path: 'messages.0.content.1' },
      { body: { model: 'claude-haiku-4.5', params: { messages } }, path: 'params.messages.0.content.1' },
      // Claude needs a schema: a json_object response_format is named where it was sent.
      { body: { model: 'claude-haiku-4.5', prompt: 'x', response_format: { type: 'json_object' } }, path: 'response_format' },
      { body: { model: 'claude-haiku-4.5', prompt: 'x', params: { response_format: { type: 'json_object' } } }, path: 'params.response_format' },
    ];
    try {
      for (const phase of ['before the hold', 'after the hold']) {
        // Claude's check before the hold, taken away: its open() refuses the CSV file once the generation runs.
        if (phase === 'after the hold') delete claude.refuse;
        for (const { body, path } of cases) {
          const r = await h.post('/api/v2/generate', body, a.key);
          assert.equal(r.status, 400, r.text);
          assert.deepEqual([r.json.details.fields[0].path, r.json.message.split(':')[0]], [path, path], `${phase}: ${JSON.stringify(Object.keys(body))}`);
          if (phase === 'after the hold') {
            const stored = await h.get(`/api/v2/generate/${r.json.details.generation_id}`, a.key);
            assert.deepEqual([stored.json.status, stored.json.error], ['failed', r.json.message]);
          }
        }
      }
    } finally {
      Object.assign(claude, { refuse });
    }
    assert.equal(await h.balance(a.id), 10, 'nothing charged');
  });

  it("/api/v2: a provider's refusal of an option sent in params names it there (params.seed), before the hold and in the stored error once the generation runs; at the top level as before", async () => {
    const a = await h.account({ tokens: 10 });
    const claude = h.server.app.services.providers.get('anthropic')!;
    const gemini = h.server.app.services.providers.get('google')!;
    const refuses = [claude.refuse, gemini.refuse];
    const cases: { body: Record<string, unknown>; path: string }[] = [
      { body: { model: 'claude-haiku-4.5', prompt: 'x', seed: 1 }, path: 'seed' },
      { body: { model: 'claude-haiku-4.5', prompt: 'x', params: { seed: 1 } }, path: 'params.seed' },
      { body: { model: 'claude-haiku-4.5', prompt: 'x', seed: 2, params: { seed: 1 } }, path: 'params.seed' },
      { body: { model: 'claude-haiku-4.5', prompt: 'x', params: { temperature: 1.5 } }, path: 'params.temperature' },
      // The field refused is named where it was sent, whichever place the other one was.
      { body: { model: 'claude-haiku-4.5', prompt: 'x', temperature: 0.5, params: { top_p: 0.9 } }, path: 'params.top_p' },
      { body: { model: 'claude-haiku-4.5', prompt: 'x', top_p: 0.9, params: { temperature: 0.5 } }, path: 'top_p' },
      { body: { model: 'claude-haiku-4.5', prompt: 'x', params: { logprobs: true } }, path: 'params.logprobs' },
      { body: { model: 'gemini-2.5-flash', prompt: 'x', tools, params: { parallel_tool_calls: false } }, path: 'params.parallel_tool_calls' },
      { body: { model: 'gemini-2.5-flash', prompt: 'x', tools, parallel_tool_calls: false }, path: 'parallel_tool_calls' },
    ];
    try {
      for (const phase of ['before the hold', 'after the hold']) {
        // The checks before the hold, taken away: open() refuses the same field once the generation runs.
        if (phase === 'after the hold') {
          delete claude.refuse;
          delete gemini.refuse;
        }
        for (const { body, path } of cases) {
          const r = await h.post('/api/v2/generate', body, a.key);
          assert.equal(r.status, 400, r.text);
          assert.deepEqual([r.json.details.fields[0].path, r.json.message.split(':')[0]], [path, path], `${phase}: ${JSON.stringify(body)}`);
          assert.equal(r.json.details.generation_id === undefined, phase === 'before the hold', r.text);
          if (phase === 'after the hold') {
            const stored = await h.get(`/api/v2/generate/${r.json.details.generation_id}`, a.key);
            assert.deepEqual([stored.json.status, stored.json.error], ['failed', r.json.message]);
          }
        }
      }
    } finally {
      Object.assign(claude, { refuse: refuses[0] });
      Object.assign(gemini, { refuse: refuses[1] });
    }
    assert.equal(await h.balance(a.id), 10, 'nothing charged');
  });
});
