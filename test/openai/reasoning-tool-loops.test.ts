// Reasoning models in tool loops (docs/api.md, Reasoning in tool loops): Claude with thinking
// refuses a second turn whose assistant message makes calls without opening with its signed
// thinking, and Gemini 3 wants each call's thought signature back. Clients send the calls back
// without either; the gateway keeps them per account by the call's id and puts them back. The
// fakes refuse what the real APIs refuse, so a loop that loses the state fails here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { jsonSchema, stepCountIs, streamText, tool } from 'ai';
import type { Harness } from '../support/harness.js';
import { closeClaudeGemini, startClaudeGemini } from '../support/claude-gemini.js';
import type { FakeUpstream } from '../support/fake-upstream.js';

const parameters = { type: 'object' as const, properties: { city: { type: 'string' as const } }, required: ['city'] };
const weather = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather in a city', parameters } };
const runnable = { type: 'function' as const, function: { ...weather.function, parse: JSON.parse, function: () => ({ temp: 18 }) } };
const question = { role: 'user' as const, content: 'Weather in Paris?' };

/** A Claude answer that thinks (redacted and signed thinking), says a word and calls the tool; `tag` makes its ids and signatures its own. */
const claudeCalls = (tag: string) => ({
  redactedThinking: `EmwKAhgBEgy${tag}`,
  reasoning: ['Paris: ', 'ask the tool.'],
  signature: `EqQBCkgIBhABGAIiQL2Z${tag}==`,
  chunks: ['Checking.'],
  toolCalls: [{ id: `toolu_01${tag}`, name: 'get_weather', arguments: ['{"city":"Paris"}'] }],
});

/** The assistant turn Claude must get back: its thinking first, as it came, then its text and its call. */
const claudeTurn = (tag: string) => ({
  role: 'assistant',
  content: [
    { type: 'redacted_thinking', data: `EmwKAhgBEgy${tag}` },
    { type: 'thinking', thinking: 'Paris: ask the tool.', signature: `EqQBCkgIBhABGAIiQL2Z${tag}==` },
    { type: 'text', text: 'Checking.' },
    { type: 'tool_use', id: `toolu_01${tag}`, name: 'get_weather', input: { city: 'Paris' } },
  ],
});

/** The same turn when nothing of its thinking is known: Claude takes it only without thinking. */
const claudeTurnWithoutThinking = (tag: string) => ({
  role: 'assistant',
  content: [
    { type: 'text', text: 'Checking.' },
    { type: 'tool_use', id: `toolu_01${tag}`, name: 'get_weather', input: { city: 'Paris' } },
  ],
});

