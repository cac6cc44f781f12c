// POST /v1/responses through the official openai SDK and raw HTTP: the same lifecycle as chat
// (keys, prices, generation rows), items in, output items and named SSE events out, function
// calls, structured output, previous_response_id, refusals by name, mid-stream failure.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { settled, startHarness, type Harness } from '../support/harness.js';
import { closeClaudeGemini, startClaudeGemini } from '../support/claude-gemini.js';
import type { FakeUpstream } from '../support/fake-upstream.js';
import { openAITextModel } from '../support/text-models.js';

/** Named SSE events: [event name, data]. */
function namedEvents(body: string): [string, any][] {
  return body
    .split('\n\n')
    .filter((b) => b.includes('data: '))
    .map((b) => {
      const name = /^event: (.*)$/m.exec(b)?.[1] ?? '';
      return [name, JSON.parse(/^data: (.*)$/m.exec(b)![1]!)];
    });
}

const respId = (id: string) => {
  const m = /^resp_(\d+)$/.exec(id);
  assert.ok(m, `response id ${id} is resp_<id>`);
  return Number(m[1]);
};

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

/**
 * Posts each body to /v1/responses, not streamed then with `stream: true`, and checks that the
 * error answer (JSON, before any stream opens) has `status` and names `param` as error.param, at
 * the start of its message and as details.fields[0].path. All cases are compared at once, so a
 * failure lists every path that is wrong.
 */
async function assertRefusedAt(h: Harness, key: string, cases: readonly (readonly [body: Record<string, unknown>, status: number, param: string])[]): Promise<void> {
  const got: string[] = [];
  const want: string[] = [];
  for (const [body, status, param] of cases) {
    for (const stream of [false, true]) {
      const r = await h.post('/v1/responses', { ...body, ...(stream ? { stream } : {}) }, key);
      const e = r.json?.error;
      const named = [e?.param, (e?.message as string | undefined)?.split(': ')[0], e?.details?.fields?.[0]?.path];
      got.push(`${stream ? 'stream ' : ''}${r.status} ${r.headers.get('content-type')?.split(';')[0]} ${named.join(' | ')}`);
      want.push(`${stream ? 'stream ' : ''}${status} application/json ${[param, param, param].join(' | ')}`);
    }
  }
  assert.deepEqual(got, want);
}

