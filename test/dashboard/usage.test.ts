// GET /api/v2/user/usage: tokens and requests per UTC day and model, for the caller only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';
import { windowStart } from '../../src/http/routes/usage.js';

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();

describe('GET /api/v2/user/usage', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('sums tokens and requests per day and model inside the window, for the caller only', async () => {
    const me = await h.account({ tokens: 100 });
    const other = await h.account({ tokens: 100 });
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: `q${i}` }, me.key);
      assert.equal(r.status, 200, r.text);
      ids.push(r.json.id);
    }
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'theirs' }, other.key)).status, 200);
    // One failed generation today (upstream 500): a request, no tokens.
    h.fake.respondWith({ status: 500 });
    const failed = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'fails' }, me.key);
    h.fake.respondWith({});
    assert.equal(failed.status, 500);
    // Spread them over days: two today, one 2 days ago (deleted from history: still spent), one 2 days ago, one 40 days ago.
    const move = (id: number, at: string) => h.server.db.kysely.updateTable('generations').set({ created_at: at }).where('id', '=', id).execute();
    await move(ids[2]!, daysAgo(2));
    await move(ids[3]!, daysAgo(2));
    await move(ids[4]!, daysAgo(40));
    assert.equal((await fetch(`${h.url}/api/v2/user/history/${ids[3]}`, { method: 'DELETE', headers: { authorization: `Bearer ${me.key}` } })).status, 204);

    const r = await h.get('/api/v2/user/usage', me.key);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.days, 30);
    assert.equal(r.json.from, windowStart(30));
    const today = new Date().toISOString().slice(0, 10);
    assert.deepEqual(r.json.rows, [
      { day: daysAgo(2).slice(0, 10), model_slug: 'gpt-5-nano', tokens_spent: 2, requests: 2 },
      { day: today, model_slug: 'gpt-5-nano', tokens_spent: 2, requests: 3 },
    ]);

    const wide = await h.get('/api/v2/user/usage?days=60', me.key);
    assert.equal(wide.json.rows.length, 3);
    assert.equal(wide.json.rows[0].day, daysAgo(40).slice(0, 10));

    const theirs = await h.get('/api/v2/user/usage?days=1', other.key);
    assert.deepEqual(theirs.json.rows, [{ day: today, model_slug: 'gpt-5-nano', tokens_spent: 1, requests: 1 }]);
  });

  it('validates days and needs a key', async () => {
    const me = await h.account();
    for (const bad of ['0', '367', 'abc', '1.5']) {
      const r = await h.get(`/api/v2/user/usage?days=${bad}`, me.key);
      assert.equal(r.status, 422, `days=${bad}: ${r.text}`);
      assert.equal(r.json.error, 'validation_error');
    }
    assert.equal((await h.get('/api/v2/user/usage?days=366', me.key)).status, 200);
    const anon = await h.get('/api/v2/user/usage');
    assert.equal(anon.status, 401);
    assert.equal(anon.json.error, 'not_authenticated');
  });

  it('windowStart counts today as the last day of the window (UTC)', () => {
    const now = new Date('2025-03-01T23:59:59Z');
    assert.equal(windowStart(1, now), '2025-03-01');
    assert.equal(windowStart(2, now), '2025-02-28');
    assert.equal(windowStart(30, now), '2025-01-31');
  });
});
