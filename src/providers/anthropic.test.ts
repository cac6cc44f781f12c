import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeUpstream } from '../../test/support/fake-anthropic.js';
import { drain, providerConformance, request } from '../../test/support/provider-conformance.js';
import type { Message, ProviderError } from './spec.js';
import { anthropicProvider } from './anthropic.js';

const make = (fake: FakeUpstream) => anthropicProvider('anthropic', { type: 'anthropic', base_url: `${fake.origin}/v1`, api_key: 'sk-ant-test' });

providerConformance({ name: 'anthropic', startFake: startFakeAnthropic, makeProvider: make, overloadStatus: 529 });

describe('anthropic: request on the wire', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeAnthropic()));
  after(() => fake.close());

  it('posts to /v1/messages with x-api-key, model, system prompt, messages, temperature and max_tokens', async () => {
    const stream = await make(fake).open(
      request({
        upstreamModel: 'claude-haiku-4-5',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'Again' },
        ],
        temperature: 0.3,
        maxTokens: 77,
      }),
    );
    await drain(stream.parts);
    const got = fake.requests.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/v1/messages');
    assert.equal(got.headers['x-api-key'], 'sk-ant-test');
    assert.equal(got.headers.authorization, undefined);
    assert.ok(got.headers['anthropic-version']);
    assert.equal(got.body.model, 'claude-haiku-4-5');
    assert.equal(got.body.stream, true);
    assert.deepEqual(got.body.system, [{ type: 'text', text: 'Be brief.' }]);
    assert.deepEqual(got.body.messages, [
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Hello.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Again' }] },
    ]);
    assert.equal(got.body.temperature, 0.3);
    assert.equal(got.body.max_tokens, 77);
  });

  it('sends extra configured headers', async () => {
    const provider = anthropicProvider('anthropic', { type: 'anthropic', base_url: `${fake.origin}/v1`, api_key: 'k', headers: { 'x-team': 'core' } });
    await drain((await provider.open(request())).parts);
    assert.equal(fake.requests.at(-1)!.headers['x-team'], 'core');
  });

  it('reports an in-stream overloaded_error with its message', async () => {
    fake.respondWith({ chunks: ['a'], ending: 'error-event' });
    const got = await drain((await make(fake).open(request())).parts);
    assert.deepEqual(got.deltas, ['a']);
    assert.match(String((got.error as Error).message), /Overloaded/);
  });
});