describe('/v1/responses', () => {
  let h: Harness;
  const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${h.url}/v1`, maxRetries: 0 });
  before(async () => {
    // A text-only model, and one that takes two messages of ten characters at most.
    h = await startHarness({ catalog: { models: [openAITextModel('text-only'), { ...openAITextModel('two-short'), max_messages: 2, max_prompt_chars: 10 }] } });
  });
  after(() => h.close());

  it('responses.create: output_text, resp_<id>, usage in Responses names, charged, upstream messages', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Hello', ' there'], usage: { input: 21, output: 4 } });
    const { data: r, response } = await client(a.key)
      .responses.create({
        model: 'gpt-5',
        instructions: 'be brief',
        input: 'hi',
        max_output_tokens: 50,
        temperature: 0.5,
        store: false,
        user: 'u-1',
      })
      .withResponse();
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.equal(r.output_text, 'Hello there');
    assert.equal(r.output.length, 1);
    assert.equal(r.output[0]!.type, 'message');
    assert.equal(r.instructions, 'be brief');
    assert.equal(r.max_output_tokens, 50);
    assert.deepEqual(r.usage, { input_tokens: 21, input_tokens_details: { cached_tokens: 0 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 25 });
    const id = respId(r.id);
    assert.equal(response.headers.get('x-generation-id'), String(id));
    assert.equal(await h.balance(a.id), 8);
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.equal(g.status, 'completed');
    assert.equal(g.result_text, 'Hello there');
    const upstream = h.fake.requests.at(-1)!.body;
    assert.deepEqual(upstream.messages, [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi' },
    ]);
    // gpt-5 takes only temperature 1: the catalog's capability flag keeps 0.5 from reaching it (docs/api.md).
    assert.equal(upstream.temperature, undefined);
    assert.equal(upstream.user, 'u-1');
    assert.equal(upstream.max_completion_tokens ?? upstream.max_tokens, 50);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('stream: named events in OpenAI order with rising sequence numbers, no [DONE]; the SDK assembles the same text', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Once', ' upon'], usage: { input: 9, output: 3 } });
    const raw = await h.post('/v1/responses', { model: 'gpt-5-nano', input: [{ role: 'user', content: [{ type: 'input_text', text: 'story' }] }], stream: true }, a.key);
    assert.equal(raw.status, 200);
    assert.ok(!raw.text.includes('[DONE]'));
    const events = namedEvents(raw.text);
    assert.deepEqual(
      events.map(([n]) => n),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.ok(events.every(([n, d], i) => d.type === n && d.sequence_number === i));
    const done = events.at(-1)![1].response;
    assert.equal(done.id, `resp_${raw.headers.get('x-generation-id')}`);
    assert.equal(done.output[0].content[0].text, 'Once upon');
    assert.equal(done.usage.output_tokens, 3);
    // The charge reaches a streaming client too, in the same place as a response not streamed.
    assert.deepEqual(done.lumengate, { generation_id: Number(raw.headers.get('x-generation-id')), tokens_spent: 1, balance_remaining: 9 });
    assert.equal(events[6]![1].text, 'Once upon');

    h.fake.respondWith({ chunks: ['Ciao', ' mondo'] });
    const stream = client(a.key).responses.stream({ model: 'gpt-5-nano', input: 'hi' });
    const deltas: string[] = [];
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    assert.deepEqual(deltas, ['Ciao', ' mondo']);
    assert.equal(final.output_text, 'Ciao mondo');
    assert.equal(final.status, 'completed');
    assert.equal(await h.balance(a.id), 8);
  });

  it('function tools: the call as a function_call item (streamed and not), then function_call_output with previous_response_id', async () => {
    const a = await h.account({ tokens: 10 });
    const call = { id: 'call_abc', name: 'get_weather', arguments: ['{"ci', 'ty":"Paris"}'] };
    h.fake.respondWith({ chunks: [], toolCalls: [call] });
    const r = await client(a.key).responses.create({
      model: 'gpt-5-nano',
      input: 'weather in Paris?',
      tools: [weatherTool],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
    });
    const fc = r.output.find((o) => o.type === 'function_call');
    assert.ok(fc && fc.type === 'function_call');
    assert.equal(fc.call_id, 'call_abc');
    assert.equal(fc.name, 'get_weather');
    assert.deepEqual(JSON.parse(fc.arguments), { city: 'Paris' });
    const upstream = h.fake.requests.at(-1)!.body;
    assert.deepEqual(upstream.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: weatherTool.parameters, strict: true } }]);
    assert.deepEqual(upstream.tool_choice, { type: 'function', function: { name: 'get_weather' } });
    assert.equal(upstream.parallel_tool_calls, false);

    // Continue from the previous response: its conversation and its call are rebuilt.
    h.fake.respondWith({ chunks: ['Sunny in Paris'] });
    const next = await client(a.key).responses.create({
      model: 'gpt-5-nano',
      previous_response_id: r.id,
      input: [{ type: 'function_call_output', call_id: 'call_abc', output: '{"sky":"sunny"}' }],
      tools: [weatherTool],
    });
    assert.equal(next.output_text, 'Sunny in Paris');
    assert.equal(next.previous_response_id, r.id);
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [
      { role: 'user', content: 'weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_abc', content: '{"sky":"sunny"}' },
    ]);

    // Streamed: function_call item events; the SDK's final response has the parsed call.
    h.fake.respondWith({ chunks: [], toolCalls: [call] });
    const stream = client(a.key).responses.stream({ model: 'gpt-5-nano', input: 'weather?', tools: [weatherTool] });
    const argDeltas: string[] = [];
    stream.on('response.function_call_arguments.delta', (e) => argDeltas.push(e.delta));
    const final = await stream.finalResponse();
    assert.deepEqual(argDeltas, ['{"ci', 'ty":"Paris"}']);
    const sfc = final.output.find((o) => o.type === 'function_call');
    assert.ok(sfc && sfc.type === 'function_call');
    assert.deepEqual([sfc.call_id, sfc.name, JSON.parse(sfc.arguments)], ['call_abc', 'get_weather', { city: 'Paris' }]);
    assert.equal(await h.balance(a.id), 7);
  });

  it('stream of text, a function call, then more text: each message is its own item and response.completed lists the streamed items', async () => {
    const a = await h.account({ tokens: 10 });
    const chunk = (delta: object) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'gpt-5-nano', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    const call = { index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } };
    h.fake.respondWith({ chunks: [], raw: chunk({ content: 'Let me check. ' }) + chunk({ tool_calls: [call] }) + chunk({ content: 'Done.' }) });
    const r = await h.post('/v1/responses', { model: 'gpt-5-nano', stream: true, input: 'weather?', tools: [weatherTool] }, a.key);
    const events = namedEvents(r.text);
    const id = respId(events[0]![1].response.id);
    const added = events.filter(([name]) => name === 'response.output_item.added').map(([, e]) => [e.output_index, e.item.id]);
    assert.deepEqual(added, [
      [0, `msg_${id}`],
      [1, `fc_${id}_0`],
      [2, `msg_${id}_1`],
    ]);
    const deltas = events.filter(([name]) => name === 'response.output_text.delta').map(([, e]) => [e.output_index, e.item_id, e.delta]);
    assert.deepEqual(deltas, [
      [0, `msg_${id}`, 'Let me check. '],
      [2, `msg_${id}_1`, 'Done.'],
    ]);
    const done = events.filter(([name]) => name === 'response.output_item.done').map(([, e]) => e);
    const streamed = done.sort((x, y) => x.output_index - y.output_index).map((e) => e.item);
    const [last, completed] = events.at(-1)!;
    assert.equal(last, 'response.completed');
    assert.deepEqual(completed.response.output, streamed);
    assert.deepEqual(
      completed.response.output.map((o: any) => (o.type === 'message' ? o.content[0].text : o.name)),
      ['Let me check. ', 'get_weather', 'Done.'],
    );
    assert.equal(await h.balance(a.id), 9);
  });

  it('stream_options.include_obfuscation: text, refusal and argument deltas pad their delta to a multiple of 16 bytes; other events and streams not asking carry no field', async () => {
    const a = await h.account({ tokens: 10 });
    const chunk = (delta: object) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'gpt-5-nano', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    const script = () =>
      h.fake.respondWith({
        chunks: [],
        raw:
          chunk({ content: 'say "é"' }) +
          chunk({ refusal: 'слово' }) +
          chunk({ tool_calls: [{ index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '' } }] }) +
          chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] }),
      });
    const deltaNames = ['response.output_text.delta', 'response.refusal.delta', 'response.function_call_arguments.delta'];
    script();
    const r = await h.post('/v1/responses', { model: 'gpt-5-nano', stream: true, input: 'weather?', tools: [weatherTool], stream_options: { include_obfuscation: true } }, a.key);
    const events = namedEvents(r.text);
    const deltas = events.filter(([name]) => deltaNames.includes(name)).map(([, e]) => e);
    assert.deepEqual(
      deltas.map((e) => e.type),
      deltaNames,
    );
    for (const e of deltas) {
      assert.match(e.obfuscation, /^[A-Za-z0-9]{1,16}$/);
      assert.equal((Buffer.byteLength(JSON.stringify(e.delta)) + e.obfuscation.length) % 16, 0, JSON.stringify(e));
    }
    assert.ok(events.filter(([name]) => !deltaNames.includes(name)).every(([, e]) => !('obfuscation' in e)));
    assert.equal(events.at(-1)![0], 'response.completed');

    for (const options of [{}, { stream_options: { include_obfuscation: false } }]) {
      script();
      const plain = namedEvents((await h.post('/v1/responses', { model: 'gpt-5-nano', stream: true, input: 'weather?', tools: [weatherTool], ...options }, a.key)).text);
      assert.equal(plain.filter(([name]) => deltaNames.includes(name)).length, 3);
      assert.ok(plain.every(([, e]) => !('obfuscation' in e)));
    }
  });

  it('not streamed, text, a function call, then more text: three items in that order, the items the stream lists; the generation object keeps its shape', async () => {
    const a = await h.account({ tokens: 10 });
    const chunk = (delta: object) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'gpt-5-nano', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    const call = { index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } };
    const raw = chunk({ content: 'Let me ' }) + chunk({ content: 'check. ' }) + chunk({ tool_calls: [call] }) + chunk({ content: 'Done.' });
    h.fake.respondWith({ chunks: [], raw });
    const r = await client(a.key).responses.create({ model: 'gpt-5-nano', input: 'weather?', tools: [weatherTool] });
    const id = respId(r.id);
    const message = (itemId: string, text: string) => ({
      id: itemId,
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
    });
    const fc = (n: number) => ({ id: `fc_${n}_0`, type: 'function_call', status: 'completed', call_id: 'call_A', name: 'get_weather', arguments: '{"city":"Oslo"}' });
    assert.deepEqual(r.output, [message(`msg_${id}`, 'Let me check. '), fc(id), message(`msg_${id}_1`, 'Done.')]);
    assert.equal(r.output_text, 'Let me check. Done.');

    h.fake.respondWith({ chunks: [], raw });
    const s = await h.post('/v1/responses', { model: 'gpt-5-nano', stream: true, input: 'weather?', tools: [weatherTool] }, a.key);
    const [last, completed] = namedEvents(s.text).at(-1)!;
    assert.equal(last, 'response.completed');
    const sid = respId(completed.response.id);
    assert.deepEqual(completed.response.output, [message(`msg_${sid}`, 'Let me check. '), fc(sid), message(`msg_${sid}_1`, 'Done.')]);

    // The other surfaces are as before: the whole text, then the call.
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.equal(g.result_text, 'Let me check. Done.');
    assert.deepEqual(g.tool_calls, [{ id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }]);
    assert.equal('segments' in g, false);
    assert.equal(await h.balance(a.id), 8);
  });

  it('a refusal streams as a refusal content part the SDK assembles (content_part.added, refusal.delta…, refusal.done, content_part.done), after any text part; response.completed and a response not streamed carry the same item', async () => {
    const a = await h.account({ tokens: 10 });
    const chunk = (delta: object) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-r', object: 'chat.completion.chunk', created: 1, model: 'gpt-5-nano', choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })}\n\n`;
    const refused = "I'm sorry, I cannot help with that.";
    /** The SDK's events past response.in_progress, without sequence_number (checked to rise by one). */
    const streamed = async (raw: string) => {
      h.fake.respondWith({ chunks: [], raw });
      const stream = client(a.key).responses.stream({ model: 'gpt-5-nano', input: 'Largest city?' });
      const events: any[] = [];
      stream.on('event', (e) => events.push(e));
      const final = await stream.finalResponse();
      assert.ok(events.every((e, i) => e.sequence_number === i));
      assert.deepEqual(
        events.slice(0, 2).map((e) => e.type),
        ['response.created', 'response.in_progress'],
      );
      return { id: respId(final.id), final, events: events.slice(2).map(({ sequence_number: _, ...e }) => e) };
    };

    const r = await streamed(chunk({ refusal: "I'm sorry, " }) + chunk({ refusal: 'I cannot help with that.' }));
    const at = { item_id: `msg_${r.id}`, output_index: 0, content_index: 0 };
    const item = { id: `msg_${r.id}`, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'refusal', refusal: refused }] };
    assert.deepEqual(r.events.slice(0, -1), [
      { type: 'response.output_item.added', output_index: 0, item: { ...item, status: 'in_progress', content: [] } },
      { type: 'response.content_part.added', ...at, part: { type: 'refusal', refusal: '' } },
      { type: 'response.refusal.delta', ...at, delta: "I'm sorry, " },
      { type: 'response.refusal.delta', ...at, delta: 'I cannot help with that.' },
      { type: 'response.refusal.done', ...at, refusal: refused },
      { type: 'response.content_part.done', ...at, part: { type: 'refusal', refusal: refused } },
      { type: 'response.output_item.done', output_index: 0, item },
    ]);
    assert.equal(r.events.at(-1).type, 'response.completed');
    assert.deepEqual(r.events.at(-1).response.output, [item]);
    // The SDK's final response: the same item (its parse step adds `parsed` to content parts).
    assert.deepEqual(
      r.final.output.map((o: any) => [o.id, o.content.map((c: any) => [c.type, c.refusal])]),
      [[`msg_${r.id}`, [['refusal', refused]]]],
    );

    // Text, then a refusal: one message, the refusal its second content part.
    const raw = chunk({ content: 'Well. ' }) + chunk({ refusal: refused });
    const t = await streamed(raw);
    const text = { type: 'output_text', text: 'Well. ', annotations: [], logprobs: [] };
    const part = (content_index: number) => ({ item_id: `msg_${t.id}`, output_index: 0, content_index });
    assert.deepEqual(
      t.events.slice(1, -2).map((e) => [e.type, e.content_index]),
      [
        ['response.content_part.added', 0],
        ['response.output_text.delta', 0],
        ['response.output_text.done', 0],
        ['response.content_part.done', 0],
        ['response.content_part.added', 1],
        ['response.refusal.delta', 1],
        ['response.refusal.done', 1],
        ['response.content_part.done', 1],
      ],
    );
    assert.deepEqual(t.events[5], { type: 'response.content_part.added', ...part(1), part: { type: 'refusal', refusal: '' } });
    assert.deepEqual(t.events[6], { type: 'response.refusal.delta', ...part(1), delta: refused });
    const content = [text, { type: 'refusal', refusal: refused }];
    assert.deepEqual(t.events.at(-2).item.content, content);
    assert.deepEqual(t.events.at(-1).response.output, [t.events.at(-2).item]);
    h.fake.respondWith({ chunks: [], raw });
    const plain = await h.post('/v1/responses', { model: 'gpt-5-nano', input: 'Largest city?' }, a.key);
    assert.equal(plain.status, 200, plain.text);
    assert.deepEqual(plain.json.output, [{ ...item, id: `msg_${respId(plain.json.id)}`, content }]);
    assert.equal(await h.balance(a.id), 7);
  });

  it('previous_response_id after text, a function call, then more text: the upstream gets the text with its call, the result, then the later text, not one turn with all the text', async () => {
    const a = await h.account({ tokens: 10 });
    const chunk = (delta: object) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'gpt-5-nano', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    const call = { index: 0, id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } };
    h.fake.respondWith({ chunks: [], raw: chunk({ content: 'Let me ' }) + chunk({ content: 'check. ' }) + chunk({ tool_calls: [call] }) + chunk({ content: 'Done.' }) });
    const r = await client(a.key).responses.create({ model: 'gpt-5-nano', input: 'weather?', tools: [weatherTool] });
    assert.deepEqual(
      r.output.map((o) => o.type),
      ['message', 'function_call', 'message'],
    );

    h.fake.respondWith({ chunks: ['Sunny in Oslo.'] });
    const next = await client(a.key).responses.create({
      model: 'gpt-5-nano',
      previous_response_id: r.id,
      input: [{ type: 'function_call_output', call_id: 'call_A', output: '{"sky":"clear"}' }],
      tools: [weatherTool],
    });
    assert.equal(next.output_text, 'Sunny in Oslo.');
    // The answer's assistant turns in its order: the text and the call it led to, then the text
    // after the call; Chat Completions takes the call's result right after the call.
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: 'Let me check. ', tool_calls: [{ id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_A', content: '{"sky":"clear"}' },
      { role: 'assistant', content: 'Done.' },
    ]);
    const viaPrevious = h.fake.requests.at(-1)!.body.messages;

    // The same output items sent back by hand make the same turns.
    h.fake.respondWith({ chunks: ['Sunny in Oslo.'] });
    await client(a.key).responses.create({
      model: 'gpt-5-nano',
      input: [{ role: 'user', content: 'weather?' }, ...(r.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: 'call_A', output: '{"sky":"clear"}' }],
      tools: [weatherTool],
    });
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, viaPrevious);
    assert.equal(await h.balance(a.id), 7);
  });

  it('previous_response_id after a refusal: the refusal goes back as the assistant output, in its place after any text, not dropped', async () => {
    const a = await h.account({ tokens: 10 });
    const chunk = (delta: object) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-r', object: 'chat.completion.chunk', created: 1, model: 'gpt-5-nano', choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })}\n\n`;
    const refused = "I'm sorry, I cannot help with that.";
    const continued = async (raw: string) => {
      h.fake.respondWith({ chunks: [], raw });
      const r = await client(a.key).responses.create({ model: 'gpt-5-nano', input: 'Largest city?' });
      h.fake.respondWith({ chunks: ['Because.'] });
      await client(a.key).responses.create({ model: 'gpt-5-nano', previous_response_id: r.id, input: 'Why not?' });
      return h.fake.requests.at(-1)!.body.messages;
    };
    // Only a refusal.
    assert.deepEqual(await continued(chunk({ refusal: "I'm sorry, " }) + chunk({ refusal: 'I cannot help with that.' })), [
      { role: 'user', content: 'Largest city?' },
      { role: 'assistant', content: refused },
      { role: 'user', content: 'Why not?' },
    ]);
    // Text, then a refusal: one message item with two parts, one assistant turn in that order.
    assert.deepEqual(await continued(chunk({ content: 'Well. ' }) + chunk({ refusal: refused })), [
      { role: 'user', content: 'Largest city?' },
      { role: 'assistant', content: `Well. ${refused}` },
      { role: 'user', content: 'Why not?' },
    ]);
    assert.equal(await h.balance(a.id), 6);
  });

  it('text.format json_schema reaches the upstream as response_format; the JSON answer is checked and returned', async () => {
    const a = await h.account({ tokens: 10 });
    const schema = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false };
    h.fake.respondWith({ chunks: ['{"name":"Ada",', '"age":36}'] });
    const r = await client(a.key).responses.create({ model: 'gpt-5-nano', input: 'who?', text: { format: { type: 'json_schema', name: 'person', schema, strict: true } } });
    assert.deepEqual(JSON.parse(r.output_text), { name: 'Ada', age: 36 });
    assert.deepEqual(h.fake.requests.at(-1)!.body.response_format, { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } });
    assert.deepEqual(r.text!.format, { type: 'json_schema', name: 'person', schema, strict: true });
  });

  it('an answer that does not match text.format is output_invalid in its own words (the text.format schema, not response_format): the answer, response.failed and the stored error', async () => {
    const a = await h.account({ tokens: 10 });
    const schema = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false };
    const body = { model: 'gpt-5-nano', input: 'who?', text: { format: { type: 'json_schema', name: 'person', schema, strict: true } } };
    h.fake.respondWith({ chunks: ['{"name":"Ada"}'] });
    const r = await h.post('/v1/responses', body, a.key);
    assert.equal(r.status, 500, r.text);
    assert.equal(r.json.error.details.reason, 'output_invalid');
    assert.match(r.json.error.message, /^the answer does not match the text\.format schema: /);
    const stored = await h.get(`/api/v2/generate/${r.json.error.details.generation_id}`, a.key);
    assert.equal(stored.json.error, r.json.error.message);
    h.fake.respondWith({ chunks: ['{"name":"Ada"}'] });
    const [name, last] = namedEvents((await h.post('/v1/responses', { ...body, stream: true }, a.key)).text).at(-1)!;
    assert.equal(name, 'response.failed');
    assert.match(last.response.error.message, /^the answer does not match the text\.format schema: /);
    assert.equal(await h.balance(a.id), 10, 'nothing charged');
  });

  it('refusals: unknown fields and item types by name, foreign and unknown previous responses 404, nothing charged', async () => {
    const a = await h.account({ tokens: 10 });
    const other = await h.account({ tokens: 10 });
    h.fake.respondWith({});
    const mine = await client(other.key).responses.create({ model: 'gpt-5-nano', input: 'x' });
    const before = h.fake.requests.length;
    const post = (body: unknown) => h.post('/v1/responses', body, a.key);
    const unknown = await post({ model: 'gpt-5-nano', input: 'x', service_tier: 'flex' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.error.param, 'service_tier');
    const nested = await post({ model: 'gpt-5-nano', input: 'x', text: { verbosity: 'low' } });
    assert.equal(nested.json.error.param, 'text.verbosity');
    const item = await post({ model: 'gpt-5-nano', input: [{ type: 'web_search_call', id: 'x' }] });
    assert.equal(item.status, 400);
    assert.equal(item.json.error.param, 'input.0.type');
    assert.equal((await post({ model: 'gpt-5-nano', input: 'x', include: ['reasoning.encrypted_content'] })).status, 422);
    // A missing input is a missing required field (400), a present one of the wrong type 422.
    const noInput = await post({ model: 'gpt-5-nano' });
    assert.equal(noInput.status, 400, noInput.text);
    assert.equal(noInput.json.error.code, 'bad_request');
    assert.equal(noInput.json.error.message, 'missing required field: input');
    assert.equal(noInput.json.error.param, 'input');
    assert.equal((await post({ model: 'gpt-5-nano', input: 5 })).status, 422);
    // A function_call_output that answers no call is named by its call_id, not as the whole input.
    const orphan = await post({
      model: 'gpt-5-nano',
      instructions: 'be brief',
      input: [
        { role: 'user', content: 'x' },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
        { type: 'function_call_output', call_id: 'nope', output: 'y' },
      ],
    });
    assert.equal(orphan.status, 422);
    assert.equal(orphan.json.error.param, 'input.3.call_id');
    assert.equal(orphan.json.error.message, 'input.3.call_id: function_call_output "nope" answers no function_call');
    await assert.rejects(client(a.key).responses.create({ model: 'gpt-5-nano', input: 'x', previous_response_id: mine.id }), OpenAI.NotFoundError);
    await assert.rejects(client(a.key).responses.create({ model: 'gpt-5-nano', input: 'x', previous_response_id: 'resp_999999' }), OpenAI.NotFoundError);
    await assert.rejects(client(a.key).responses.create({ model: 'gpt-5-nano', input: 'x', previous_response_id: 'chatcmpl-1' }), OpenAI.NotFoundError);
    assert.equal(h.fake.requests.length, before);
    assert.equal(await h.balance(a.id), 10);
  });

  it('a key an input item, its content part, a tool, tool_choice or text.format does not have is 400 naming its path; the items the SDK sends and gets back go through', async () => {
    const a = await h.account({ tokens: 10 });
    const text = { type: 'input_text', text: 'weather?' };
    const image = { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' };
    const call = { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}' };
    const answered = (c: object, output: unknown = 'sunny') => [{ role: 'user', content: 'weather?' }, c, { type: 'function_call_output', call_id: 'call_1', output }];
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const format = { type: 'json_schema', name: 'city', schema, strict: true };
    const before = h.fake.requests.length;
    for (const [body, param] of [
      [{ input: [{ role: 'user', content: 'x', foo: 1 }] }, 'input.0.foo'],
      [{ input: [{ role: 'user', content: [{ ...text, foo: 1 }] }] }, 'input.0.content.0.foo'],
      [{ input: [{ role: 'user', content: [text, { ...image, file_id: 'file-1' }] }] }, 'input.0.content.1.file_id'],
      [{ input: [{ role: 'user', content: [{ type: 'input_file', file_url: 'https://example.com/a.pdf' }] }] }, 'input.0.content.0.file_url'],
      [
        {
          input: [
            { role: 'user', content: 'x' },
            { role: 'assistant', content: [{ type: 'output_text', text: 'y', foo: 1 }] },
          ],
        },
        'input.1.content.0.foo',
      ],
      [{ input: answered({ ...call, namespace: 'weather' }) }, 'input.1.namespace'],
      [{ input: answered(call, [{ type: 'input_text', text: 'sunny', foo: 1 }]) }, 'input.2.output.0.foo'],
      [{ input: 'x', tools: [{ ...weatherTool, defer_loading: true }] }, 'tools.0.defer_loading'],
      [{ input: 'x', tools: [weatherTool], tool_choice: { type: 'function', name: 'get_weather', foo: 1 } }, 'tool_choice.foo'],
      [{ input: 'x', text: { format: { ...format, foo: 1 } } }, 'text.format.foo'],
      [{ input: 'x', text: { format: { type: 'json_object', schema } } }, 'text.format.schema'],
    ] as const) {
      const bad = await h.post('/v1/responses', { model: 'gpt-5-nano', ...body }, a.key);
      assert.equal(bad.status, 400, bad.text);
      assert.deepEqual([bad.json.error.type, bad.json.error.code, bad.json.error.param], ['invalid_request_error', 'bad_request', param]);
      assert.match(bad.json.error.message, new RegExp(`^${param}: unknown field`));
    }
    // A file_id (beside inline data or not) is refused by name, not dropped.
    const pdf = { type: 'input_file', filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' };
    for (const part of [
      { ...pdf, file_id: 'file-abc' },
      { type: 'input_file', file_id: 'file-abc' },
    ]) {
      const byId = await h.post('/v1/responses', { model: 'gpt-5-nano', input: [{ role: 'user', content: [text, part] }] }, a.key);
      assert.equal(byId.status, 400, byId.text);
      assert.equal(byId.json.error.param, 'input.0.content.1.file_id');
      assert.match(byId.json.error.message, /file_id: not supported/);
    }
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);

    // Parts with detail, a named tool_choice, then the answer's own output items sent back with the call's output.
    const input: OpenAI.Responses.ResponseInput = [
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'weather here?' },
          { type: 'input_image', image_url: image.image_url, detail: 'low' },
        ],
      },
    ];
    h.fake.respondWith({ chunks: ['Checking.'], toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: ['{"city":"Oslo"}'] }] });
    const r = await client(a.key).responses.create({ model: 'gpt-5-nano', input, tools: [weatherTool], tool_choice: { type: 'function', name: 'get_weather' } });
    assert.deepEqual(
      r.output.map((o) => o.type),
      ['message', 'function_call'],
    );
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages[0].content[1], { type: 'image_url', image_url: { url: image.image_url, detail: 'low' } });
    h.fake.respondWith({ chunks: ['{"city":"Oslo"}'] });
    const next = await client(a.key).responses.create({
      model: 'gpt-5-nano',
      input: [...input, ...(r.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: 'call_1', output: 'sunny' }],
      tools: [weatherTool],
      text: { format: { ...format, type: 'json_schema', description: 'A city' } },
    });
    assert.deepEqual(JSON.parse(next.output_text), { city: 'Oslo' });
    const upstream = h.fake.requests.at(-1)!.body;
    assert.deepEqual(upstream.messages.slice(1), [
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
    ]);
    assert.deepEqual(upstream.response_format, { type: 'json_schema', json_schema: { name: 'city', schema, description: 'A city', strict: true } });
    assert.equal(await h.balance(a.id), 8);
  });

  it('a part a message role cannot carry (an image in a system message, a file in an assistant one) is 422 naming it instead of dropped; text parts are its text', async () => {
    const a = await h.account({ tokens: 10 });
    const image = { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=' };
    const file = { type: 'input_file', filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' };
    const before = h.fake.requests.length;
    for (const [input, param] of [
      [
        [
          { role: 'system', content: [{ type: 'input_text', text: 'be brief' }, image] },
          { role: 'user', content: 'x' },
        ],
        'input.0.content.1',
      ],
      [
        [
          { role: 'developer', content: [{ type: 'refusal', refusal: 'no' }] },
          { role: 'user', content: 'x' },
        ],
        'input.0.content.0',
      ],
      [
        [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: [{ type: 'output_text', text: 'y' }, file] },
          { role: 'user', content: 'z' },
        ],
        'input.1.content.1',
      ],
    ] as const) {
      const bad = await h.post('/v1/responses', { model: 'gpt-5-nano', input }, a.key);
      assert.equal(bad.status, 422, bad.text);
      assert.equal(bad.json.error.param, param);
    }
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);

    h.fake.respondWith({ chunks: ['ok'] });
    const r = await client(a.key).responses.create({
      model: 'gpt-5-nano',
      input: [
        { role: 'developer', content: [{ type: 'input_text', text: 'be brief' }] },
        { role: 'user', content: 'x' },
        // An earlier answer's message item as the SDK types it.
        {
          type: 'message',
          id: 'msg_1',
          status: 'completed',
          role: 'assistant',
          content: [
            { type: 'output_text', text: 'y', annotations: [] },
            { type: 'refusal', refusal: ' no' },
          ],
        },
        { role: 'user', content: 'z' },
      ],
    });
    assert.equal(r.output_text, 'ok');
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'x' },
      { role: 'assistant', content: 'y no' },
      { role: 'user', content: 'z' },
    ]);
  });

  it('a value an input item cannot take is 422 naming that field, not only the item (input.0): content parts, roles, function calls and their outputs', async () => {
    const a = await h.account({ tokens: 10 });
    const text = { type: 'input_text', text: 'look' };
    const call = { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}' };
    const answered = (output: unknown) => [{ role: 'user', content: 'weather?' }, call, { type: 'function_call_output', call_id: 'call_1', output }];
    const before = h.fake.requests.length;
    await assertRefusedAt(h, a.key, [
      [{ model: 'gpt-5-nano', input: [{ role: 'user', content: [text, { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'max' }] }] }, 422, 'input.0.content.1.detail'],
      [{ model: 'gpt-5-nano', input: [{ role: 'user', content: [{ type: 'input_text', text: 5 }] }] }, 422, 'input.0.content.0.text'],
      [{ model: 'gpt-5-nano', input: [{ role: 'user', content: [text, { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, 422, 'input.0.content.1.type'],
      [{ model: 'gpt-5-nano', input: [{ role: 'tool', content: 'x' }] }, 422, 'input.0.role'],
      [{ model: 'gpt-5-nano', input: [{ role: 'user', content: 5 }] }, 422, 'input.0.content'],
      [{ model: 'gpt-5-nano', input: answered([{ type: 'input_text', text: 5 }]) }, 422, 'input.2.output.0.text'],
      [{ model: 'gpt-5-nano', input: answered(5) }, 422, 'input.2.output'],
    ]);
    // A field an item lacks is 400 "missing required field", as a missing top-level field is.
    for (const [input, path] of [
      [[{ role: 'user', content: [text, { type: 'input_image' }] }], 'input.0.content.1.image_url'],
      [
        [
          { role: 'user', content: 'x' },
          { type: 'function_call', call_id: 'call_1', arguments: '{}' },
        ],
        'input.1.name',
      ],
    ] as const) {
      const missing = await h.post('/v1/responses', { model: 'gpt-5-nano', input }, a.key);
      assert.deepEqual([missing.status, missing.json.error.param, missing.json.error.message], [400, path, `missing required field: ${path}`]);
    }
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);
  });

  it('a bad tool_choice is named by its own field (tool_choice.name, tool_choice.type) or lists what it takes, not "Invalid input" at tool_choice', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const body = (tool_choice: unknown) => ({ model: 'gpt-5-nano', input: 'x', tools: [weatherTool], tool_choice });
    await assertRefusedAt(h, a.key, [
      [body('sometimes'), 422, 'tool_choice'],
      [body({ type: 'function', name: 5 }), 422, 'tool_choice.name'],
      [body({ type: 'tool', name: 'get_weather' }), 422, 'tool_choice.type'],
    ]);
    const bad = await h.post('/v1/responses', body('sometimes'), a.key);
    assert.equal(bad.json.error.message, 'tool_choice: "none", "auto", "required", or {"type": "function", "name": …} naming one of the tools');
    // A field the named choice lacks is 400 "missing required field", as elsewhere in the body.
    for (const [choice, path] of [
      [{ type: 'function' }, 'tool_choice.name'],
      [{ name: 'get_weather' }, 'tool_choice.type'],
    ] as const) {
      const missing = await h.post('/v1/responses', body(choice), a.key);
      assert.deepEqual([missing.status, missing.json.error.param, missing.json.error.message], [400, path, `missing required field: ${path}`]);
    }
    // Chat's named choice is still 400 at tool_choice.function, with this API's form as a hint, streamed or not.
    await assertRefusedAt(h, a.key, [[body({ type: 'function', function: { name: 'get_weather' } }), 400, 'tool_choice.function']]);
    const hint = 'unknown field (the Responses API names the function at the top level: {"type": "function", "name": "get_weather"})';
    for (const stream of [false, true]) {
      const chatShaped = await h.post('/v1/responses', { ...body({ type: 'function', function: { name: 'get_weather' } }), stream }, a.key);
      assert.deepEqual([chatShaped.json.error.message, chatShaped.json.error.details.fields], [`tool_choice.function: ${hint}`, [{ path: 'tool_choice.function', message: hint }]]);
    }
    // Another unknown key of a named choice is refused as before, without the hint.
    const other = await h.post('/v1/responses', body({ type: 'function', name: 'get_weather', strict: true }), a.key);
    assert.deepEqual([other.status, other.json.error.message], [400, 'tool_choice.strict: unknown field']);
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);
  });

  it("chat's function tool ({type, function: {name, parameters}}) is 400 at tools.N.function, with this API's flat form as a hint", async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const { type, name, ...rest } = weatherTool;
    const chatTool = { type, function: { name, ...rest } };
    const body = (tools: unknown[]) => ({ model: 'gpt-5-nano', input: 'x', tools });
    await assertRefusedAt(h, a.key, [
      [body([chatTool]), 400, 'tools.0.function'],
      [body([weatherTool, { ...chatTool, function: { ...chatTool.function, name: 'get_time' } }]), 400, 'tools.1.function'],
    ]);
    const hint = (named: string) => `unknown field (the Responses API takes a function tool's fields at the top level: {"type": "function", "name": ${named}, "parameters": {…}})`;
    for (const [tools, path, named] of [
      [[chatTool], 'tools.0.function', '"get_weather"'],
      [[weatherTool, { ...chatTool, function: { ...chatTool.function, name: 'get_time' } }], 'tools.1.function', '"get_time"'],
      // Without a name (or with one that is not a string) the form is given all the same.
      [[{ type: 'function', function: { parameters: rest.parameters } }], 'tools.0.function', '…'],
      [[{ type: 'function', function: { name: 5 } }], 'tools.0.function', '…'],
    ] as const) {
      for (const stream of [false, true]) {
        const r = await h.post('/v1/responses', { ...body([...tools]), stream }, a.key);
        assert.deepEqual(
          [r.status, r.json.error.param, r.json.error.message, r.json.error.details.fields],
          [400, path, `${path}: ${hint(named)}`, [{ path, message: hint(named) }]],
          `${JSON.stringify(tools)} stream: ${stream}`,
        );
      }
    }
    // Another unknown key of a flat tool is refused as before, without the hint.
    const other = await h.post('/v1/responses', body([{ ...weatherTool, defer_loading: true }]), a.key);
    assert.deepEqual([other.status, other.json.error.message], [400, 'tools.0.defer_loading: unknown field']);
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);
  });

  it('what a check shared with chat refuses is named where the client sent it (input.N.content.M.image_url, not messages.N.content.M.image_url.url), streamed or not', async () => {
    const a = await h.account({ tokens: 10 });
    const text = { type: 'input_text' as const, text: 'look' };
    const image = { type: 'input_image' as const, image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'auto' as const };
    h.fake.respondWith({ chunks: ['ok'] });
    const withImage = await client(a.key).responses.create({ model: 'gpt-5-nano', input: [{ role: 'user', content: [text, image] }] });
    const before = h.fake.requests.length;
    const user = (content: unknown) => ({ role: 'user', content });
    const schema = { type: 'object', properties: { city: { type: 'nonsense' } } };
    await assertRefusedAt(h, a.key, [
      // Content parts: chat's image_url.url and file.file_data are the part's own image_url and file_data.
      [{ model: 'gpt-5-nano', instructions: 'be brief', input: [user('x'), user([text, { type: 'input_image', image_url: 'http://example.com/a.png' }])] }, 422, 'input.1.content.1.image_url'],
      [{ model: 'gpt-5-nano', input: [user([text, { type: 'input_file', filename: 'a.pdf', file_data: 'JVBERi0xLjQK' }])] }, 422, 'input.0.content.1.file_data'],
      [{ model: 'gpt-5-nano', input: [user([text, { type: 'input_file', filename: 'a.pdf' }])] }, 422, 'input.0.content.1.file_data'],
      // An empty prompt: the item, or `input` itself when it is a string (instructions are not an input item).
      [{ model: 'gpt-5-nano', instructions: 'be brief', input: ' ' }, 400, 'input'],
      [{ model: 'gpt-5-nano', instructions: 'be brief', input: [user('x'), { role: 'assistant', content: 'y' }, user('')] }, 400, 'input.2'],
      [{ model: 'gpt-5-nano', input: [{ role: 'developer', content: 'be brief' }, user([{ type: 'input_text', text: ' ' }])] }, 400, 'input.1'],
      // A part the model does not take: the item's part, or the previous response it came with.
      [{ model: 'text-only', instructions: 'be brief', input: [user([text, image])] }, 422, 'input.0.content.1'],
      [{ model: 'text-only', instructions: 'be brief', previous_response_id: withImage.id, input: 'and now?' }, 422, 'previous_response_id'],
      // The model's limits: too many messages is `input`; too many characters names the item holding most of them.
      [{ model: 'two-short', input: [user('a'), { role: 'assistant', content: 'b' }, user('c')] }, 422, 'input'],
      [{ model: 'two-short', input: 'eleven chars' }, 422, 'input'],
      [{ model: 'two-short', input: [user('a'), user('eleven chars')] }, 422, 'input.1'],
      // A named tool_choice is {type, name}; text.format is response_format's json_schema, flat.
      [{ model: 'gpt-5-nano', input: 'x', tools: [weatherTool], tool_choice: { type: 'function', name: 'get_time' } }, 422, 'tool_choice.name'],
      [{ model: 'gpt-5-nano', input: 'x', text: { format: { type: 'json_schema', name: 'city', schema, strict: true } } }, 422, 'text.format.schema'],
      // A format's own fields by name (each type is its own shape), not "Invalid input" at text.format.
      [{ model: 'gpt-5-nano', input: 'x', text: { format: { type: 'json_schema', name: 'city', schema: 5 } } }, 422, 'text.format.schema'],
      [{ model: 'gpt-5-nano', input: 'x', text: { format: { type: 'xml' } } }, 422, 'text.format.type'],
    ]);
    const noSchema = await h.post('/v1/responses', { model: 'gpt-5-nano', input: 'x', text: { format: { type: 'json_schema', name: 'city' } } }, a.key);
    assert.deepEqual([noSchema.status, noSchema.json.error.param, noSchema.json.error.message], [400, 'text.format.schema', 'missing required field: text.format.schema']);
    // Too many messages says so in this surface's words: input items, not chat's messages (instructions count too).
    const tooMany = await h.post('/v1/responses', { model: 'two-short', instructions: 'be brief', input: [user('a'), user('c')] }, a.key);
    assert.equal(tooMany.json.error.message, "input: at most 2 input items (instructions and a previous response's included) for model two-short, got 3");
    assert.equal(h.fake.requests.length, before, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 9, 'nothing charged but the first response');
  });

  it('mid-stream upstream failure: response.failed as the last event, the SDK throws, 0 charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['one', 'two'], ending: 'reset', delayMs: 20 });
    const raw = await h.post('/v1/responses', { model: 'gpt-5-nano', input: 'x', stream: true }, a.key);
    const events = namedEvents(raw.text);
    const [name, last] = events.at(-1)!;
    assert.equal(name, 'response.failed');
    assert.equal(last.response.status, 'failed');
    assert.equal(last.response.error.code, 'provider_error');
    const id = respId(last.response.id);
    assert.equal((await settled(h, id, a.key)).status, 'failed');

    h.fake.respondWith({ chunks: ['one', 'two'], ending: 'reset', delayMs: 20 });
    // As with OpenAI, the SDK hands the failure over as the terminal event (it does not throw).
    const stream = await client(a.key).responses.create({ model: 'gpt-5-nano', input: 'x', stream: true });
    const types: string[] = [];
    let failed: OpenAI.Responses.ResponseFailedEvent | undefined;
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.failed') failed = e;
    }
    assert.equal(types.at(-1), 'response.failed');
    assert.ok(types.includes('response.output_text.delta'));
    assert.equal(failed!.response.error?.code, 'provider_error');
    assert.match(failed!.response.error.message, /provider error/);
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });
});

