// The operator API under /admin: token from LUMENGATE_ADMIN_TOKEN (never an nb_ key), accounts,
// keys, generations, usage; and the CLI, which calls the same service functions, agrees with it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startHarness, type Harness } from '../support/harness.js';
import { adminTokenFromEnv, adminTokenMatcher } from '../../src/admin/token.js';
import { call, isEnvelope } from './http.js';

const ADMIN = 'test-admin-token-0123456789abcdef-0123456789';
const cliPath = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

describe('admin API', () => {
  let h: Harness;
  const admin = (method: string, path: string, body?: unknown, token = ADMIN) => call(h.url, method, path, { token, body });
  const cli = async (...args: string[]) => {
    const env = { ...process.env, DATABASE_URL: dbUrl, LUMENGATE_ADMIN_TOKEN: '' };
    const r = await run(process.execPath, [cliPath, ...args], { env });
    return JSON.parse(r.stdout);
  };
  let dbUrl = '';
  before(async () => {
    h = await startHarness({ env: { LUMENGATE_ADMIN_TOKEN: ADMIN } });
    dbUrl = h.server.app.services.settings.databaseUrl;
  });
  after(() => h.close());

  it('refuses missing, wrong and nb_ tokens with 401 on every route, including unknown ones', async () => {
    const a = await h.account();
    for (const path of ['/admin/accounts', '/admin/usage', '/admin/keys', '/admin/nope']) {
      for (const token of [undefined, 'wrong', a.key, ADMIN.slice(0, -1), `${ADMIN}x`]) {
        const r = await call(h.url, 'GET', path, { token });
        assert.equal(r.status, 401, `${path} ${token}`);
        assert.ok(isEnvelope(r.json));
        assert.equal(r.json.error, 'not_authenticated');
        assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
      }
    }
    const r = await call(h.url, 'GET', '/admin/accounts', { headers: { authorization: `Basic ${ADMIN}` } });
    assert.equal(r.status, 401);
    // The admin token is not an API key either.
    assert.equal((await call(h.url, 'GET', '/api/v2/balance', { token: ADMIN })).status, 401);
    assert.equal((await admin('GET', '/admin/nope')).status, 404);
  });

  it('creates an account, changes its plan, grants tokens, suspends and reactivates it', async () => {
    const created = await admin('POST', '/admin/accounts', { name: 'Acme', plan: 'basic', tokens: 50, package_tokens: 7 });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const id = created.json.id;
    assert.deepEqual(
      { ...created.json, created_at: undefined },
      { id, name: 'Acme', plan: 'basic', status: 'active', token_balance: 57, plan_tokens: 50, package_tokens: 7, plan_expires_at: null, created_at: undefined },
    );

    const plan = await admin('PATCH', `/admin/accounts/${id}`, { plan: 'vip', plan_expires_at: '2030-01-01T00:00:00Z' });
    assert.equal(plan.status, 200);
    assert.equal(plan.json.plan, 'vip');
    assert.equal(plan.json.plan_expires_at, '2030-01-01T00:00:00Z');
    const granted = await admin('POST', `/admin/accounts/${id}/grants`, { amount: 10, pool: 'package', note: 'promo' });
    assert.equal(granted.json.package_tokens, 17);
    assert.equal(granted.json.token_balance, 67);
    const ledger = await h.server.db.kysely.selectFrom('ledger').selectAll().where('account_id', '=', id).execute();
    assert.deepEqual(
      ledger.map((l) => [l.kind, l.plan_delta, l.package_delta]),
      [
        ['grant', 50, 0],
        ['grant', 0, 7],
        ['grant', 0, 10],
      ],
    );
    assert.equal(ledger[2]!.note, 'promo');

    const key = await admin('POST', `/admin/accounts/${id}/keys`, { name: 'ops' });
    assert.equal(key.status, 201);
    assert.match(key.json.key, /^nb_/);
    assert.equal((await call(h.url, 'GET', '/api/v2/balance', { token: key.json.key })).json.token_balance, 67);

    assert.equal((await admin('POST', `/admin/accounts/${id}/suspend`)).json.status, 'suspended');
    assert.equal((await call(h.url, 'GET', '/api/v2/balance', { token: key.json.key })).status, 401, 'refused at once');
    assert.equal((await admin('POST', `/admin/accounts/${id}/activate`)).json.status, 'active');
    assert.equal((await call(h.url, 'GET', '/api/v2/balance', { token: key.json.key })).status, 200);

    const list = await admin('GET', '/admin/accounts?plan=vip');
    assert.ok(list.json.accounts.some((a: any) => a.id === id));
    assert.ok(list.json.accounts.every((a: any) => a.plan === 'vip'));
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('validates input: 400 missing, 422 wrong type or range, 404 unknown account', async () => {
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', '/admin/accounts', {}, 400],
      ['POST', '/admin/accounts', { plan: 'platinum' }, 422],
      ['POST', '/admin/accounts', { plan: 'free', tokens: -1 }, 422],
      ['POST', '/admin/accounts', { plan: 'free', tokens: 1e300 }, 422],
      ['POST', '/admin/accounts', { plan: 'free', role: 'admin' }, 422],
      ['POST', '/admin/accounts', [1, 2], 400],
      ['POST', '/admin/accounts/999999/grants', { amount: 5 }, 404],
      ['POST', '/admin/accounts/1/grants', { amount: 0 }, 422],
      ['POST', '/admin/accounts/1/grants', { amount: 1.5 }, 422],
      ['POST', '/admin/accounts/1/grants', { amount: '5' }, 422],
      ['PATCH', '/admin/accounts/1', { status: 'deleted' }, 422],
      ['PATCH', '/admin/accounts/abc', { plan: 'pro' }, 404],
      ['GET', '/admin/accounts/99999999999999999999', undefined, 404],
      ['DELETE', '/admin/keys/999999', undefined, 404],
      ['GET', '/admin/usage?since=yesterday', undefined, 422],
      ['GET', '/admin/generations?limit=500', undefined, 422],
    ];
    await h.account();
    for (const [method, path, body, status] of cases) {
      const r = await admin(method, path, body);
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.ok(isEnvelope(r.json));
    }
  });

  it('lists, renames and revokes keys of any account; generations and usage per account and model', async () => {
    const a = await h.account({ tokens: 20 });
    for (const model of ['gpt-5-nano', 'gpt-5-nano', 'gpt-5']) {
      h.fake.respondWith({ chunks: ['ok'] });
      assert.equal((await h.post('/api/v2/generate', { model, prompt: 'hi' }, a.key)).status, 200);
    }
    h.fake.respondWith({ status: 500 });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5', prompt: 'hi' }, a.key)).status, 500);

    const usage = await admin('GET', `/admin/usage?account_id=${a.id}`);
    assert.equal(usage.status, 200);
    assert.deepEqual(usage.json.usage, [
      { account_id: a.id, model_slug: 'gpt-5', requests: 2, completed: 1, failed: 1, pending: 0, tokens_spent: 2 },
      { account_id: a.id, model_slug: 'gpt-5-nano', requests: 2, completed: 2, failed: 0, pending: 0, tokens_spent: 2 },
    ]);
    assert.deepEqual(usage.json.totals, { requests: 4, tokens_spent: 4 });
    assert.equal((await admin('GET', `/admin/usage?account_id=${a.id}&since=2999-01-01T00:00:00Z`)).json.usage.length, 0);

    const gens = await admin('GET', `/admin/generations?account_id=${a.id}&status=completed&limit=2`);
    assert.equal(gens.json.total, 3);
    assert.equal(gens.json.items.length, 2);
    assert.ok(gens.json.items.every((g: any) => g.account_id === a.id && g.status === 'completed'));
    assert.ok(gens.json.next_cursor);
    const one = await admin('GET', `/admin/generations/${gens.json.items[0].id}`);
    assert.equal(one.json.account_id, a.id);
    assert.equal(one.json.route, 'openai:gpt-5');

    // Deleted by its owner: hidden unless include_deleted.
    await call(h.url, 'DELETE', `/api/v2/user/history/${gens.json.items[0].id}`, { token: a.key });
    assert.equal((await admin('GET', `/admin/generations?account_id=${a.id}`)).json.total, 3);
    assert.equal((await admin('GET', `/admin/generations?account_id=${a.id}&include_deleted=true`)).json.total, 4);

    const keys = await admin('GET', `/admin/keys?account_id=${a.id}`);
    assert.equal(keys.json.total, 1);
    assert.ok(!keys.text.includes(a.key) && !keys.text.includes('key_hash'));
    const keyId = keys.json.keys[0].id;
    assert.equal((await admin('PATCH', `/admin/keys/${keyId}`, { name: 'renamed-by-ops' })).json.name, 'renamed-by-ops');
    assert.equal((await admin('DELETE', `/admin/keys/${keyId}`)).status, 204);
    assert.equal((await h.get('/api/v2/balance', a.key)).status, 401);
    assert.equal((await admin('GET', `/admin/keys?account_id=${a.id}`)).json.total, 0);
    assert.equal((await admin('GET', `/admin/keys?account_id=${a.id}&include_revoked=true`)).json.total, 1);
  });

  it('the CLI and the admin API give the same answers from the same database', async () => {
    const a = await h.account({ tokens: 9 });
    h.fake.respondWith({ chunks: ['ok'] });
    await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, a.key);
    assert.deepEqual(await cli('usage', '--account', String(a.id), '--json'), (await admin('GET', `/admin/usage?account_id=${a.id}`)).json.usage);
    assert.deepEqual(await cli('accounts', 'list', '--json'), (await admin('GET', '/admin/accounts')).json.accounts);
    const viaCli = await cli('tokens', 'grant', String(a.id), '5', '--json');
    assert.equal(viaCli.token_balance, 13);
    assert.deepEqual((await admin('GET', `/admin/accounts/${a.id}`)).json.token_balance, 13);
    const suspended = await cli('accounts', 'suspend', String(a.id), '--json');
    assert.equal(suspended.status, 'suspended');
    assert.equal((await h.get('/api/v2/balance', a.key)).status, 401);
    assert.equal((await cli('accounts', 'plan', String(a.id), 'elite', '--json')).plan, 'elite');
    assert.equal((await admin('GET', `/admin/accounts/${a.id}`)).json.plan, 'elite');
    await assert.rejects(run(process.execPath, [cliPath, 'accounts', 'plan', String(a.id), 'platinum'], { env: { ...process.env, DATABASE_URL: dbUrl } }), /plan/);
  });
});

