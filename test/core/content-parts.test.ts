// Content parts (docs/api.md): images, files and audio go upstream as OpenAI parts to a model that
// takes them; a part the model cannot take, or a URL the gateway will not forward, is 422 naming it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';
import { testCatalog } from '../support/text-models.js';

const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const pdf = { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0xLjQK', filename: 'report.pdf' } };
const parts = [
  { type: 'text', text: 'Describe these.' },
  { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
  { type: 'image_url', image_url: { url: png } },
];

describe('content parts', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ catalog: testCatalog });
  });
  after(() => h.close());

  it('image_url (https and data:), file and input_audio parts are forwarded as OpenAI parts on /v1 and /api/v2', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['A cat.'] });
    const audio = { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } };
    const content = [...parts, pdf, audio];
    for (const path of ['/v1/chat/completions', '/api/v2/generate']) {
      const r = await h.post(path, { model: 'plain-4o', messages: [{ role: 'user', content }] }, a.key);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [{ role: 'user', content }], path);
    }
    // A string image_url (the older form) is sent in the object form.
    const r = await h.post('/api/v2/generate', { model: 'plain-4o', params: { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: png }] }] } }, a.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [{ role: 'user', content: [{ type: 'image_url', image_url: { url: png } }] }]);
    assert.equal(await h.balance(a.id), 7);
  });

  it('a part the model does not take is 422 naming its path and what the model accepts; nothing held or sent', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const v1 = await h.post('/v1/chat/completions', { model: 'text-only', messages: [{ role: 'user', content: parts }] }, a.key);
    assert.equal(v1.status, 422);
    assert.equal(v1.json.error.param, 'messages.0.content.1');
    assert.match(v1.json.error.message, /does not accept image input \(it accepts text\)/);
    const v2 = await h.post('/api/v2/generate', { model: 'text-only', messages: [{ role: 'user', content: [pdf] }] }, a.key);
    assert.equal(v2.status, 422);
    assert.deepEqual(v2.json.details.fields, [{ path: 'messages.0.content.0', message: 'model text-only does not accept file input (it accepts text)' }]);
    // The shipped DeepSeek model is text only.
    const ds = await h.post('/v1/chat/completions', { model: 'deepseek-v3', messages: [{ role: 'user', content: parts }] }, a.key);
    assert.equal(ds.status, 422);
    assert.equal(ds.json.error.param, 'messages.0.content.1');
    assert.equal(h.fake.requests.length, before);
    assert.equal(await h.balance(a.id), 10);
  });

  it('with a system prompt before the messages, the path still names the part in the request', async () => {
    const a = await h.account({ tokens: 10 });
    const v2 = await h.post('/api/v2/generate', { model: 'text-only', system: 'Be brief.', messages: [{ role: 'user', content: parts }] }, a.key);
    assert.equal(v2.status, 422);
    assert.equal(v2.json.details.fields[0].path, 'messages.0.content.1');
    const params = await h.post(
      '/api/v2/generate',
      { model: 'text-only', params: { system_prompt: 'x', messages: [{ role: 'user', content: 'a' }] }, messages: [{ role: 'user', content: parts }] },
      a.key,
    );
    assert.equal(params.status, 422);
    assert.equal(params.json.details.fields[0].path, 'messages.0.content.1');
  });

  it('image URLs other than https and data:image, and files without inline data, are 422', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    for (const url of ['http://example.com/cat.jpg', 'file:///etc/passwd', 'data:text/html;base64,PGI+', 'ftp://x/y.png']) {
      const r = await h.post(
        '/v1/chat/completions',
        {
          model: 'plain-4o',
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'x' },
                { type: 'image_url', image_url: { url } },
              ],
            },
          ],
        },
        a.key,
      );
      assert.equal(r.status, 422, url);
      assert.equal(r.json.error.param, 'messages.0.content.1.image_url.url', url);
    }
    const byId = await h.post('/api/v2/generate', { model: 'plain-4o', messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] }, a.key);
    assert.equal(byId.status, 422);
    assert.equal(byId.json.details.fields[0].path, 'messages.0.content.0.file.file_data');
    assert.equal(h.fake.requests.length, before);
    assert.equal(await h.balance(a.id), 10);
  });
});
