import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalProvider, type LocalProvider } from './provider.js';
import { writeTinyGguf } from './tiny-gguf.js';
import { ProviderError, type StreamPart, type ProviderRequest } from '../spec.js';

let dir: string;
let modelPath: string;
let current: LocalProvider | undefined;

afterEach(async () => {
  await current?.close?.();
  current = undefined;
});
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lumengate-local-'));
  modelPath = path.join(dir, 'tiny.gguf');
  await writeTinyGguf(modelPath);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function provider(config: Parameters<typeof createLocalProvider>[1] = {}): LocalProvider {
  current = createLocalProvider('local', { threads: 1, models_dir: dir, ...config }, {});
  return current;
}

function request(content: string, extra: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    upstreamModel: modelPath,
    messages: [{ role: 'user', content: [{ type: 'text', text: content }] }],
    temperature: 0,
    maxTokens: 8,
    signal: new AbortController().signal,
    ...extra,
  };
}

async function collect(events: AsyncIterable<StreamPart>): Promise<{ text: string; deltas: number; finish: Extract<StreamPart, { type: 'finish' }> }> {
  let text = '';
  let deltas = 0;
  let finish: Extract<StreamPart, { type: 'finish' }> | undefined;
  for await (const e of events) {
    assert.equal(finish, undefined, 'nothing may follow finish');
    if (e.type === 'text-delta') {
      text += e.delta;
      deltas++;
    } else if (e.type === 'finish') finish = e;
  }
  assert.ok(finish, 'stream must end with finish');
  return { text, deltas, finish };
}

/** Opens a stream that runs until aborted (the tiny model never samples its end token). */
function longRequest(content: string, ac: AbortController): ProviderRequest {
  return request(content, { maxTokens: 1_000_000, signal: ac.signal });
}

test('streams deltas then a finish with token usage', async () => {
  const p = provider();
  const { text, deltas, finish } = await collect((await p.open(request('Hello there'))).parts);
  assert.ok(deltas >= 1);
  assert.ok(text.length > 0);
  assert.equal(finish.finishReason, 'length');
  assert.equal(finish.usage?.output_tokens, 8);
  // Byte-level vocabulary: the prompt alone is more tokens than its 11 characters.
  assert.ok((finish.usage?.input_tokens ?? 0) > 11, `input tokens ${finish.usage?.input_tokens}`);
  assert.equal(finish.usage?.total_tokens, (finish.usage?.input_tokens ?? 0) + 8);
});

test('a multi-turn conversation with a system prompt is formatted into one prompt', async () => {
  const p = provider();
  const short = await collect((await p.open(request('Hi'))).parts);
  const conversation = await collect(
    (
      await p.open(
        request('', {
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
            { role: 'assistant', content: 'Hello!' },
            { role: 'user', content: [{ type: 'text', text: 'And again?' }] },
          ],
        }),
      )
    ).parts,
  );
  const extra = 'Be brief.'.length + 'Hello!'.length + 'And again?'.length;
  assert.ok((conversation.finish.usage?.input_tokens ?? 0) >= (short.finish.usage?.input_tokens ?? 0) + extra, 'all turns reach the model');
});

test('temperature 0 is deterministic and maxTokens is honoured', async () => {
  const p = provider();
  const a = await collect((await p.open(request('Same prompt', { maxTokens: 12 }))).parts);
  const b = await collect((await p.open(request('Same prompt', { maxTokens: 12 }))).parts);
  assert.equal(a.text, b.text);
  assert.equal(a.finish.usage?.output_tokens, 12);
  const other = await collect((await p.open(request('A different prompt', { maxTokens: 12 }))).parts);
  assert.notEqual(other.text, a.text, 'output depends on the prompt');
});

test('two streams generate at once on separate sequences without crosstalk', async () => {
  const p = provider({ sequences: 2, max_queue: 0 });
  const alone1 = await collect((await p.open(request('first prompt', { maxTokens: 24 }))).parts);
  const alone2 = await collect((await p.open(request('second prompt', { maxTokens: 24 }))).parts);
  // max_queue 0: the second open only succeeds if a second sequence is free while the first runs.
  const s1 = await p.open(request('first prompt', { maxTokens: 24 }));
  const s2 = await p.open(request('second prompt', { maxTokens: 24 }));
  assert.deepEqual(p.poolState(modelPath), { available: 0, queued: 0 });
  const [c1, c2] = await Promise.all([collect(s1.parts), collect(s2.parts)]);
  assert.equal(c1.text, alone1.text);
  assert.equal(c2.text, alone2.text);
  assert.deepEqual(p.poolState(modelPath), { available: 2, queued: 0 });
});

