// Self-service endpoints for the caller's own account (docs/api.md): keys, profile,
// history. Another account's keys and generations answer 404, exactly like missing ones.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startHarness, type Harness } from '../support/harness.js';
import { call, isEnvelope } from './http.js';
import { MAX_ACTIVE_KEYS } from '../../src/accounts/service.js';
import { MAX_ROW_ID } from '../../src/db/schema.js';

describe('self-service API', () => {
  let h: Harness;
  const api = (method: string, path: string, token?: string, body?: unknown) => call(h.url, method, path, { token, body });
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('creates a key shown once, lists it without the secret, renames and revokes it (204), refused at once', async () => {
    const a = await h.account({ tokens: 10 });
    const created = await api('POST', '/api/v2/keys', a.key, { name: 'my-app-production' });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    assert.equal(typeof created.json.id, 'number');
    assert.equal(created.json.name, 'my-app-production');
    assert.match(created.json.key, /^nb_[0-9A-Za-z]{45}$/);
    assert.match(created.json.created_at, /^\d{4}-\d\d-\d\dT/);
    const newKey: string = created.json.key;

    // The new key works.
    assert.equal((await api('GET', '/api/v2/balance', newKey)).status, 200);

    const list = await api('GET', '/api/v2/keys', newKey);
    assert.equal(list.status, 200);
    assert.equal(list.json.total, 2);
    assert.ok(!list.text.includes(newKey), 'the list never contains a secret');
    assert.ok(!list.text.includes('key_hash'));
    const item = list.json.keys.find((k: any) => k.id === created.json.id);
    assert.equal(item.name, 'my-app-production');
    assert.equal(item.current, true);
    assert.equal(item.prefix, newKey.slice(0, 7) + '…');
    assert.ok('last_used_at' in item);

    const renamed = await api('PATCH', `/api/v2/keys/${created.json.id}`, a.key, { name: 'renamed' });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.json.name, 'renamed');

    const del = await api('DELETE', `/api/v2/keys/${created.json.id}`, a.key);
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    const refused = await api('GET', '/api/v2/balance', newKey);
    assert.equal(refused.status, 401);
    assert.equal(refused.json.error, 'not_authenticated');
    assert.equal((await api('DELETE', `/api/v2/keys/${created.json.id}`, a.key)).status, 404, 'revoking twice: gone');
    assert.equal((await api('GET', '/api/v2/keys', a.key)).json.total, 1);
  });

  it('validates key bodies: missing name 400, wrong type 422, control characters 422 (NUL 400)', async () => {
    const a = await h.account();
    const missing = await api('POST', '/api/v2/keys', a.key, {});
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error, 'bad_request');
    const wrong = await api('POST', '/api/v2/keys', a.key, { name: 42 });
    assert.equal(wrong.status, 422);
    assert.deepEqual(
      wrong.json.details.fields.map((f: any) => f.path),
      ['name'],
    );
    assert.equal((await api('POST', '/api/v2/keys', a.key, { name: 'a\u0007b' })).status, 422);
    // NUL is refused earlier, for every route (test/security/nul.test.ts).
    assert.equal((await api('POST', '/api/v2/keys', a.key, { name: 'a\u0000b' })).status, 400);
    assert.equal((await api('POST', '/api/v2/keys', a.key, { name: 'x'.repeat(101) })).status, 422);
    assert.equal((await api('POST', '/api/v2/keys', undefined, { name: 'x' })).status, 401);
    assert.equal((await api('PATCH', '/api/v2/keys/abc', a.key, { name: 'x' })).status, 404);
  });

  it("another account's keys answer 404 and stay untouched", async () => {
    const a = await h.account();
    const b = await h.account();
    const bKeys = await api('GET', '/api/v2/keys', b.key);
    const bKeyId = bKeys.json.keys[0].id;
    for (const [method, body] of [
      ['PATCH', { name: 'stolen' }],
      ['DELETE', undefined],
    ] as const) {
      const r = await api(method, `/api/v2/keys/${bKeyId}`, a.key, body);
      assert.equal(r.status, 404, method);
      assert.ok(isEnvelope(r.json));
      assert.equal(r.json.error, 'not_found');
    }
    const after = await api('GET', '/api/v2/keys', b.key);
    assert.equal(after.status, 200, 'B key still works');
    assert.equal(after.json.keys[0].name, 'test');
    assert.ok(!(await api('GET', '/api/v2/keys', a.key)).json.keys.some((k: any) => k.id === bKeyId));
  });

  it('an id above any row id (2^31 - 1, the integer columns) is a missing one on both engines: 404 (a cursor 422), never a 500 from PostgreSQL', async () => {
    const a = await h.account({ tokens: 10 });
    const ids = [String(MAX_ROW_ID + 1), '99999999999999'];
    for (const id of ids) {
      for (const [method, path, body] of [
        ['GET', `/api/v2/generate/${id}`],
        ['GET', `/api/v2/generate/status/${id}`],
        ['GET', `/api/v2/generate/${id}/stream`],
        ['POST', `/api/v2/generate/${id}/cancel`],
        ['DELETE', `/api/v2/user/history/${id}`],
        ['PATCH', `/api/v2/keys/${id}`, { name: 'x' }],
        ['DELETE', `/api/v2/keys/${id}`],
      ] as const) {
        const r = await api(method, path, a.key, body);
        assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
        assert.ok(isEnvelope(r.json));
      }
      const reattach = await call(h.url, 'POST', '/api/v2/generate/stream', { token: a.key, body: { model: 'gpt-5-nano', prompt: 'hi' }, headers: { 'last-event-id': `${id}:1` } });
      assert.equal(reattach.status, 404, reattach.text);
      const previous = await api('POST', '/v1/responses', a.key, { model: 'gpt-5-nano', input: 'hi', previous_response_id: `resp_${id}` });
      assert.equal(previous.status, 404, previous.text);
      assert.equal(previous.json.error.message, `previous response "resp_${id}" not found`);
      const cursor = await api('GET', `/api/v2/user/history?cursor=${Buffer.from(`g:${id}`).toString('base64url')}`, a.key);
      assert.equal(cursor.status, 422, cursor.text);
      assert.equal(cursor.json.details.fields[0].path, 'cursor');
    }
    assert.equal(await h.balance(a.id), 10, 'nothing started');
  });

  it('GET /api/v2/user/me returns the profile; PATCH renames (name or username)', async () => {
    const a = await h.account({ plan: 'vip', tokens: 30, packageTokens: 5 });
    const me = await api('GET', '/api/v2/user/me', a.key);
    assert.equal(me.status, 200);
    assert.equal(me.json.id, a.id);
    assert.equal(me.json.plan, 'vip');
    assert.equal(me.json.token_balance, 35);
    assert.equal(me.json.plan_tokens_remaining, 30);
    assert.equal(me.json.bonus_tokens, 5);
    assert.equal(me.json.rate_limit_hourly, 100);
    assert.equal(me.json.rate_limit_daily, 1000);
    assert.equal(me.json.email, null);
    assert.equal(me.json.api_key.name, 'test');
    assert.ok(!me.text.includes(a.key));
    const p1 = await api('PATCH', '/api/v2/user/me', a.key, { name: 'Ivan P.' });
    assert.equal(p1.status, 200);
    assert.equal(p1.json.name, 'Ivan P.');
    const p2 = await api('PATCH', '/api/v2/user/me', a.key, { username: 'ivan' });
    assert.equal(p2.json.name, 'ivan');
    assert.equal(p2.json.username, 'ivan');
    assert.equal((await api('PATCH', '/api/v2/user/me', a.key, { plan: 'elite' })).status, 422, 'plan is not self-service');
    assert.equal((await api('GET', '/api/v2/user/me', a.key)).json.plan, 'vip');
    const elite = await h.account({ plan: 'elite' });
    assert.equal((await api('GET', '/api/v2/user/me', elite.key)).json.rate_limit_hourly, 0, '0 = unlimited');
  });

  it('history: filters (both query styles), page/limit, cursor pagination, delete, isolation', async () => {
    const a = await h.account({ tokens: 100 });
    const b = await h.account({ tokens: 100 });
    const ids: number[] = [];
    for (const model of ['gpt-5-nano', 'gpt-5', 'gpt-5-nano', 'gpt-5-nano', 'gpt-5']) {
      h.fake.respondWith({ chunks: [`answer from ${model}`] });
      const r = await h.post('/api/v2/generate', { model, prompt: `q ${ids.length}` }, a.key);
      assert.equal(r.status, 200);
      ids.push(r.json.id);
    }
    h.fake.respondWith({ status: 400 });
    const failed = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'fails' }, a.key);
    assert.equal(failed.status, 400); // an upstream refusal is the caller's (docs/api.md)
    const failedId: number = failed.json.details.generation_id;
    h.fake.respondWith({ chunks: ['b'] });
    const bGen = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'secret of b' }, b.key);

    const all = await api('GET', '/api/v2/user/history', a.key);
    assert.equal(all.status, 200);
    assert.equal(all.json.total, 6);
    assert.deepEqual(
      all.json.items.map((i: any) => i.id),
      [failedId, ...ids].sort((x, y) => y - x),
    );
    const item = all.json.items.find((i: any) => i.id === ids[0]);
    assert.equal(item.model_slug, 'gpt-5-nano');
    assert.equal(item.model, 'gpt-5-nano');
    assert.equal(item.category, 'text');
    assert.equal(item.type, 'text');
    assert.equal(item.prompt, 'q 0');
    assert.equal(item.result_text, 'answer from gpt-5-nano');
    assert.equal(item.status, 'completed');
    assert.equal(item.tokens_spent, item.tokens_used);
    assert.equal(item.is_favorited, false);
    assert.equal(item.user_rating, null);
    assert.equal(item.result_url, null);
    assert.equal(item.finish_reason, 'stop', 'the history item carries finish_reason (no request per row)');
    assert.equal(typeof item.model_name, 'string');
    assert.ok(!all.json.items.some((i: any) => i.id === bGen.json.id), "never another account's items");

    const byModel = await api('GET', '/api/v2/user/history?model_slug=gpt-5', a.key);
    assert.deepEqual(
      byModel.json.items.map((i: any) => i.model_slug),
      ['gpt-5', 'gpt-5'],
    );
    const byOld = await api('GET', '/api/v2/user/history?model=gpt-5&type=text', a.key);
    assert.equal(byOld.json.total, 2);
    assert.equal((await api('GET', '/api/v2/user/history?category=image', a.key)).json.total, 0);
    const byStatus = await api('GET', '/api/v2/user/history?status=failed', a.key);
    assert.deepEqual(
      byStatus.json.items.map((i: any) => i.id),
      [failedId],
    );

    const page2 = await api('GET', '/api/v2/user/history?page=2&limit=4', a.key);
    assert.equal(page2.json.page, 2);
    assert.equal(page2.json.pages, 2);
    assert.equal(page2.json.items.length, 2);

    // Cursor: walk every page of 2 and get each item exactly once, newest first.
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: any = await api('GET', `/api/v2/user/history?limit=2${cursor ? `&cursor=${cursor}` : ''}`, a.key);
      assert.equal(r.status, 200);
      seen.push(...r.json.items.map((i: any) => i.id));
      cursor = r.json.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    assert.deepEqual(
      seen,
      [failedId, ...ids].sort((x, y) => y - x),
    );
    assert.equal(pages, 3);

    for (const bad of ['limit=0', 'limit=101', 'limit=x', 'page=0', 'status=done', 'category=cats', 'cursor=zzz', 'limit=1&limit=2', 'model=a&model_slug=b']) {
      const r = await api('GET', `/api/v2/user/history?${bad}`, a.key);
      assert.equal(r.status, 422, bad);
      assert.ok(isEnvelope(r.json) && Array.isArray(r.json.details.fields), bad);
    }

    // Delete: 204, gone from history and from GET /generate/{id}, prompt and result erased.
    assert.equal((await api('DELETE', `/api/v2/user/history/${bGen.json.id}`, a.key)).status, 404, "another account's item");
    assert.equal((await h.get(`/api/v2/generate/${bGen.json.id}`, b.key)).status, 200, 'still there for its owner');
    const del = await api('DELETE', `/api/v2/user/history/${ids[0]}`, a.key);
    assert.equal(del.status, 204);
    assert.equal((await api('DELETE', `/api/v2/user/history/${ids[0]}`, a.key)).status, 404);
    assert.equal((await h.get(`/api/v2/generate/${ids[0]}`, a.key)).status, 404);
    assert.equal((await api('GET', '/api/v2/user/history', a.key)).json.total, 5);
    const row = await h.server.db.kysely.selectFrom('generations').selectAll().where('id', '=', ids[0]!).executeTakeFirstOrThrow();
    assert.ok(row.deleted_at);
    assert.equal(row.prompt, null);
    assert.equal(row.result_text, null);
    assert.equal(row.tokens_spent, 1, 'billing record kept');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('a suspended account is refused at once, and accepted again when reactivated', async () => {
    const a = await h.account();
    assert.equal((await api('GET', '/api/v2/user/me', a.key)).status, 200);
    await h.server.db.kysely.updateTable('accounts').set({ status: 'suspended' }).where('id', '=', a.id).execute();
    const r = await api('GET', '/api/v2/user/me', a.key);
    assert.equal(r.status, 401);
    assert.equal(r.json.error, 'not_authenticated');
    await h.server.db.kysely.updateTable('accounts').set({ status: 'active' }).where('id', '=', a.id).execute();
    assert.equal((await api('GET', '/api/v2/user/me', a.key)).status, 200);
  });

  it('200 parallel key creations: the account ends with exactly 100 active keys (check and insert are atomic)', async () => {
    const a = await h.account({ tokens: 1 });
    // The account already holds one key (the caller's): 99 more are allowed. The 200 requests are
    // sent whole but for their last body byte; once the server has parsed all 200 heads, the last
    // bytes go out at once and every handler runs concurrently.
    const { port } = new URL(h.url);
    let heads = 0;
    const allHeads = new Promise<void>((resolve) => {
      const onRequest = () => {
        if (++heads === 200) {
          h.server.app.server.off('request', onRequest);
          resolve();
        }
      };
      h.server.app.server.on('request', onRequest);
    });
    const sockets = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<Socket>((resolve) => {
            const sk = connect(Number(port), '127.0.0.1', () => resolve(sk));
          }),
      ),
    );
    const answers = sockets.map((sk, i) => {
      const body = JSON.stringify({ name: `k${i}` });
      sk.write(
        `POST /api/v2/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, -1)}`,
      );
      let raw = '';
      sk.setEncoding('utf8');
      sk.on('data', (c: string) => (raw += c));
      return new Promise<string>((resolve) => sk.on('close', () => resolve(raw)));
    });
    await allHeads;
    await new Promise((r) => setImmediate(r));
    sockets.forEach((sk) => sk.write('}'));
    const statuses = (await Promise.all(answers)).map((raw) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]));
    assert.equal(statuses.filter((s) => s === 201).length, MAX_ACTIVE_KEYS - 1, JSON.stringify(statuses.filter((s) => s !== 201 && s !== 422)));
    assert.equal(statuses.filter((s) => s === 422).length, 200 - (MAX_ACTIVE_KEYS - 1));
    const active = await h.server.db.kysely.selectFrom('api_keys').select('id').where('account_id', '=', a.id).where('revoked_at', 'is', null).execute();
    assert.equal(active.length, MAX_ACTIVE_KEYS);
  });
});
