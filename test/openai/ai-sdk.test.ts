// The /v1 surface through the AI SDK's openai-compatible provider (ai 6 generateText/streamText).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import { startHarness, type Harness } from '../support/harness.js';

describe('/v1 with the AI SDK openai-compatible provider', () => {
  let h: Harness;
  const provider = (key: string) => createOpenAICompatible({ name: 'lumengate', baseURL: `${h.url}/v1`, apiKey: key, includeUsage: true });
  before(async () => { h = await startHarness(); });
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
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [{ role: 'system', content: 'short' }, { role: 'user', content: 'hello' }]);
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
    await assert.rejects(generateText({ model: provider(a.key)('gpt-5-nano'), prompt: 'hi', maxRetries: 0 }), (e: any) => e.statusCode === 402 && /insufficient tokens/.test(e.message));
  });
});
