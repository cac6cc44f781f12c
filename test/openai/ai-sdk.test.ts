// The /v1 surface through the AI SDK (ai 6): the openai-compatible provider (chat completions),
// and @ai-sdk/openai's default provider (/v1/responses) and its .chat() model.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createOpenAI } from '@ai-sdk/openai';
import { generateObject, generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import { startHarness, type Harness } from '../support/harness.js';

describe('/v1 with the AI SDK openai-compatible provider', () => {
  let h: Harness;
  const provider = (key: string) => createOpenAICompatible({ name: 'lumengate', baseURL: `${h.url}/v1`, apiKey: key, includeUsage: true });
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('generateText: text, provider usage, charged, generation row', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Bonjour', ' !'], usage: { input: 5, output: 2 } });
    const r = await generateText({ model: provider(a.key)('gpt-5-nano'), system: 'short', prompt: 'hello', maxRetries: 0 });
    assert.equal(r.text, 'Bonjour !');
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, 5);
    assert.equal(r.usage.outputTokens, 2);
    const id = Number(r.response.headers?.['x-generation-id']);
    assert.equal(r.response.id, `gen-${id}`);
    assert.equal(await h.balance(a.id), 9);
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.equal(g.status, 'completed');
    assert.equal(g.result_text, 'Bonjour !');
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [
      { role: 'system', content: 'short' },
      { role: 'user', content: 'hello' },
    ]);
  });

  it('streamText: deltas in order, usage from the final usage chunk, charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Привет', ', ', 'мир 👋'], usage: { input: 8, output: 6 } });
    const r = streamText({ model: provider(a.key)('gpt-5'), prompt: 'hi', maxRetries: 0 });
    const parts: string[] = [];
    for await (const t of r.textStream) parts.push(t);
    assert.equal(parts.join(''), 'Привет, мир 👋');
    assert.equal(await r.finishReason, 'stop');
    const usage = await r.usage;
    assert.equal(usage.inputTokens, 8);
    assert.equal(usage.outputTokens, 6);
    const id = Number((await r.response).headers?.['x-generation-id']);
    assert.equal((await h.get(`/api/v2/generate/${id}`, a.key)).json.result_text, 'Привет, мир 👋');
    assert.equal(await h.balance(a.id), 8);
  });

  it('streamText, mid-stream failure: the error chunk reaches onError and finishReason is "error", 0 charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['half'], ending: 'reset', delayMs: 20 });
    const errors: any[] = [];
    const r = streamText({ model: provider(a.key)('gpt-5-nano'), prompt: 'hi', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = '';
    for await (const t of r.textStream) text += t;
    assert.equal(text, 'half');
    assert.equal(await r.finishReason, 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, 'provider_error');
    assert.match(errors[0].message, /provider error/);
    assert.equal(await h.balance(a.id), 10);
  });

  it('errors surface as APICallError with our status and message', async () => {
    const a = await h.account({ tokens: 0 });
    await assert.rejects(generateText({ model: provider(a.key)('gpt-5-nano'), prompt: 'hi', maxRetries: 0 }), (e: any) => e.statusCode === 402 && /insufficient credits/.test(e.message));
  });

  it('streamText with tools: the streamed call arrives parsed, finishReason tool-calls; tools reached the upstream', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: [], toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: ['{"city"', ':"Oslo"}'] }] });
    const r = streamText({
      model: provider(a.key)('gpt-5-nano'),
      prompt: 'weather in Oslo?',
      maxRetries: 0,
      tools: { get_weather: tool({ description: 'Weather in a city', inputSchema: z.object({ city: z.string() }) }) },
    });
    const calls = await r.toolCalls;
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.toolName, 'get_weather');
    assert.equal(calls[0]!.toolCallId, 'call_1');
    assert.deepEqual(calls[0]!.input, { city: 'Oslo' });
    assert.equal(await r.finishReason, 'tool-calls');
    const upstream = h.fake.requests.at(-1)!.body;
    assert.equal(upstream.tools[0].function.name, 'get_weather');
    assert.equal(upstream.tools[0].function.parameters.properties.city.type, 'string');
  });

  it('generateObject with a zod schema: json_schema response_format upstream, the parsed object back', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['{"name":"Ada",', '"tags":["math","code"]}'] });
    const p = createOpenAICompatible({ name: 'lumengate', baseURL: `${h.url}/v1`, apiKey: a.key, supportsStructuredOutputs: true });
    const r = await generateObject({ model: p('gpt-5-nano'), schema: z.object({ name: z.string(), tags: z.array(z.string()) }), prompt: 'a person', maxRetries: 0 });
    assert.deepEqual(r.object, { name: 'Ada', tags: ['math', 'code'] });
    const format = h.fake.requests.at(-1)!.body.response_format;
    assert.equal(format.type, 'json_schema');
    assert.deepEqual(format.json_schema.schema.required, ['name', 'tags']);
    assert.equal(await h.balance(a.id), 9);
  });
});

