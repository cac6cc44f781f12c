import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeGoogle, type FakeUpstream } from '../../test/support/fake-google.js';
import { drain, providerConformance, request, type LooseMessage } from '../../test/support/provider-conformance.js';
import { RequestRefused } from './spec.js';
import { googleProvider } from './google.js';

const make = (fake: FakeUpstream) => googleProvider('google', { type: 'google', base_url: `${fake.origin}/v1beta`, api_key: 'AIza-test' });

providerConformance({ name: 'google', startFake: startFakeGoogle, makeProvider: make, overloadStatus: 503 });

describe('google: request on the wire', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeGoogle()));
  after(() => fake.close());

  it('posts to models/{model}:streamGenerateContent?alt=sse with x-goog-api-key, system instruction, contents and generation config', async () => {
    const stream = await make(fake).open(
      request({
        upstreamModel: 'gemini-2.5-flash',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'Again' },
        ],
        temperature: 0.2,
        maxTokens: 64,
      }),
    );
    await drain(stream.parts);
    const got = fake.requests.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    assert.equal(got.headers['x-goog-api-key'], 'AIza-test');
    assert.equal(got.headers.authorization, undefined);
    assert.deepEqual(got.body.systemInstruction, { parts: [{ text: 'Be brief.' }] });
    assert.deepEqual(got.body.contents, [
      { role: 'user', parts: [{ text: 'Hi' }] },
      { role: 'model', parts: [{ text: 'Hello.' }] },
      { role: 'user', parts: [{ text: 'Again' }] },
    ]);
    assert.equal(got.body.generationConfig.temperature, 0.2);
    assert.equal(got.body.generationConfig.maxOutputTokens, 64);
  });

  it('carries the upstream status and message of an in-stream error', async () => {
    fake.respondWith({ chunks: ['a'], ending: 'error-event' });
    const got = await drain((await make(fake).open(request())).parts);
    assert.deepEqual(got.deltas, ['a']);
    const err = got.error as { status?: number; message: string };
    assert.equal(err.status, 503);
    assert.match(err.message, /overloaded/);
  });

  it('carries the message of an HTTP error body', async () => {
    fake.respondWith({ status: 429 });
    await assert.rejects(make(fake).open(request()), /Resource has been exhausted/);
  });
});