const weather = { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

describe('anthropic: tools', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeAnthropic()));
  after(() => fake.close());

  it('sends the tools and streams one tool_use block as tool-input parts, then the complete call', async () => {
    fake.respondWith({ chunks: ['Let me check.'], toolCalls: [{ id: 'toolu_01A', name: 'get_weather', arguments: ['{"city":', ' "Paris"}'] }] });
    const got = await drain((await make(fake).open(request({ upstreamModel: 'claude-haiku-4-5', tools: [weather], toolChoice: 'required' }))).parts);
    assert.equal(got.error, undefined);
    assert.deepEqual(got.deltas, ['Let me check.']);
    assert.deepEqual(
      got.parts.filter((p) => p.type.startsWith('tool-')),
      [
        { type: 'tool-input-start', index: 0, id: 'toolu_01A', name: 'get_weather' },
        { type: 'tool-input-delta', index: 0, delta: '{"city":' },
        { type: 'tool-input-delta', index: 0, delta: ' "Paris"}' },
        { type: 'tool-input-end', index: 0 },
        { type: 'tool-call', index: 0, id: 'toolu_01A', name: 'get_weather', arguments: '{"city": "Paris"}' },
      ],
    );
    assert.equal(got.finish?.finishReason, 'tool-calls');
    const body = fake.requests.at(-1)!.body;
    // eager_input_streaming: the SDK asks for fine-grained tool input streaming when streaming.
    assert.deepEqual(body.tools, [{ name: 'get_weather', description: 'Weather for a city', input_schema: weather.parameters, eager_input_streaming: true }]);
    assert.deepEqual(body.tool_choice, { type: 'any' });
  });

  it('streams two parallel calls with their own indices and ids', async () => {
    fake.respondWith({
      chunks: [],
      toolCalls: [
        { id: 'toolu_01A', name: 'get_weather', arguments: ['{"city":"Paris"}'] },
        { id: 'toolu_01B', name: 'get_weather', arguments: ['{"city":', '"Oslo"}'] },
      ],
    });
    const got = await drain((await make(fake).open(request({ upstreamModel: 'claude-haiku-4-5', tools: [weather] }))).parts);
    assert.deepEqual(got.toolCalls, [
      { id: 'toolu_01A', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'toolu_01B', name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ]);
    assert.deepEqual(
      got.parts.filter((p) => p.type === 'tool-call').map((p) => (p as { index: number }).index),
      [0, 1],
    );
    assert.deepEqual(got.deltas, []);
    assert.equal(got.finish?.finishReason, 'tool-calls');
  });

  it('sends the earlier call as a tool_use block and its result as a tool_result block', async () => {
    fake.respondWith({ chunks: ['Sunny.'] });
    await drain(
      (
        await make(fake).open(
          request({
            upstreamModel: 'claude-haiku-4-5',
            tools: [weather],
            parallelToolCalls: false,
            messages: [
              { role: 'user', content: 'Weather in Paris?' },
              { role: 'assistant', content: 'Checking.', toolCalls: [{ id: 'toolu_01A', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
              { role: 'tool', toolCallId: 'toolu_01A', content: '{"sky":"clear"}' },
            ],
          }),
        )
      ).parts,
    );
    const body = fake.requests.at(-1)!.body;
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: '{"sky":"clear"}' }] },
    ]);
    assert.deepEqual(body.tool_choice, { type: 'auto', disable_parallel_tool_use: true });
  });
});

describe('anthropic: thinking in a tool loop', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeAnthropic()));
  after(() => fake.close());
  const question: Message = { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] };
  const result: Message = { role: 'tool', toolCallId: 'toolu_01A', content: '{"sky":"clear"}' };

  async function firstTurn() {
    fake.respondWith({
      redactedThinking: 'EmwKAhgBEgyRedacted',
      reasoning: ['Paris: ', 'ask the tool.'],
      chunks: ['Checking.'],
      toolCalls: [{ id: 'toolu_01A', name: 'get_weather', arguments: ['{"city":"Paris"}'] }],
    });
    const got = await drain((await make(fake).open(request({ upstreamModel: 'claude-haiku-4-5', tools: [weather], reasoningEffort: 'low', messages: [question] }))).parts);
    const call = got.parts.find((p) => p.type === 'tool-call');
    assert.ok(call?.type === 'tool-call');
    return call;
  }

  it("a call's state is the thinking before it: the redacted block's data, the thinking's whole text and signature", async () => {
    const call = await firstTurn();
    // The fake signs each message's thinking anew: the second test shows it takes this one back.
    const signature = call.state?.reasoning?.[1]?.metadata.anthropic?.signature;
    assert.match(String(signature), /^EqQBCkgIBhABGAIiQL2Z/);
    assert.deepEqual(call.state, {
      reasoning: [
        { text: '', metadata: { anthropic: { redactedData: 'EmwKAhgBEgyRedacted' } } },
        { text: 'Paris: ask the tool.', metadata: { anthropic: { signature } } },
      ],
    });
  });

  it('given back with the call, the thinking opens the assistant turn, before its text; the fake (as Claude) takes it', async () => {
    const call = await firstTurn();
    fake.respondWith({ chunks: ['Sunny.'] });
    const assistant: Message = { role: 'assistant', content: 'Checking.', toolCalls: [{ id: call.id, name: call.name, arguments: call.arguments, state: call.state! }] };
    const got = await drain((await make(fake).open(request({ upstreamModel: 'claude-haiku-4-5', tools: [weather], reasoningEffort: 'low', messages: [question, assistant, result] }))).parts);
    assert.equal(got.error, undefined);
    assert.deepEqual(got.deltas, ['Sunny.']);
    const body = fake.requests.at(-1)!.body;
    assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 2048 });
    assert.deepEqual(body.messages[1].content, [
      { type: 'redacted_thinking', data: 'EmwKAhgBEgyRedacted' },
      { type: 'thinking', thinking: 'Paris: ask the tool.', signature: call.state!.reasoning![1]!.metadata.anthropic!.signature },
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
    ]);
  });

  it('a call whose thinking was not kept: the request goes without thinking, which Claude takes (with it, Claude refuses)', async () => {
    fake.respondWith({ chunks: ['Sunny.'] });
    const assistant: Message = { role: 'assistant', content: 'Checking.', toolCalls: [{ id: 'toolu_01A', name: 'get_weather', arguments: '{"city":"Paris"}' }] };
    const got = await drain((await make(fake).open(request({ upstreamModel: 'claude-haiku-4-5', tools: [weather], reasoningEffort: 'low', messages: [question, assistant, result] }))).parts);
    assert.equal(got.error, undefined);
    assert.equal(fake.requests.at(-1)!.body.thinking, undefined);
    assert.equal(fake.requests.at(-1)!.body.messages[1].content[0].type, 'text');
  });

  it("another provider's state is not sent to Claude", async () => {
    fake.respondWith({ chunks: ['Sunny.'] });
    const state = { reasoning: [{ text: 'Gemini thought', metadata: { google: { thoughtSignature: 'CiQB' } } }], metadata: { google: { thoughtSignature: 'CiQB' } } };
    const assistant: Message = { role: 'assistant', content: '', toolCalls: [{ id: 'toolu_01A', name: 'get_weather', arguments: '{"city":"Paris"}', state }] };
    await drain((await make(fake).open(request({ upstreamModel: 'claude-haiku-4-5', tools: [weather], messages: [question, assistant, result] }))).parts);
    assert.deepEqual(fake.requests.at(-1)!.body.messages[1].content, [{ type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } }]);
  });
});