describe('admin token', () => {
  it('is off when unset, refuses nb_ keys and short tokens, and compares any length safely', async () => {
    assert.equal(adminTokenFromEnv({}), null);
    assert.equal(adminTokenFromEnv({ LUMENGATE_ADMIN_TOKEN: '' }), null);
    assert.throws(() => adminTokenFromEnv({ LUMENGATE_ADMIN_TOKEN: `nb_${'a'.repeat(45)}` }), /nb_/);
    assert.throws(() => adminTokenFromEnv({ LUMENGATE_ADMIN_TOKEN: 'short' }), /at least 32/);
    assert.equal(adminTokenFromEnv({ LUMENGATE_ADMIN_TOKEN: ADMIN }), ADMIN);
    const matches = adminTokenMatcher(ADMIN);
    assert.equal(matches(ADMIN), true);
    for (const wrong of ['', 'x', ADMIN.slice(1), `${ADMIN}${ADMIN}`, ADMIN.toUpperCase()]) assert.equal(matches(wrong), false);
  });

  it('without LUMENGATE_ADMIN_TOKEN the admin API does not exist (404), whatever is sent', async () => {
    const h = await startHarness();
    try {
      for (const token of [undefined, ADMIN, '']) {
        const r = await call(h.url, 'GET', '/admin/accounts', { token });
        assert.equal(r.status, 404);
        assert.ok(isEnvelope(r.json));
      }
    } finally {
      await h.close();
    }
  });
});
