import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeUpstream } from '../../test/support/fake-anthropic.js';
import { drain, providerConformance, request } from '../../test/support/provider-conformance.js';
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
