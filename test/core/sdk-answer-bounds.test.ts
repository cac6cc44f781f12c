// An endless SSE line from Anthropic or Gemini (the providers the AI SDK reads): the attempt fails
// at the event cap as it does on OpenAI-compatible upstreams (delivery.test.ts), the upstream
// connection closed, not retried, nothing charged; before, the SDK kept the line until the chunk
// gap timed out (60 s), however large it grew (src/providers/sdk-answers.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_EVENT_CHARS } from '../../src/providers/body-limit.js';
import { closeClaudeGemini, startClaudeGemini, type ClaudeGemini } from '../support/claude-gemini.js';
import { settled } from '../support/harness.js';

describe('answers of the AI SDK providers are bounded', () => {
  let cg: ClaudeGemini;
  before(async () => {
    cg = await startClaudeGemini();
  });
  after(() => closeClaudeGemini(cg ?? {}));

  for (const [model, fakeOf] of [
    ['claude-haiku-4.5', (c: ClaudeGemini) => c.anthropic],
    ['gemini-2.5-flash', (c: ClaudeGemini) => c.google],
  ] as const) {
    it(`${model}: an endless upstream line fails as provider_error at the cap, the connection closed, not retried, 0 charged`, { timeout: 60_000 }, async () => {
      const { h } = cg;
      const fake = fakeOf(cg);
      const acct = await h.account({ plan: 'elite', tokens: 100 });
      const before = fake.requests.length;
      fake.respondWith({ chunks: [], endlessLine: 4 * MAX_EVENT_CHARS });
      const arrived = fake.nextRequest();
      const r = await h.post('/api/v2/generate', { model, prompt: 'x' }, acct.key);
      assert.equal(r.status, 500, r.text);
      assert.equal(r.json.error, 'provider_error');
      assert.match(r.json.message, /event longer than 1048576/);
      // Cut at the cap, not read to the end: the upstream connection is closed.
      await (
        await arrived
      ).closed;
      assert.equal(fake.requests.length, before + 1, 'not retried');
      const g = await settled(h, r.json.details.generation_id, acct.key);
      assert.deepEqual([g.status, g.tokens_spent], ['failed', 0]);
      assert.equal(await h.balance(acct.id), 100);
    });
  }
});