describe('/v1/responses: provider refusals name the field as sent', () => {
  let h: Harness;
  let anthropic: FakeUpstream;
  let google: FakeUpstream;
  before(async () => {
    ({ h, anthropic, google } = await startClaudeGemini());
  });
  after(() => closeClaudeGemini({ h, anthropic, google }));

  it('text.format, input items and schema places instead of response_format, messages.N and response_format.json_schema.schema…, streamed or not; nothing held or sent', async () => {
    const a = await h.account({ tokens: 10 });
    // Gemini's schema conversion in the SDK takes an enum of one type only.
    const mixed = { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['celsius', 0] } } };
    // Deep enough that chat's path (response_format.json_schema.schema.…) is cut at 64 characters; the responses one is not.
    const deep = { type: 'object', properties: { days: { type: 'array', items: { anyOf: [{ type: 'string' }, mixed] } } } };
    const sent = anthropic.requests.length + google.requests.length;
    await assertRefusedAt(h, a.key, [
      [{ model: 'claude-haiku-4.5', input: 'x', text: { format: { type: 'json_object' } } }, 400, 'text.format'],
      [
        {
          model: 'claude-haiku-4.5',
          input: [
            {
              role: 'user',
              content: [
                { type: 'input_text', text: 'x' },
                { type: 'input_file', filename: 'a.csv', file_data: 'data:text/csv;base64,YSxi' },
              ],
            },
          ],
        },
        400,
        'input.0.content.1',
      ],
      [
        {
          model: 'gemini-2.5-flash',
          instructions: 'be brief',
          input: [
            { role: 'user', content: 'x' },
            { role: 'developer', content: 'y' },
          ],
        },
        400,
        'input.1',
      ],
      [{ model: 'gemini-2.5-flash', input: 'x', text: { format: { type: 'json_schema', name: 'w', schema: mixed } } }, 400, 'text.format.schema.properties.unit'],
      [{ model: 'gemini-2.5-flash', input: 'x', text: { format: { type: 'json_schema', name: 'w', schema: deep } } }, 400, 'text.format.schema.properties.days.items.anyOf.1.properties.unit'],
      [{ model: 'gemini-2.5-flash', input: 'x', tools: [weatherTool, { type: 'function', name: 'convert', parameters: mixed }] }, 400, 'tools.1.parameters.properties.unit'],
      [
        {
          model: 'claude-haiku-4.5',
          input: [
            {
              role: 'user',
              content: [
                { type: 'input_text', text: 'x' },
                { type: 'input_image', image_url: 'https://example.com/cat.png', detail: 'low' },
              ],
            },
          ],
        },
        400,
        'input.0.content.1.detail',
      ],
      // A call's arguments that are not a JSON object are named at that call's own item (the second of the turn), not the turn's first.
      [
        {
          model: 'claude-haiku-4.5',
          input: [
            { role: 'user', content: 'x' },
            { type: 'function_call', call_id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
            { type: 'function_call', call_id: 'toolu_2', name: 'get_weather', arguments: '{"city":"Par' },
            { type: 'function_call_output', call_id: 'toolu_1', output: 'sunny' },
            { type: 'function_call_output', call_id: 'toolu_2', output: '?' },
          ],
          tools: [weatherTool],
        },
        400,
        'input.2.arguments',
      ],
    ]);
    assert.equal(anthropic.requests.length + google.requests.length, sent, 'nothing sent upstream');
    assert.equal(await h.balance(a.id), 10);
  });

  it("a provider's reason does not use chat's name of another field: sampling with reasoning.effort on Claude", async () => {
    const a = await h.account({ tokens: 10 });
    const r = await h.post('/v1/responses', { model: 'claude-haiku-4.5', input: 'x', reasoning: { effort: 'low' }, temperature: 0.5 }, a.key);
    assert.deepEqual([r.status, r.json.error.param, r.json.error.message], [400, 'temperature', 'temperature: Anthropic takes no sampling parameters with a reasoning effort (extended thinking)']);
  });

  it('a refusal once the generation runs (after the hold) is stored as the client was told it: GET /api/v2/generate/{id} names input.0.content.1, not messages.1.content.1', async () => {
    const a = await h.account({ tokens: 10 });
    // A provider whose check before the hold lets the request through and whose open() refuses it:
    // Claude's, without its refuse(), refuses a CSV file only once the generation is running.
    const claude = h.server.app.services.providers.get('anthropic')!;
    const refuse = claude.refuse;
    delete claude.refuse;
    try {
      const csv = { type: 'input_file', filename: 'a.csv', file_data: 'data:text/csv;base64,YSxi' };
      // instructions are chat's messages.0, so the item is messages.1 there and input.0 here.
      const body = { model: 'claude-haiku-4.5', instructions: 'be brief', input: [{ role: 'user', content: [{ type: 'input_text', text: 'x' }, csv] }] };
      for (const stream of [false, true]) {
        const r = await h.post('/v1/responses', { ...body, stream }, a.key);
        assert.equal(r.status, 400, r.text);
        const e = r.json.error;
        assert.deepEqual([e.param, e.message], ['input.0.content.1', 'input.0.content.1: Anthropic takes PDF and text/plain files, not text/csv']);
        assert.ok(e.details.generation_id, 'refused after the hold: the generation exists');
        const stored = await h.get(`/api/v2/generate/${e.details.generation_id}`, a.key);
        assert.deepEqual([stored.json.status, stored.json.error], ['failed', e.message]);
      }
    } finally {
      Object.assign(claude, { refuse });
    }
    assert.equal(await h.balance(a.id), 10, 'nothing charged');
  });
});