test('requests queue when all sequences are busy; a full queue is a 503', async () => {
  const p = provider({ sequences: 1, max_queue: 1 });
  const ac1 = new AbortController();
  const s1 = await p.open(longRequest('busy', ac1));
  let secondOpened = false;
  const second = p.open(request('queued')).then((s) => {
    secondOpened = true;
    return s;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(secondOpened, false, 'second request waits for the sequence');
  assert.deepEqual(p.poolState(modelPath), { available: 0, queued: 1 });

  await assert.rejects(p.open(request('one too many')), (err: unknown) => {
    assert.ok(err instanceof ProviderError);
    assert.equal(err.status, 503);
    assert.equal(err.code, 'model_busy');
    return true;
  });

  ac1.abort(new Error('client left'));
  await assert.rejects(collect(s1.parts), /client left/);
  const done = await collect((await second).parts);
  assert.equal(done.finish.finishReason, 'length');
});

test("one account's requests cannot fill the queue: another's takes the place of its newest waiter, and gets the sequence next (ProviderRequest.tenant)", async () => {
  const p = provider({ sequences: 1, max_queue: 1 });
  const ac1 = new AbortController();
  const s1 = await p.open({ ...longRequest('a busy', ac1), tenant: 'a' });
  const aQueued = p.open(request('a queued', { tenant: 'a' }));
  const bQueued = p.open(request('b queued', { tenant: 'b' }));
  await assert.rejects(aQueued, (err: unknown) => {
    assert.ok(err instanceof ProviderError);
    assert.equal(err.status, 503);
    assert.equal(err.code, 'model_busy');
    return true;
  });
  assert.deepEqual(p.poolState(modelPath), { available: 0, queued: 1 });
  // Another of A's finds the line full: B, the one waiting, has no more requests than A.
  await assert.rejects(p.open(request('a again', { tenant: 'a' })), (err: unknown) => err instanceof ProviderError && err.code === 'model_busy');
  ac1.abort(new Error('client left'));
  await assert.rejects(collect(s1.parts), /client left/);
  const done = await collect((await bQueued).parts);
  assert.equal(done.finish.finishReason, 'length');
});

test('abort frees the sequence for a queued request within 100 ms', async (t) => {
  const p = provider({ sequences: 1, max_queue: 1 });
  const ac = new AbortController();
  const running = await p.open(longRequest('run until aborted', ac));
  // Let it generate for a while so the abort lands mid-generation.
  let seen = 0;
  const reader = (async () => {
    for await (const e of running.parts) if (e.type === 'text-delta') seen++;
  })();
  await new Promise((r) => setTimeout(r, 150));
  let startedAt = 0;
  const queued = p.open(request('waiting')).then((s) => {
    startedAt = performance.now();
    return s;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(startedAt, 0);

  const abortedAt = performance.now();
  ac.abort(new Error('client left'));
  await assert.rejects(reader, /client left/);
  await collect((await queued).parts);
  assert.ok(seen > 0, 'the aborted stream was generating');
  const elapsed = startedAt - abortedAt;
  t.diagnostic(`abort -> queued request started: ${elapsed.toFixed(1)} ms`);
  assert.ok(elapsed >= 0 && elapsed < 100, `sequence freed ${elapsed.toFixed(1)} ms after abort`);
});

test('an aborted request waiting in the queue leaves it', async () => {
  const p = provider({ sequences: 1, max_queue: 1 });
  const ac1 = new AbortController();
  const s1 = await p.open(longRequest('busy', ac1));
  const ac2 = new AbortController();
  const waiting = p.open(request('queued', { signal: ac2.signal }));
  await new Promise((r) => setTimeout(r, 20));
  ac2.abort(new Error('gave up'));
  await assert.rejects(waiting, /gave up/);
  assert.deepEqual(p.poolState(modelPath), { available: 0, queued: 0 });
  ac1.abort(new Error('done'));
  await assert.rejects(collect(s1.parts), /done/);
});

test('a consumer that stops reading early frees its sequence', async () => {
  const p = provider({ sequences: 1, max_queue: 1 });
  const s = await p.open(longRequest('read a little', new AbortController()));
  for await (const e of s.parts) if (e.type === 'text-delta') break;
  const next = await p.open(request('next'));
  assert.equal((await collect(next.parts)).finish.finishReason, 'length');
});

test('a missing model file is a clear non-retryable ProviderError', async () => {
  const p = provider();
  await assert.rejects(p.open(request('hi', { upstreamModel: 'no-such-model.gguf' })), (err: unknown) => {
    assert.ok(err instanceof ProviderError);
    assert.equal(err.code, 'model_file_missing');
    assert.equal(err.retryable, false);
    assert.match(err.message, /no-such-model\.gguf/);
    return true;
  });
});

test('close() disposes the model and refuses new requests', async () => {
  const p = createLocalProvider('local', { threads: 1, models_dir: dir }, {});
  await p.preload(modelPath);
  assert.deepEqual(p.poolState(modelPath), { available: 2, queued: 0 });
  await p.close?.();
  assert.equal(p.poolState(modelPath), undefined);
  await assert.rejects(p.open(request('hi')), (err: unknown) => err instanceof ProviderError && err.status === 503);
});

/** Asserts a 400 ProviderError whose message names `field`. */
function refusedNaming(field: string | RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ProviderError, String(err));
    assert.equal(err.status, 400);
    assert.match(err.message, typeof field === 'string' ? new RegExp(`^${field}`) : field);
    return true;
  };
}

async function collectAll(events: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const e of events) parts.push(e);
  assert.equal(parts.at(-1)?.type, 'finish');
  return parts;
}

const okSchema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };

test('response_format json_schema: a grammar makes the answer valid JSON matching the schema', async () => {
  const p = provider();
  const format = { type: 'json_schema' as const, name: 'answer', schema: okSchema };
  const { text, finish } = await collect((await p.open(request('Is it ok?', { maxTokens: 32, responseFormat: format }))).parts);
  const value = JSON.parse(text);
  assert.deepEqual(Object.keys(value), ['ok']);
  assert.equal(typeof value.ok, 'boolean');
  assert.equal(finish.finishReason, 'stop');
  const plain = await collect((await p.open(request('Is it ok?', { maxTokens: 32 }))).parts);
  assert.throws(() => JSON.parse(plain.text), 'without the grammar the tiny model writes no JSON');
});

test('response_format json_schema with an enum', async () => {
  const p = provider();
  const format = { type: 'json_schema' as const, name: 'pick', schema: { enum: ['red', 'green', 'blue'] } };
  const { text } = await collect((await p.open(request('Pick a colour', { maxTokens: 16, responseFormat: format }))).parts);
  assert.ok(['red', 'green', 'blue'].includes(JSON.parse(text)), text);
});

test('response_format json_schema the grammar cannot enforce is refused naming response_format', async () => {
  const p = provider();
  for (const schema of [
    { type: 'string', pattern: '^a+$' },
    { type: 'object', properties: { n: { type: 'integer', minimum: 3 } } },
    { allOf: [{ type: 'string' }] },
    { type: 'object', properties: { d: { $ref: '#/definitions/x' } } },
  ]) {
    await assert.rejects(p.open(request('x', { responseFormat: { type: 'json_schema', name: 's', schema } })), refusedNaming(/^response_format: not supported by local models \(schema #/));
  }
});

test('response_format json_object: the answer is a JSON object', async () => {
  const p = provider();
  const { text, finish } = await collect((await p.open(request('Give JSON', { maxTokens: 48, responseFormat: { type: 'json_object' } }))).parts);
  assert.equal(finish.finishReason, 'stop');
  assert.equal(typeof JSON.parse(text), 'object', text);
});

const weather = {
  name: 'get_weather',
  description: 'Weather in a city',
  parameters: { type: 'object', properties: { city: { enum: ['Paris', 'Oslo'] } }, required: ['city'], additionalProperties: false },
};
const clock = { name: 'get_time', description: 'The time', parameters: { type: 'object', properties: { utc: { type: 'boolean' } }, required: ['utc'], additionalProperties: false } };

/** The one tool call of an answer, checked for the full start/delta/end/call sequence. */
function onlyToolCall(parts: StreamPart[]): Extract<StreamPart, { type: 'tool-call' }> {
  const call = parts.find((e) => e.type === 'tool-call');
  assert.ok(call && call.type === 'tool-call', JSON.stringify(parts));
  assert.deepEqual(
    parts.filter((e) => e.type.startsWith('tool-')).map((e) => e.type),
    ['tool-input-start', 'tool-input-delta', 'tool-input-end', 'tool-call'],
  );
  const delta = parts.find((e) => e.type === 'tool-input-delta');
  assert.equal(delta?.type === 'tool-input-delta' && delta.delta, call.arguments);
  assert.match(call.id, /^call_[\w-]{16}$/);
  assert.equal(
    parts.some((e) => e.type === 'text-delta'),
    false,
    'a forced call is not text',
  );
  const finish = parts.at(-1);
  assert.equal(finish?.type === 'finish' && finish.finishReason, 'tool-calls');
  return call;
}

test('tool_choice required forces a call whose arguments match the tool schema', async () => {
  const p = provider();
  const parts = await collectAll((await p.open(request('Weather?', { maxTokens: 128, tools: [weather, clock], toolChoice: 'required' }))).parts);
  const call = onlyToolCall(parts);
  const args = JSON.parse(call.arguments);
  if (call.name === 'get_weather') assert.ok(['Paris', 'Oslo'].includes(args.city), call.arguments);
  else {
    assert.equal(call.name, 'get_time');
    assert.equal(typeof args.utc, 'boolean');
  }
});

test('a named tool_choice calls that tool; the tool result is accepted in the next turn', async () => {
  const p = provider();
  const parts = await collectAll((await p.open(request('Time?', { maxTokens: 128, tools: [weather, clock], toolChoice: { name: 'get_time' } }))).parts);
  const call = onlyToolCall(parts);
  assert.equal(call.name, 'get_time');
  assert.deepEqual(Object.keys(JSON.parse(call.arguments)), ['utc']);

  const secondTurn = request('', {
    tools: [weather, clock],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Time?' }] },
      { role: 'assistant', content: '', toolCalls: [{ id: call.id, name: call.name, arguments: call.arguments }] },
      { role: 'tool', toolCallId: call.id, content: '{"time":"12:00"}' },
    ],
  });
  const withResult = await collect((await p.open(secondTurn)).parts);
  assert.ok(['stop', 'length', 'tool-calls'].includes(withResult.finish.finishReason));
  assert.ok((withResult.finish.usage?.output_tokens ?? 0) > 0);
  const noResult = await collect((await p.open(request('Time?', { tools: [weather, clock] }))).parts);
  assert.ok((withResult.finish.usage?.input_tokens ?? 0) > (noResult.finish.usage?.input_tokens ?? 0), 'the call and its result reach the prompt');
});

test('a turn with text after its call is continued by the model, with or without tools offered', async () => {
  const p = provider();
  // What /v1/responses rebuilds from a previous response (text, a call, text) and the call's output.
  const messages: ProviderRequest['messages'] = [
    { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
    { role: 'assistant', content: 'Let me check.', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
    { role: 'assistant', content: 'It is sunny.' },
    { role: 'tool', toolCallId: 'call_1', content: '{"sky":"sunny"}' },
  ];
  const alone = await collect((await p.open(request('Weather?'))).parts);
  for (const tools of [undefined, [weather]]) {
    const { finish } = await collect((await p.open(request('', { messages, tools }))).parts);
    assert.equal(finish.finishReason, 'length');
    assert.ok((finish.usage?.input_tokens ?? 0) > (alone.finish.usage?.input_tokens ?? 0) + 'Let me check.It is sunny.'.length, 'the whole turn reaches the model');
  }
});

test('tool_choice auto offers the functions to the chat wrapper; none offers nothing', async () => {
  const p = provider();
  const plain = await collect((await p.open(request('Weather?'))).parts);
  const auto = await collect((await p.open(request('Weather?', { tools: [weather] }))).parts);
  const none = await collect((await p.open(request('Weather?', { tools: [weather], toolChoice: 'none' }))).parts);
  assert.ok((auto.finish.usage?.input_tokens ?? 0) > (plain.finish.usage?.input_tokens ?? 0) + 'get_weather'.length, 'tools are documented in the prompt');
  assert.equal(none.finish.usage?.input_tokens, plain.finish.usage?.input_tokens);
  assert.equal(none.text, plain.text);
});

test('what local models cannot honour is refused by name with a 400', async () => {
  const p = provider();
  const cases: [Partial<ProviderRequest>, string | RegExp][] = [
    [{ tools: [weather], responseFormat: { type: 'json_object' } }, 'response_format: not supported by local models \\(together with tools\\)'],
    [{ tools: [weather], toolChoice: { name: 'nope' } }, 'tool_choice: not supported by local models \\(no tool named nope\\)'],
    [{ toolChoice: 'required' }, 'tool_choice: not supported by local models \\(without tools\\)'],
    [
      { tools: [{ name: 'f', parameters: { type: 'object', properties: { s: { type: 'string', pattern: 'x' } } } }] },
      /^tools: not supported by local models \(tool f: schema #\/properties\/s: "pattern"/,
    ],
    [
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'x' }] },
          { role: 'tool', toolCallId: 'call_1', content: 'r' },
        ],
      },
      'messages.1: not supported by local models \\(tool message call_1',
    ],
    [{ messages: [{ role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'f', arguments: '{}' }] }] }, 'messages.0: not supported by local models \\(tool call c has no tool message'],
    [{ messages: [{ role: 'user', content: [{ type: 'image', url: 'https://x/y.png' }] }] }, 'messages.0.content: not supported by local models \\(non-text content\\)'],
    [{ logprobs: true }, 'logprobs'],
    [{ topLogprobs: 2 }, 'top_logprobs'],
    [{ reasoningEffort: 'low' }, 'reasoning_effort'],
  ];
  for (const [extra, field] of cases) {
    await assert.rejects(p.open(request('x', extra)), refusedNaming(field));
    // The same refusal, for the lifecycle to make before anything is held.
    assert.ok(await p.refuse?.(request('x', extra)), String(field));
  }
  assert.equal(await p.refuse?.(request('x')), undefined);
  assert.equal(p.poolState(modelPath), undefined, 'refused before the model was loaded');
});

