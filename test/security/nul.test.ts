// NUL (U+0000): refused in every request input (400 naming the field, nothing held), stored safely
// when a model emits it (PostgreSQL: as U+FFFD), and a settlement the database refuses for its data
// is still made (without the text): a delivered generation is never left pending with its hold.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startHarness, type Harness } from '../support/harness.js';
import { NOT_STORED } from '../../src/billing/settle-retry.js';
import { call, isEnvelope, isOpenAIError } from './http.js';

describe('NUL characters', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());
  const pg = () => h.server.db.dialect === 'postgres';
  const rows = (accountId: number) => h.server.db.kysely.selectFrom('generations').select(['id', 'status', 'result_text', 'error', 'tokens_spent']).where('account_id', '=', accountId).execute();

  it('in any request input: 400 bad_request naming the field, nothing held', async () => {
    const a = await h.account({ tokens: 10 });
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/v2/generate', { model: 'gpt-5-nano', prompt: 'a\u0000b' }, 'prompt'],
      [
        'POST',
        '/api/v2/generate/stream',
        {
          model: 'gpt-5-nano',
          messages: [
            { role: 'user', content: 'ok' },
            { role: 'user', content: '\u0000' },
          ],
        },
        'messages.1.content',
      ],
      ['POST', '/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x', params: { 'a\u0000': 1 } }, 'params.a\u0000'],
      ['POST', '/api/v2/keys', { name: 'k\u0000' }, 'name'],
      ['GET', '/api/v2/user/history?model=a%00b', undefined, 'query.model'],
      ['GET', '/api/v2/user/history?status=completed&model_slug=%00', undefined, 'query.model_slug'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await call(h.url, method, path, { token: a.key, body });
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.ok(isEnvelope(r.json));
      assert.equal(r.json.error, 'bad_request');
      assert.equal(r.json.details.fields[0].path, field);
      assert.match(r.json.message, /NUL/);
    }
    const v1 = await call(h.url, 'POST', '/v1/chat/completions', { token: a.key, body: { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'hi\u0000' }] } });
    assert.equal(v1.status, 400);
    assert.ok(isOpenAIError(v1.json), v1.text);
    assert.match(v1.json.error.message, /messages\.0\.content/);
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await rows(a.id), [], 'no generation, no hold');
  });

  it("in the model's output: the client gets the answer, the generation is completed and charged (PostgreSQL stores U+FFFD)", async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['a\u0000', 'b'] });
    const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, a.key);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result_text, 'a\u0000b', 'the answer as the model gave it');
    h.fake.respondWith({ chunks: ['c\u0000d'] });
    const s = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'hi' }, a.key);
    assert.equal(s.status, 200);
    assert.match(s.text, /"type":"generation_end"/);
    assert.doesNotMatch(s.text, /internal_error/);
    const stored = await rows(a.id);
    assert.deepEqual(
      stored.map((g) => [g.status, g.result_text, g.tokens_spent]),
      [
        ['completed', pg() ? 'a\uFFFDb' : 'a\u0000b', 1],
        ['completed', pg() ? 'c\uFFFDd' : 'c\u0000d', 1],
      ],
    );
    assert.equal(await h.balance(a.id), 8);
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a settlement the database refuses for its data is made again without the text: charged, not pending', async () => {
    // A rule the database enforces on the text, standing in for any value it cannot store.
    const db = h.server.db.kysely;
    if (pg()) await sql`alter table generations add constraint no_poison check (result_text is null or position('poison' in result_text) = 0)`.execute(db);
    else await sql`create trigger no_poison before update of result_text on generations when instr(new.result_text, 'poison') > 0 begin select raise(abort, 'poison refused'); end`.execute(db);
    try {
      const a = await h.account({ tokens: 10 });
      h.fake.respondWith({ chunks: ['some poison here'] });
      const r = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, a.key);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.result_text, 'some poison here', 'the client still gets its answer');
      h.fake.respondWith({ chunks: ['more poison'] });
      const s = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'hi' }, a.key);
      assert.match(s.text, /"type":"generation_end"/);
      const stored = await rows(a.id);
      assert.deepEqual(
        stored.map((g) => [g.status, g.result_text, g.error, g.tokens_spent]),
        Array(2).fill(['completed', null, NOT_STORED, 1]),
      );
      assert.equal(await h.balance(a.id), 8);
      assert.deepEqual(await h.ledgerMismatches(), []);
    } finally {
      if (pg()) await sql`alter table generations drop constraint no_poison`.execute(db);
      else await sql`drop trigger no_poison`.execute(db);
    }
  });
});
