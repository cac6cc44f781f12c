import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeGoogle, type FakeUpstream } from '../../test/support/fake-google.js';
import { drain, providerConformance, request } from '../../test/support/provider-conformance.js';
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
