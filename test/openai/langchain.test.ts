// The /v1 surface through LangChain's ChatOpenAI (unchanged, configuration.baseURL): tool calls
// from bindTools arrive parsed, withStructuredOutput returns the parsed object.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOpenAI } from '@langchain/openai';
import { z } from 'zod';
import { startHarness, type Harness } from '../support/harness.js';

describe('/v1 with LangChain ChatOpenAI', () => {
  let h: Harness;
  const chat = (key: string) => new ChatOpenAI({ model: 'gpt-5-nano', apiKey: key, maxRetries: 0, configuration: { baseURL: `${h.url}/v1` } });
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('bindTools: the tool call comes back parsed; the tool reached the upstream', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: [], toolCalls: [{ id: 'call_lc', name: 'get_weather', arguments: ['{"city":', '"Lima"}'] }] });
    const weather = { name: 'get_weather', description: 'Weather in a city', schema: z.object({ city: z.string() }) };
    const msg = await chat(a.key).bindTools([weather]).invoke('weather in Lima?');
    assert.deepEqual(
      msg.tool_calls?.map((c) => [c.id, c.name, c.args]),
      [['call_lc', 'get_weather', { city: 'Lima' }]],
    );
    const upstream = h.fake.requests.at(-1)!.body;
    assert.equal(upstream.tools[0].function.name, 'get_weather');
    assert.deepEqual(upstream.tools[0].function.parameters.required, ['city']);
    assert.equal(await h.balance(a.id), 9);
  });

  it('withStructuredOutput(zod): the parsed object', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['{"title":"Dune",', '"year":1965}'] });
    const book = z.object({ title: z.string(), year: z.number().int() });
    const r = await chat(a.key).withStructuredOutput(book, { name: 'book' }).invoke('a classic novel');
    assert.deepEqual(r, { title: 'Dune', year: 1965 });
    const upstream = h.fake.requests.at(-1)!.body;
    // LangChain asks for json_schema output or forces a tool; either way the answer is parsed.
    assert.ok(upstream.response_format?.type === 'json_schema' || upstream.tools?.length, JSON.stringify(upstream));
  });

  it('streaming: chunks concatenate to the answer', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Ho', 'la'] });
    let text = '';
    for await (const c of await chat(a.key).stream('hi')) text += typeof c.content === 'string' ? c.content : '';
    assert.equal(text, 'Hola');
  });
});