const pngData = 'iVBORw0KGgo=';
const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };

describe('anthropic: structured output, images and files', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeAnthropic()));
  after(() => fake.close());

  it('json_schema becomes output_config.format (native structured output on Claude 4.5)', async () => {
    await drain((await make(fake).open(request({ upstreamModel: 'claude-haiku-4-5', responseFormat: { type: 'json_schema', name: 'answer', schema } }))).parts);
    const body = fake.requests.at(-1)!.body;
    assert.deepEqual(body.output_config, { format: { type: 'json_schema', schema } });
    assert.equal(body.tools, undefined);
  });

  it('json_object without a schema is refused before any call', async () => {
    const sent = fake.requests.length;
    await assert.rejects(make(fake).open(request({ responseFormat: { type: 'json_object' } })), (err: ProviderError) => err.status === 400 && /^response_format:/.test(err.message));
    assert.equal(fake.requests.length, sent);
  });

  it('a data-URL image, an https image and a PDF become image and document blocks', async () => {
    await drain(
      (
        await make(fake).open(
          request({
            upstreamModel: 'claude-haiku-4-5',
            messages: [
              {
                role: 'user',
                content: [
                  { type: 'text', text: 'Compare' },
                  { type: 'image', url: `data:image/png;base64,${pngData}` },
                  { type: 'image', url: 'https://example.com/cat.jpg' },
                  { type: 'file', data: 'JVBERi0xLjQK', mediaType: 'application/pdf', filename: 'spec.pdf' },
                ],
              },
            ],
          }),
        )
      ).parts,
    );
    assert.deepEqual(fake.requests.at(-1)!.body.messages[0].content, [
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngData } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' }, title: 'spec.pdf' },
    ]);
  });

  it('refuses audio and file types Claude does not read, naming the part', async () => {
    for (const part of [
      { type: 'audio', data: 'AAAA', format: 'wav' },
      { type: 'file', data: 'AAAA', mediaType: 'application/zip' },
    ] as const) {
      const messages: Message[] = [
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: [{ type: 'text', text: 'listen' }, part] },
      ];
      await assert.rejects(make(fake).open(request({ messages })), (err: ProviderError) => err.status === 400 && /^messages\.2\.content\.1:/.test(err.message));
    }
  });
});
