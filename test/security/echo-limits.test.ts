// Client-supplied identifiers (model names, ids, paths) are echoed in errors only as a short prefix:
// a 900 KB model name must not come back (twice) in a 404.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';
import { call, isEnvelope, isOpenAIError } from './http.js';

const HUGE = `huge-model-${'x'.repeat(900 * 1024)}`;
// Path parameters stop at the router's maxParamLength (200; longer is a 400 naming nothing) and
// URLs at the header size limit (16 KB).
const PARAM = `long-id-${'y'.repeat(180)}`;
const URL_PATH = `/api/v2/no-such-route/${'z'.repeat(8 * 1024)}`;

describe('identifiers echoed in errors are clipped', () => {
  let h: Harness;
  let key: string;
  before(async () => {
    h = await startHarness();
    key = (await h.account()).key;
  });
  after(() => h.close());

  const assertClipped = (r: { status: number; text: string }, name: string, status = 404) => {
    assert.equal(r.status, status, r.text.slice(0, 300));
    assert.ok(r.text.length < 2048, `error body is ${r.text.length} bytes`);
    assert.ok(!r.text.includes(name), 'the whole identifier is not echoed');
    assert.ok(r.text.includes(name.slice(0, 40)), `the error still names the start of it: ${r.text}`);
  };

  it('an unknown 900 KB model name on every generation surface', async () => {
    const v2 = await call(h.url, 'POST', '/api/v2/generate', { token: key, body: { model: HUGE, prompt: 'hi' } });
    assertClipped(v2, HUGE);
    assert.ok(isEnvelope(v2.json));
    assert.ok(v2.json.details.model.length <= 65 && HUGE.startsWith(v2.json.details.model.slice(0, 64)));
    for (const [path, body] of [
      ['/v1/chat/completions', { model: HUGE, messages: [{ role: 'user', content: 'hi' }] }],
      ['/v1/responses', { model: HUGE, input: 'hi' }],
      ['/v1/embeddings', { model: HUGE, input: 'hi' }],
    ] as const) {
      const r = await call(h.url, 'POST', path, { token: key, body });
      assertClipped(r, HUGE);
      assert.ok(isOpenAIError(r.json), path);
    }
  });

  it('long model slugs and generation ids in the path', async () => {
    assertClipped(await call(h.url, 'GET', `/api/v2/models/${PARAM}`), PARAM);
    assertClipped(await call(h.url, 'GET', `/v1/models/${PARAM}`, { token: key }), PARAM);
    assertClipped(await call(h.url, 'GET', `/api/v2/generate/${PARAM}`, { token: key }), PARAM);
    assertClipped(await call(h.url, 'GET', URL_PATH, { token: key }), URL_PATH);
  });

  it('a long previous_response_id', async () => {
    const r = await call(h.url, 'POST', '/v1/responses', { token: key, body: { model: 'gpt-5-nano', input: 'hi', previous_response_id: HUGE } });
    assertClipped(r, HUGE, r.status === 404 ? 404 : 400);
  });
});