const weather = { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

describe('google: tools', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeGoogle()));
  after(() => fake.close());

  /** The `contents` Gemini is sent for a conversation, the weather tool offered. */
  const contentsFor = async (messages: LooseMessage[]) => {
    fake.respondWith({ chunks: ['Sunny.'] });
    await drain((await make(fake).open(request({ upstreamModel: 'gemini-2.5-flash', tools: [weather], messages }))).parts);
    return fake.requests.at(-1)!.body.contents;
  };

  it('sends functionDeclarations and turns a whole functionCall part into tool parts with a generated id', async () => {
    fake.respondWith({ chunks: [], toolCalls: [{ id: 'unused', name: 'get_weather', arguments: ['{"city":"Paris"}'] }] });
    const got = await drain((await make(fake).open(request({ upstreamModel: 'gemini-2.5-flash', tools: [weather], toolChoice: 'required' }))).parts);
    assert.equal(got.error, undefined);
    const tool = got.parts.filter((p) => p.type.startsWith('tool-'));
    assert.equal(tool.length, 4, JSON.stringify(tool));
    const [start, delta, end, call] = tool as [any, any, any, any];
    // Gemini 2.5 gives calls no id: the SDK makes one, the same on every part of the call.
    assert.match(start.id, /^[A-Za-z0-9_-]{8,}$/);
    assert.deepEqual(start, { type: 'tool-input-start', index: 0, id: start.id, name: 'get_weather' });
    assert.deepEqual(delta, { type: 'tool-input-delta', index: 0, delta: '{"city":"Paris"}' });
    assert.deepEqual(end, { type: 'tool-input-end', index: 0 });
    // With the call's thought signature, which goes back with it on the next turn.
    assert.deepEqual(call, {
      type: 'tool-call',
      index: 0,
      id: start.id,
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      state: { metadata: { google: { thoughtSignature: call.state.metadata.google.thoughtSignature } } },
    });
    assert.match(call.state.metadata.google.thoughtSignature, /^CiQB0e2Kb1/);
    assert.equal(got.finish?.finishReason, 'tool-calls');
    const body = fake.requests.at(-1)!.body;
    assert.deepEqual(body.tools, [
      { functionDeclarations: [{ name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }] },
    ]);
    assert.deepEqual(body.toolConfig, { functionCallingConfig: { mode: 'ANY' } });
  });

  it('turns two functionCall parts of one chunk into two calls with distinct ids', async () => {
    fake.respondWith({
      chunks: ['Checking both.'],
      toolCalls: [
        { id: 'a', name: 'get_weather', arguments: ['{"city":"Paris"}'] },
        { id: 'b', name: 'get_weather', arguments: ['{"city":"Oslo"}'] },
      ],
    });
    const got = await drain((await make(fake).open(request({ upstreamModel: 'gemini-2.5-flash', tools: [weather] }))).parts);
    assert.deepEqual(got.deltas, ['Checking both.']);
    assert.deepEqual(
      got.toolCalls.map((c) => [c.name, c.arguments]),
      [
        ['get_weather', '{"city":"Paris"}'],
        ['get_weather', '{"city":"Oslo"}'],
      ],
    );
    assert.notEqual(got.toolCalls[0]!.id, got.toolCalls[1]!.id);
    assert.deepEqual(
      got.parts.filter((p) => p.type === 'tool-call').map((p) => (p as { index: number }).index),
      [0, 1],
    );
    assert.equal(got.finish?.finishReason, 'tool-calls');
  });

  it('sends the earlier call as a functionCall part and its result as a functionResponse named after the tool', async () => {
    const contents = await contentsFor([
      { role: 'user', content: 'Weather in Paris and Oslo?' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [
          { id: 'call_p', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'call_o', name: 'get_time', arguments: '{}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_p', content: '{"sky":"clear"}' },
      { role: 'tool', toolCallId: 'call_o', content: '12:00' },
    ]);
    assert.deepEqual(contents, [
      { role: 'user', parts: [{ text: 'Weather in Paris and Oslo?' }] },
      { role: 'model', parts: [{ functionCall: { id: 'call_p', name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { id: 'call_o', name: 'get_time', args: {} } }] },
      {
        role: 'user',
        parts: [
          { functionResponse: { id: 'call_p', name: 'get_weather', response: { name: 'get_weather', content: '{"sky":"clear"}' } } },
          { functionResponse: { id: 'call_o', name: 'get_time', response: { name: 'get_time', content: '12:00' } } },
        ],
      },
    ]);
  });

  it('text after the calls, sent as an assistant message of its own, stays in the model turn with the calls, the responses right after it', async () => {
    const contents = await contentsFor([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: 'Let me check.', toolCalls: [{ id: 'call_p', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
      { role: 'assistant', content: 'One moment.' },
      { role: 'tool', toolCallId: 'call_p', content: '{"sky":"clear"}' },
    ]);
    assert.deepEqual(contents, [
      { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
      { role: 'model', parts: [{ text: 'Let me check.' }, { functionCall: { id: 'call_p', name: 'get_weather', args: { city: 'Paris' } } }, { text: 'One moment.' }] },
      { role: 'user', parts: [{ functionResponse: { id: 'call_p', name: 'get_weather', response: { name: 'get_weather', content: '{"sky":"clear"}' } } }] },
    ]);
  });
});

describe('google: thought signatures in a tool loop', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeGoogle()));
  after(() => fake.close());
  const tools = [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];

  it("a call's state is its thoughtSignature; given back, it is on the call's functionCall part, which Gemini 3 takes", async () => {
    fake.respondWith({ chunks: [], toolCalls: [{ id: 'unused', name: 'get_weather', arguments: ['{"city":"Paris"}'] }] });
    const first = await drain((await make(fake).open(request({ upstreamModel: 'gemini-3-pro-preview', tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] }))).parts);
    const call = first.parts.find((p) => p.type === 'tool-call');
    assert.ok(call?.type === 'tool-call');
    const signature = call.state?.metadata?.google?.thoughtSignature;
    assert.match(String(signature), /^CiQB0e2Kb1/);
    assert.deepEqual(call.state, { metadata: { google: { thoughtSignature: signature } } });

    fake.respondWith({ chunks: ['Sunny.'] });
    const messages: LooseMessage[] = [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', toolCalls: [{ id: call.id, name: call.name, arguments: call.arguments, state: call.state }] },
      { role: 'tool', toolCallId: call.id, content: '{"sky":"clear"}' },
    ];
    const second = await drain((await make(fake).open(request({ upstreamModel: 'gemini-3-pro-preview', tools, messages }))).parts);
    assert.equal(second.error, undefined);
    assert.deepEqual(fake.requests.at(-1)!.body.contents[1], { role: 'model', parts: [{ functionCall: { id: call.id, name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: signature }] });
  });
});

describe('google: structured output, images and files', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeGoogle()));
  after(() => fake.close());

  it('json_schema becomes responseMimeType application/json with a responseSchema; json_object only the mime type', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    await drain((await make(fake).open(request({ upstreamModel: 'gemini-2.5-flash', responseFormat: { type: 'json_schema', name: 'answer', schema } }))).parts);
    let config = fake.requests.at(-1)!.body.generationConfig;
    assert.equal(config.responseMimeType, 'application/json');
    assert.deepEqual(config.responseSchema, { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] });
    await drain((await make(fake).open(request({ upstreamModel: 'gemini-2.5-flash', responseFormat: { type: 'json_object' } }))).parts);
    config = fake.requests.at(-1)!.body.generationConfig;
    assert.equal(config.responseMimeType, 'application/json');
    assert.equal(config.responseSchema, undefined);
  });

  it('a data-URL image and a PDF become inlineData, an https image fileData with its media type', async () => {
    await drain(
      (
        await make(fake).open(
          request({
            upstreamModel: 'gemini-2.5-flash',
            messages: [
              {
                role: 'user',
                content: [
                  { type: 'text', text: 'Compare' },
                  { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' },
                  { type: 'image', url: 'https://example.com/cat.webp?size=2' },
                  { type: 'file', data: 'JVBERi0xLjQK', mediaType: 'application/pdf', filename: 'spec.pdf' },
                ],
              },
            ],
          }),
        )
      ).parts,
    );
    assert.deepEqual(fake.requests.at(-1)!.body.contents[0].parts, [
      { text: 'Compare' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp?size=2' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0xLjQK' } },
    ]);
  });

  it('maps stop and seed; Gemini 3 takes reasoning_effort as a thinking level', async () => {
    await drain((await make(fake).open(request({ upstreamModel: 'gemini-3-flash-preview', stop: ['END'], seed: 3, reasoningEffort: 'low' }))).parts);
    const config = fake.requests.at(-1)!.body.generationConfig;
    assert.deepEqual(config.stopSequences, ['END']);
    assert.equal(config.seed, 3);
    assert.deepEqual(config.thinkingConfig, { thinkingLevel: 'low', includeThoughts: true });
  });
});

