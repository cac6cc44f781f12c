// JSON nested deeper than MAX_JSON_DEPTH (docs/security.md, Limits): refused with 400 naming the
// field before any route runs. A tool schema nested 20,000 levels deep used to overflow the stack
// in the provider (JSON.stringify of the upstream body): a 500 for the caller's mistake that
// counted against the route, so a few of them opened its circuit breaker for every account.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';
import { MAX_JSON_DEPTH } from '../../src/http/nul.js';
import { call, isEnvelope, isOpenAIError } from './http.js';

const BREAKER = 3;

/** A chat body whose tool parameters are `levels` array schemas deep (the body itself is 5 levels down to the parameters). */
const deepTool = (levels: number) =>
  `{"model":"gpt-5-nano","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${'{"type":"array","items":'.repeat(levels)}{}${'}'.repeat(levels)}}}]}`;

describe('JSON nesting depth', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ catalog: { circuit_breaker: { failures: BREAKER, cooldown_ms: 60_000 } } });
  });
  after(() => h.close());
  const rows = (accountId: number) => h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', accountId).execute();

  it("one account's deeply nested tool schemas are its own 400s, never a failure of the route that every account then shares", async () => {
    const a = await h.account({ tokens: 10 });
    const b = await h.account({ tokens: 10 });
    for (let i = 0; i < BREAKER + 2; i++) {
      const r = await call(h.url, 'POST', '/v1/chat/completions', { token: a.key, body: deepTool(20_000) });
      assert.equal(r.status, 400, r.text);
      assert.ok(isOpenAIError(r.json), r.text);
      assert.equal(r.json.error.code, 'bad_request');
      assert.match(r.json.error.message, new RegExp(`^tools\\.0\\.function\\.parameters\\.items\\.items.*: nested deeper than ${MAX_JSON_DEPTH} levels`));
      assert.ok(r.text.length < 2_000, 'the path is clipped');
    }
    const v2 = await call(h.url, 'POST', '/api/v2/generate', { token: a.key, body: `{"model":"gpt-5-nano","prompt":"hi","params":{"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}}` });
    assert.equal(v2.status, 400, v2.text);
    assert.ok(isEnvelope(v2.json));
    assert.match(v2.json.details.fields[0].path, /^params\.x\.0\.0\.0/);
    assert.equal(h.fake.requests.length, 0, 'nothing went upstream');
    assert.deepEqual(await rows(a.id), [], 'no generation, nothing held');
    assert.equal(await h.balance(a.id), 10);

    const other = await call(h.url, 'POST', '/v1/chat/completions', { token: b.key, body: { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(other.status, 200, other.text);
  });

  it(`a body nested exactly ${MAX_JSON_DEPTH} levels is served; one level more is refused`, async () => {
    const a = await h.account({ tokens: 10 });
    const ok = await call(h.url, 'POST', '/v1/chat/completions', { token: a.key, body: deepTool(MAX_JSON_DEPTH - 5) });
    assert.equal(ok.status, 200, ok.text);
    const deeper = await call(h.url, 'POST', '/v1/chat/completions', { token: a.key, body: deepTool(MAX_JSON_DEPTH - 4) });
    assert.equal(deeper.status, 400, deeper.text);
    assert.equal(await h.balance(a.id), 9);
  });
});