test('seed, stop and penalties are mapped, not dropped', async () => {
  const p = provider();
  const sampled = (extra: Partial<ProviderRequest>) => p.open(request('Seeded', { temperature: 1, maxTokens: 16, ...extra })).then((s) => collect(s.parts));
  const a = await sampled({ seed: 7 });
  assert.equal((await sampled({ seed: 7 })).text, a.text, 'same seed, same text');
  assert.notEqual((await sampled({ seed: 8 })).text, a.text, 'another seed, another text');
  const penalised = await sampled({ seed: 7, frequencyPenalty: 2, presencePenalty: 2 });
  assert.notEqual(penalised.text, a.text, 'penalties change sampling');
  const cutAt = a.text.slice(4, 6);
  const stopped = await sampled({ seed: 7, stop: [cutAt] });
  assert.equal(stopped.finish.finishReason, 'stop');
  assert.ok(a.text.startsWith(stopped.text) && stopped.text.length < a.text.length, `${JSON.stringify(stopped.text)} vs ${JSON.stringify(a.text)}`);
});

test('a forced tool call cut off by maxTokens comes back as its partial text with finish length', async () => {
  const p = provider();
  const parts = await collectAll((await p.open(request('Weather?', { maxTokens: 20, tools: [weather], toolChoice: 'required' }))).parts);
  assert.equal(
    parts.some((e) => e.type.startsWith('tool-')),
    false,
  );
  const text = parts.map((e) => (e.type === 'text-delta' ? e.delta : '')).join('');
  assert.match(text, /^\{/);
  const finish = parts.at(-1);
  assert.equal(finish?.type === 'finish' && finish.finishReason, 'length');
});