describe('google: schemas the SDK cannot convert', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeGoogle()));
  after(() => fake.close());

  const enumWhy = 'Google does not support this JSON Schema enum. Enum values must share one supported primitive type and match the schema type.';
  const mixed = { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['celsius', 0] } } };
  const refusedAt = (field: string, why: RegExp) => (err: unknown) => err instanceof RequestRefused && err.status === 400 && err.field === field && why.test(err.why);

  it('refuse() names the tool and the subschema the SDK refuses; open() refuses the same; nothing is sent', async () => {
    const p = make(fake);
    const sent = fake.requests.length;
    const req = request({ upstreamModel: 'gemini-2.5-flash', tools: [weather, { name: 'convert', parameters: mixed }], toolChoice: 'auto' });
    assert.deepEqual(await p.refuse?.(req), { tool: 1, field: 'parameters.properties.unit', why: enumWhy });
    await assert.rejects(p.open(req), refusedAt('tools.1.function.parameters.properties.unit', /JSON Schema enum/));
    assert.equal(fake.requests.length, sent);
  });

  it('response_format: the place inside the schema, however deep', async () => {
    const p = make(fake);
    const sent = fake.requests.length;
    const schema = { type: 'object', properties: { days: { type: 'array', items: { anyOf: [{ type: 'string' }, mixed] } } } };
    const req = request({ upstreamModel: 'gemini-2.5-flash', responseFormat: { type: 'json_schema', name: 'w', schema } });
    assert.deepEqual(await p.refuse?.(req), { field: 'response_format.json_schema.schema.properties.days.items.anyOf.1.properties.unit', why: enumWhy });
    await assert.rejects(p.open(req), refusedAt('response_format.json_schema.schema.properties.days.items.anyOf.1.properties.unit', /JSON Schema enum/));
    assert.equal(fake.requests.length, sent);
  });

  it('any failure of the conversion counts: a reference it cannot follow, an anyOf that is not a list', async () => {
    const p = make(fake);
    const sent = fake.requests.length;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ type: 'object', properties: { a: { $ref: '#/properties/b' }, b: { type: 'string' } } }, 'parameters.properties.a', /only supports references to direct children/],
      [{ type: 'object', properties: { a: { anyOf: 'string' } } }, 'parameters.properties.a', /^the provider's SDK cannot convert it \(/],
      [{ type: 'object', properties: { a: { type: 'string', enum: [] } } }, 'parameters.properties.a', /JSON Schema enum/],
    ];
    for (const [parameters, field, why] of cases) {
      const req = request({ upstreamModel: 'gemini-2.5-flash', tools: [{ name: 'f', parameters }] });
      const refused = await p.refuse?.(req);
      assert.deepEqual([refused?.tool, refused?.field], [0, field], JSON.stringify(parameters));
      assert.match(refused!.why, why);
      await assert.rejects(p.open(req), refusedAt(`tools.0.${field.replace(/^parameters/, 'function.parameters')}`, why));
    }
    assert.equal(fake.requests.length, sent);
  });

  it('what the SDK converts is not refused and goes out as before: enums of one type, $defs references, a recursive schema as parametersJsonSchema', async () => {
    const p = make(fake);
    const tree = { type: 'object', properties: { root: { $ref: '#/$defs/node' } }, $defs: { node: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#/$defs/node' } } } } } };
    const tools = [
      { name: 'convert', parameters: { type: 'object', properties: { unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, digits: { type: 'integer', enum: [0, 1, 2] } } } },
      { name: 'walk', parameters: tree },
    ];
    const req = request({ upstreamModel: 'gemini-2.5-flash', tools });
    assert.equal(await p.refuse?.(req), undefined);
    await drain((await p.open(req)).parts);
    const [convert, walk] = fake.requests.at(-1)!.body.tools[0].functionDeclarations;
    assert.deepEqual(convert.parameters.properties, { unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, digits: { type: 'integer', format: 'enum', enum: ['0', '1', '2'] } });
    assert.deepEqual(walk.parametersJsonSchema, tree, 'the SDK sends a recursive schema as JSON Schema');
    assert.equal(await p.refuse?.(request({ upstreamModel: 'gemini-2.5-flash' })), undefined, 'no tools, no schema: nothing to convert');
  });
});