describe('/v1 with the AI SDK openai provider (Responses API by default, and .chat())', () => {
  let h: Harness;
  const openai = (key: string) => createOpenAI({ baseURL: `${h.url}/v1`, apiKey: key });
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('generateText over /v1/responses: text, usage, resp_<id>, charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Hej', ' då'], usage: { input: 7, output: 2 } });
    const r = await generateText({ model: openai(a.key)('gpt-5-nano'), system: 'short', prompt: 'hello', maxRetries: 0 });
    assert.equal(r.text, 'Hej då');
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, 7);
    assert.equal(r.usage.outputTokens, 2);
    assert.match(r.response.id, /^resp_\d+$/);
    assert.equal(h.fake.requests.at(-1)!.body.messages[0].content, 'short');
    assert.equal(await h.balance(a.id), 9);
  });

  it('streamText over /v1/responses with a tool: the call parsed, executed, and the second step continues the conversation', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith([{ chunks: [], toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: ['{"city":', '"Rome"}'] }] }, { chunks: ['Sunny', ' in Rome'] }]);
    const seen: unknown[] = [];
    const r = streamText({
      model: openai(a.key)('gpt-5-nano'),
      prompt: 'weather in Rome?',
      maxRetries: 0,
      stopWhen: stepCountIs(2),
      tools: {
        get_weather: tool({
          inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
          execute: async (input) => {
            seen.push(input);
            return { sky: 'sunny' };
          },
        }),
      },
    });
    let text = '';
    for await (const t of r.textStream) text += t;
    assert.equal(text, 'Sunny in Rome');
    assert.deepEqual(seen, [{ city: 'Rome' }]);
    const steps = await r.steps;
    assert.equal(steps[0]!.toolCalls[0]!.toolCallId, 'call_w');
    // The second request carried the call and its output back to the upstream.
    const second = h.fake.requests.at(-1)!.body.messages;
    assert.deepEqual(second.at(-2).tool_calls[0].function, { name: 'get_weather', arguments: '{"city":"Rome"}' });
    assert.deepEqual([second.at(-1).role, second.at(-1).tool_call_id, JSON.parse(second.at(-1).content)], ['tool', 'call_w', { sky: 'sunny' }]);
    assert.equal(await h.balance(a.id), 8);
  });

  it('streamText over /v1/responses, mid-stream failure: response.failed reaches onError, 0 charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['half'], ending: 'reset', delayMs: 20 });
    const errors: any[] = [];
    const r = streamText({ model: openai(a.key)('gpt-5-nano'), prompt: 'hi', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = '';
    for await (const t of r.textStream) text += t;
    assert.equal(text, 'half');
    assert.equal(await r.finishReason, 'error');
    assert.ok(errors.length >= 1);
    assert.match(JSON.stringify(errors[0]), /provider error/);
    assert.equal(await h.balance(a.id), 10);
  });

  it('.chat() model: generateText with a tool call over /v1/chat/completions', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: [], toolCalls: [{ id: 'call_c', name: 'add', arguments: ['{"a":2,"b":3}'] }] });
    const r = await generateText({
      model: openai(a.key).chat('gpt-5-nano'),
      prompt: '2+3',
      maxRetries: 0,
      tools: { add: tool({ inputSchema: z.object({ a: z.number(), b: z.number() }) }) },
    });
    assert.equal(r.finishReason, 'tool-calls');
    assert.deepEqual(
      r.toolCalls.map((c) => [c.toolCallId, c.toolName, c.input]),
      [['call_c', 'add', { a: 2, b: 3 }]],
    );
    assert.match(r.response.id, /^gen-\d+$/);
  });
});
