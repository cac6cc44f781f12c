// Tool calls from Claude and Gemini (fakes speaking the Messages API and streamGenerateContent
// byte for byte) through /v1, read by the client libraries unchanged: the chunk stream has exactly
// OpenAI's delta shape (index, id, type and name first, then argument pieces; parallel calls each
// their own index; finish_reason tool_calls; the usage chunk when asked), the openai SDK's
// runTools and the AI SDK's streamText (chat and Responses) run the tools and continue the
// conversation, LangChain's stream assembles the calls, and the results reach the provider in its
// own shape.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { ChatOpenAI } from '@langchain/openai';
import type { AIMessageChunk } from '@langchain/core/messages';
import { z } from 'zod';
import { sseEvents, type Harness } from '../support/harness.js';
import { closeClaudeGemini, startClaudeGemini } from '../support/claude-gemini.js';
import type { FakeUpstream } from '../support/fake-upstream.js';

const weather = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const twoCalls = [
  { id: 'toolu_01Paris', name: 'get_weather', arguments: ['{"city":', '"Paris"}'] },
  { id: 'toolu_01Oslo', name: 'get_weather', arguments: ['{"city":"Oslo"}'] },
];

describe('tool calls from Claude and Gemini through /v1, read by the client libraries', () => {
  let h: Harness;
  let anthropic: FakeUpstream;
  let google: FakeUpstream;
  let acct: { id: number; key: string };
  const upstreams = () => [
    { model: 'claude-haiku-4.5', fake: anthropic },
    { model: 'gemini-2.5-flash', fake: google },
  ];
  before(async () => {
    ({ h, anthropic, google } = await startClaudeGemini());
    acct = await h.account({ plan: 'pro', tokens: 1000 });
  });
  after(() => closeClaudeGemini({ h, anthropic, google }));

  it("the chunk stream is OpenAI's delta shape: each call's index, id, type and name first, then its arguments; finish_reason tool_calls; then the usage chunk", async () => {
    for (const { model, fake } of upstreams()) {
      fake.respondWith({ chunks: ['Checking.'], toolCalls: twoCalls, usage: { input: 21, output: 17 } });
      const r = await h.post(
        '/v1/chat/completions',
        { model, messages: [{ role: 'user', content: 'Paris and Oslo?' }], tools: [weather], stream: true, stream_options: { include_usage: true } },
        acct.key,
      );
      assert.equal(r.status, 200, r.text);
      const events = sseEvents(r.text);
      assert.equal(events.at(-1), '[DONE]', model);
      const chunks = events.slice(0, -1);
      // Claude names its calls; Gemini gives none and the SDK makes one per call.
      const ids = chunks.flatMap((e) => e.choices[0]?.delta?.tool_calls ?? []).flatMap((t: { id?: string }) => (t.id ? [t.id] : []));
      assert.equal(ids.length, 2, model);
      assert.notEqual(ids[0], ids[1], model);
      if (fake === anthropic) assert.deepEqual(ids, ['toolu_01Paris', 'toolu_01Oslo']);
      const argPieces = fake === anthropic ? [['{"city":', '"Paris"}'], ['{"city":"Oslo"}']] : [['{"city":"Paris"}'], ['{"city":"Oslo"}']];
      const call = (index: number) => [
        { tool_calls: [{ index, id: ids[index], type: 'function', function: { name: 'get_weather', arguments: '' } }] },
        ...argPieces[index]!.map((arguments_) => ({ tool_calls: [{ index, function: { arguments: arguments_ } }] })),
      ];
      assert.deepEqual(
        chunks.map((e) => (e.choices.length ? e.choices[0].delta : 'usage')),
        [{ role: 'assistant', content: '' }, { content: 'Checking.' }, ...call(0), ...call(1), {}, 'usage'],
        model,
      );
      assert.deepEqual(
        chunks.map((e) => e.choices[0]?.finish_reason ?? null),
        [...chunks.slice(0, -2).map(() => null), 'tool_calls', null],
        model,
      );
      const usage = chunks.at(-1).usage;
      assert.deepEqual([usage.prompt_tokens, usage.completion_tokens, usage.total_tokens], [21, 17, 38], model);
    }
  });

  it("openai SDK runTools: both calls run with parsed arguments, the results go back as the provider's tool results, the final answer streams", async () => {
    for (const { model, fake } of upstreams()) {
      fake.respondWith([{ chunks: [], toolCalls: twoCalls }, { chunks: ['Paris 18°C,', ' Oslo 9°C.'] }]);
      const client = new OpenAI({ apiKey: acct.key, baseURL: `${h.url}/v1`, maxRetries: 0 });
      const ran: unknown[] = [];
      const runner = client.chat.completions.runTools({
        model,
        stream: true,
        messages: [{ role: 'user', content: 'Paris and Oslo?' }],
        tools: [
          {
            type: 'function',
            function: {
              ...weather.function,
              parse: JSON.parse,
              function: (args: { city: string }) => {
                ran.push(args);
                return { temp: args.city === 'Paris' ? 18 : 9 };
              },
            },
          },
        ],
      });
      assert.equal(await runner.finalContent(), 'Paris 18°C, Oslo 9°C.', model);
      assert.deepEqual(ran, [{ city: 'Paris' }, { city: 'Oslo' }], model);
      const second = fake.requests.at(-1)!.body;
      if (fake === anthropic) {
        const [asked, answered] = second.messages.slice(-2);
        assert.deepEqual(
          asked.content.map((b: { type: string; id?: string }) => [b.type, b.id]),
          [
            ['tool_use', 'toolu_01Paris'],
            ['tool_use', 'toolu_01Oslo'],
          ],
        );
        assert.deepEqual(
          answered.content.map((b: { type: string; tool_use_id: string; content: unknown }) => [b.type, b.tool_use_id, b.content]),
          [
            ['tool_result', 'toolu_01Paris', '{"temp":18}'],
            ['tool_result', 'toolu_01Oslo', '{"temp":9}'],
          ],
        );
      } else {
        const [asked, answered] = second.contents.slice(-2);
        assert.deepEqual(
          asked.parts.map((p: { functionCall: { args: unknown } }) => p.functionCall.args),
          [{ city: 'Paris' }, { city: 'Oslo' }],
        );
        assert.deepEqual(
          answered.parts.map((p: { functionResponse: { name: string; response: { content: string } } }) => [p.functionResponse.name, p.functionResponse.response.content]),
          [
            ['get_weather', '{"temp":18}'],
            ['get_weather', '{"temp":9}'],
          ],
        );
      }
    }
  });

  it('AI SDK streamText with a tool, over /v1/responses and over .chat(): the calls parsed and executed, the second step answers', async () => {
    const openai = createOpenAI({ baseURL: `${h.url}/v1`, apiKey: acct.key });
    for (const { model, fake } of upstreams()) {
      for (const surface of ['responses', 'chat'] as const) {
        fake.respondWith([{ chunks: [], toolCalls: twoCalls }, { chunks: ['Both mild.'] }]);
        const seen: unknown[] = [];
        const r = streamText({
          model: surface === 'chat' ? openai.chat(model) : openai(model),
          prompt: 'Paris and Oslo?',
          maxRetries: 0,
          stopWhen: stepCountIs(2),
          tools: {
            get_weather: tool({
              inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
              execute: async (input) => {
                seen.push(input);
                return { sky: 'clear' };
              },
            }),
          },
        });
        let text = '';
        for await (const t of r.textStream) text += t;
        const where = `${model} over ${surface}`;
        assert.equal(text, 'Both mild.', where);
        assert.deepEqual(seen, [{ city: 'Paris' }, { city: 'Oslo' }], where);
        const steps = await r.steps;
        assert.equal(steps[0]!.finishReason, 'tool-calls', where);
        assert.equal(new Set(steps[0]!.toolCalls.map((c) => c.toolCallId)).size, 2, where);
      }
    }
  });

  it('LangChain ChatOpenAI.bindTools().stream(): the chunks concatenate to both calls, parsed', async () => {
    for (const { model, fake } of upstreams()) {
      fake.respondWith({ chunks: [], toolCalls: twoCalls });
      const chat = new ChatOpenAI({ model, apiKey: acct.key, maxRetries: 0, configuration: { baseURL: `${h.url}/v1` } });
      let whole: AIMessageChunk | undefined;
      for await (const c of await chat.bindTools([{ name: 'get_weather', description: 'Weather in a city', schema: z.object({ city: z.string() }) }]).stream('Paris and Oslo?')) {
        whole = whole ? whole.concat(c) : c;
      }
      assert.deepEqual(
        whole?.tool_calls?.map((c) => [c.name, c.args]),
        [
          ['get_weather', { city: 'Paris' }],
          ['get_weather', { city: 'Oslo' }],
        ],
        model,
      );
      assert.equal(whole?.invalid_tool_calls?.length ?? 0, 0, model);
    }
  });
});