/** The second turn as a client writes it from the first answer's call. */
const secondTurn = (id: string) => [
  question,
  { role: 'assistant' as const, content: 'Checking.', tool_calls: [{ id, type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
  { role: 'tool' as const, tool_call_id: id, content: '{"temp":18}' },
];

describe('reasoning models in tool loops: the reasoning state of the calls goes back to the provider', () => {
  let h: Harness;
  let anthropic: FakeUpstream;
  let google: FakeUpstream;
  let a: { id: number; key: string };
  let b: { id: number; key: string };
  const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${h.url}/v1`, maxRetries: 0 });
  before(async () => {
    ({ h, anthropic, google } = await startClaudeGemini());
    a = await h.account({ plan: 'pro', tokens: 1000 });
    b = await h.account({ plan: 'pro', tokens: 1000 });
  });
  after(() => closeClaudeGemini({ h, anthropic, google }));

  for (const stream of [false, true]) {
    it(`openai SDK runTools${stream ? ', streaming' : ''}, Claude with reasoning_effort: the second turn opens with the redacted block and the thinking with its exact signature, before the tool_use; both answers charged`, async () => {
      const tag = `Sdk${stream ? 'Stream' : 'Json'}`;
      anthropic.respondWith([claudeCalls(tag), { chunks: ['Sunny, 18°C.'] }]);
      const before = await h.balance(a.id);
      const params = { model: 'claude-haiku-4.5', reasoning_effort: 'low' as const, messages: [question], tools: [runnable] };
      const runner = stream ? client(a.key).chat.completions.runTools({ ...params, stream }) : client(a.key).chat.completions.runTools(params);
      assert.equal(await runner.finalContent(), 'Sunny, 18°C.');
      const second = anthropic.requests.at(-1)!.body;
      assert.deepEqual(second.thinking, { type: 'enabled', budget_tokens: 2048 });
      assert.deepEqual(second.messages[1], claudeTurn(tag));
      assert.equal(await h.balance(a.id), before - 2);
    });

    it(`openai SDK runTools${stream ? ', streaming' : ''}, Gemini 3: the second turn's functionCall part has the thoughtSignature it came with`, async () => {
      const signature = `CiQB0e2Kb1Sdk${stream ? 'Stream' : 'Json'}`;
      google.respondWith([{ chunks: [], toolCalls: [{ id: 'unused', name: 'get_weather', arguments: ['{"city":"Paris"}'] }], signature }, { chunks: ['Sunny.'] }]);
      const params = { model: 'gemini-3-pro', messages: [question], tools: [runnable] };
      const runner = stream ? client(a.key).chat.completions.runTools({ ...params, stream }) : client(a.key).chat.completions.runTools(params);
      assert.equal(await runner.finalContent(), 'Sunny.');
      const [asked] = google.requests.at(-1)!.body.contents.slice(1);
      assert.equal(asked.role, 'model');
      assert.deepEqual(asked.parts, [{ functionCall: { id: asked.parts[0].functionCall.id, name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: signature }]);
    });
  }

  it('AI SDK (openai-compatible provider) streamText with a tool and reasoning effort: its second step reaches Claude with the signed thinking', async () => {
    anthropic.respondWith([claudeCalls('AiSdk'), { chunks: ['Sunny.'] }]);
    const model = createOpenAICompatible({ name: 'lumengate', baseURL: `${h.url}/v1`, apiKey: a.key })('claude-haiku-4.5');
    const r = streamText({
      model,
      prompt: 'Weather in Paris?',
      providerOptions: { lumengate: { reasoningEffort: 'low' } },
      tools: { get_weather: tool({ description: 'Weather in a city', inputSchema: jsonSchema<{ city: string }>(parameters), execute: () => Promise.resolve({ temp: 18 }) }) },
      stopWhen: stepCountIs(2),
      maxRetries: 0,
    });
    assert.equal(await r.text, 'Sunny.');
    assert.equal((await r.steps)[0]!.reasoningText, 'Paris: ask the tool.');
    assert.deepEqual(anthropic.requests.at(-1)!.body.messages[1], claudeTurn('AiSdk'));
  });

  it('/api/v2: the calls of a generation object sent back as messages get their thinking back', async () => {
    anthropic.respondWith(claudeCalls('V2'));
    const first = await h.post('/api/v2/generate', { model: 'claude-haiku-4.5', prompt: 'Weather in Paris?', reasoning_effort: 'low', tools: [weather] }, a.key);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.tool_calls[0].id, 'toolu_01V2');
    anthropic.respondWith({ chunks: ['Sunny.'] });
    const second = await h.post('/api/v2/generate', { model: 'claude-haiku-4.5', messages: secondTurn('toolu_01V2'), reasoning_effort: 'low', tools: [weather] }, a.key);
    assert.equal(second.status, 200, second.text);
    assert.equal(second.json.content, 'Sunny.');
    assert.deepEqual(anthropic.requests.at(-1)!.body.messages[1], claudeTurn('V2'));
  });

  it('openai SDK responses.create, continued with previous_response_id and the function_call_output: the rebuilt call gets its thinking back', async () => {
    anthropic.respondWith(claudeCalls('Responses'));
    const tools = [{ type: 'function' as const, name: 'get_weather', description: 'Weather in a city', parameters, strict: false }];
    const first = await client(a.key).responses.create({ model: 'claude-haiku-4.5', input: 'Weather in Paris?', reasoning: { effort: 'low' }, tools });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.equal(call?.type === 'function_call' && call.call_id, 'toolu_01Responses');
    anthropic.respondWith({ chunks: ['Sunny.'] });
    const next = await client(a.key).responses.create({
      model: 'claude-haiku-4.5',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: 'toolu_01Responses', output: '{"temp":18}' }],
      reasoning: { effort: 'low' },
      tools,
    });
    assert.equal(next.output_text, 'Sunny.');
    assert.deepEqual(anthropic.requests.at(-1)!.body.messages[1], claudeTurn('Responses'));
  });

  it("another account presenting the same call ids gets nothing of the first account's state: Claude's turn goes without thinking, Gemini's call with the SDK's skip marker; the owner's next turn still gets it all", async () => {
    anthropic.respondWith(claudeCalls('Cross'));
    const first = await client(a.key).chat.completions.create({ model: 'claude-haiku-4.5', reasoning_effort: 'low', messages: [question], tools: [weather] });
    assert.equal(first.choices[0]!.message.tool_calls?.[0]?.id, 'toolu_01Cross');
    google.respondWith({ chunks: [], toolCalls: [{ id: 'unused', name: 'get_weather', arguments: ['{"city":"Paris"}'] }], signature: 'CiQB0e2Kb1Cross' });
    const gemini = await client(a.key).chat.completions.create({ model: 'gemini-3-pro', messages: [question], tools: [weather] });
    const geminiCall = gemini.choices[0]!.message.tool_calls![0]!.id;

    anthropic.respondWith({ chunks: ['Sunny.'] });
    google.respondWith({ chunks: ['Sunny.'] });
    for (const key of [b.key, a.key]) {
      const claude = await client(key).chat.completions.create({ model: 'claude-haiku-4.5', reasoning_effort: 'low', messages: secondTurn('toolu_01Cross'), tools: [weather] });
      assert.equal(claude.choices[0]!.message.content, 'Sunny.');
      const body = anthropic.requests.at(-1)!.body;
      if (key === b.key) {
        assert.equal(body.thinking, undefined);
        assert.deepEqual(body.messages[1], claudeTurnWithoutThinking('Cross'));
      } else {
        assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 2048 });
        assert.deepEqual(body.messages[1], claudeTurn('Cross'));
      }
      const answer = await client(key).chat.completions.create({ model: 'gemini-3-pro', messages: secondTurn(geminiCall), tools: [weather] });
      assert.equal(answer.choices[0]!.message.content, 'Sunny.');
      const call = google.requests.at(-1)!.body.contents[1].parts.find((p: { functionCall?: unknown }) => p.functionCall);
      const signature = call.thoughtSignature;
      assert.equal(signature, key === b.key ? 'skip_thought_signature_validator' : 'CiQB0e2Kb1Cross');
    }
  });

  it('a call id the gateway does not know (from elsewhere, or its state gone): Claude answers the turn without thinking instead of refusing it', async () => {
    anthropic.respondWith({ chunks: ['Sunny.'] });
    const answer = await client(a.key).chat.completions.create({ model: 'claude-haiku-4.5', reasoning_effort: 'low', messages: secondTurn('toolu_01Elsewhere'), tools: [weather] });
    assert.equal(answer.choices[0]!.message.content, 'Sunny.');
    assert.equal(anthropic.requests.at(-1)!.body.thinking, undefined);
  });

  it("deleting the generation deletes its calls' state: the next turn goes without thinking", async () => {
    anthropic.respondWith(claudeCalls('Deleted'));
    const first = await client(a.key).chat.completions.create({ model: 'claude-haiku-4.5', reasoning_effort: 'low', messages: [question], tools: [weather] });
    const id = first.id.replace(/^gen-/, '');
    const deleted = await fetch(`${h.url}/api/v2/user/history/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${a.key}` } });
    assert.equal(deleted.status, 204);
    anthropic.respondWith({ chunks: ['Sunny.'] });
    const answer = await client(a.key).chat.completions.create({ model: 'claude-haiku-4.5', reasoning_effort: 'low', messages: secondTurn('toolu_01Deleted'), tools: [weather] });
    assert.equal(answer.choices[0]!.message.content, 'Sunny.');
    assert.deepEqual(anthropic.requests.at(-1)!.body.messages[1], claudeTurnWithoutThinking('Deleted'));
  });

  it('state older than LUMENGATE_TOOL_STATE_TTL_S (24 h) is swept: the next turn goes without thinking', async () => {
    anthropic.respondWith(claudeCalls('Swept'));
    await client(a.key).chat.completions.create({ model: 'claude-haiku-4.5', reasoning_effort: 'low', messages: [question], tools: [weather] });
    assert.equal(await h.server.sweepToolStates(), 0);
    assert.ok((await h.server.sweepToolStates(new Date(Date.now() + 24 * 3600_000 + 60_000))) >= 1);
    anthropic.respondWith({ chunks: ['Sunny.'] });
    const answer = await client(a.key).chat.completions.create({ model: 'claude-haiku-4.5', reasoning_effort: 'low', messages: secondTurn('toolu_01Swept'), tools: [weather] });
    assert.equal(answer.choices[0]!.message.content, 'Sunny.');
    assert.deepEqual(anthropic.requests.at(-1)!.body.messages[1], claudeTurnWithoutThinking('Swept'));
  });
});
