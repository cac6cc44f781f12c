// Secrets stay secret: keys exist only as hashes in the database, and a full session (keys,
// generation, streaming, errors, admin calls) leaves no key, Authorization value, admin token or
// upstream key in the server's logs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import pino from 'pino';
import { startHarness, type Harness } from '../support/harness.js';
import { LineLog } from '../support/waits.js';
import { loggerOptions, maskUrl } from '../../src/logging.js';
import { call } from './http.js';

const ADMIN = 'log-test-admin-token-fedcba9876543210-abcdef';
const UPSTREAM_KEY = 'sk-fake-test-key';

/** Every row of every table, as text. */
async function dumpTables(h: Harness): Promise<string> {
  const db = h.server.db.kysely;
  const parts = await Promise.all((['accounts', 'api_keys', 'generations', 'ledger'] as const).map((t) => db.selectFrom(t).selectAll().execute()));
  return JSON.stringify(parts);
}

describe('keys are stored only as hashes', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ env: { LUMENGATE_ADMIN_TOKEN: ADMIN } });
  });
  after(() => h.close());

  it('no key is in the database, in any table or in the database files; only its SHA-256 and a 7-character prefix', async () => {
    const a = await h.account({ tokens: 5 });
    const selfService = (await call(h.url, 'POST', '/api/v2/keys', { token: a.key, body: { name: 'self' } })).json.key as string;
    const viaAdmin = (await call(h.url, 'POST', `/admin/accounts/${a.id}/keys`, { token: ADMIN, body: { name: 'ops' } })).json.key as string;
    h.fake.respondWith({ chunks: ['ok'] });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, selfService)).status, 200);
    const keys = [a.key, selfService, viaAdmin];

    const dump = await dumpTables(h);
    for (const k of keys) {
      assert.ok(!dump.includes(k), 'no full key in any row');
      assert.ok(!dump.includes(k.slice(3)), 'not even its random part');
      assert.ok(!dump.includes(k.slice(0, 20)), 'nor a long prefix of it');
      const row = await h.server.db.kysely.selectFrom('api_keys').selectAll().where('key_hash', '=', createHash('sha256').update(k).digest('hex')).executeTakeFirst();
      assert.ok(row, 'stored as its SHA-256');
      assert.equal(row.display_prefix, `${k.slice(0, 7)}…`);
    }
    const url = h.server.app.services.settings.databaseUrl;
    if (url.startsWith('sqlite:')) {
      const file = url.slice('sqlite:'.length);
      const bytes = Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
      assert.ok(bytes.length > 0);
      for (const k of keys) assert.equal(bytes.indexOf(k.slice(3)), -1, 'no key in the database files (main file and WAL)');
    }
  });
});

describe('nothing secret in the logs', () => {
  let h: Harness;
  // Each chunk the logger writes (a line), and a wait on them.
  const written = new LineLog();
  const lines = written.lines;
  before(async () => {
    const sink = written.writable();
    const env = { LUMENGATE_ADMIN_TOKEN: ADMIN };
    // The server's own logger configuration, at the most verbose level, writing to memory.
    h = await startHarness({ env, logger: pino(loggerOptions('trace', env), sink) });
  });
  after(() => h.close());

  it('a full session logs requests but no key, Authorization value, admin token or upstream key', async () => {
    const a = await h.account({ tokens: 20 });
    const created = await call(h.url, 'POST', '/api/v2/keys', { token: a.key, body: { name: 'session' } });
    const second: string = created.json.key;
    const viaAdmin = await call(h.url, 'POST', `/admin/accounts/${a.id}/keys`, { token: ADMIN, body: { name: 'ops' } });
    const third: string = viaAdmin.json.key;

    h.fake.respondWith({ chunks: ['Hello', ' world'] });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, second)).status, 200);
    h.fake.respondWith({ chunks: ['streamed'] });
    assert.equal((await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'hi' }, second)).status, 200);
    h.fake.respondWith({ chunks: ['partial'], ending: 'reset' });
    await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'hi' }, second);
    h.fake.respondWith({ status: 401 });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, third)).status, 503); // the operator's credentials: model_unavailable (docs/api.md)
    h.fake.respondWith({ status: 500 });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, third)).status, 500);

    // Hostile and careless callers: wrong keys, keys in URLs and odd headers, a wrong admin token.
    // The key with its last character changed (to another one: keys are random, it may end in x).
    assert.equal((await h.get('/api/v2/balance', `${second.slice(0, -1)}${second.endsWith('x') ? 'y' : 'x'}`)).status, 401);
    await call(h.url, 'GET', `/api/v2/balance?api_key=${second}&key=${third}`);
    await call(h.url, 'GET', `/api/v2/models/${second}`);
    await call(h.url, 'GET', `/admin/accounts?token=${ADMIN}`);
    await call(h.url, 'GET', `/admin/${ADMIN}`, { token: ADMIN });
    await call(h.url, 'GET', '/admin/accounts', { token: `${ADMIN}-wrong` });
    await call(h.url, 'GET', '/api/v2/balance', { headers: { authorization: `Basic ${second}`, 'x-api-key': third, cookie: `key=${second}` } });
    await call(h.url, 'POST', '/api/v2/generate', { token: second, body: `{"model": "${third}", "prompt": ` });
    await call(h.url, 'POST', '/api/v2/generate', { token: second, body: { model: third, prompt: 'x' } });
    await call(h.url, 'POST', '/api/v2/keys', { token: second, body: { name: second } });
    await call(h.url, 'DELETE', `/api/v2/keys/${created.json.id}`, { token: a.key });

    // Fastify writes each "request completed" line after its response was sent: wait for the last
    // ones (re-checked at each line written), not for a fixed time.
    const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
    await written.until(() => count(/request completed/) >= count(/incoming request/), 'a "request completed" line for each request');
    const log = lines.join('');
    assert.ok(lines.length > 20, 'requests are logged');
    assert.match(log, /incoming request/);
    assert.match(log, /nb_\[redacted\]/, 'a key pasted into a URL is masked, the request still logged');
    for (const secret of [a.key, second, third, ADMIN, UPSTREAM_KEY]) {
      assert.ok(!log.includes(secret), `log contains ${secret.slice(0, 6)}…`);
      assert.ok(!log.includes(secret.slice(3, 30)), `log contains part of ${secret.slice(0, 6)}…`);
    }
    assert.doesNotMatch(log, /nb_[0-9A-Za-z]{20,}/);
    assert.doesNotMatch(log, /Bearer\s+\S/i, 'no Authorization value');
    assert.doesNotMatch(log, /Basic\s+\S/i);
  });

  it('percent-encoded keys and admin token are masked too (the log masks the decoded URL)', async () => {
    const a = await h.account({ tokens: 5 });
    const k = a.key;
    const every = (s: string) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    const paths = [
      `/api/v2/models/nb%5F${k.slice(3)}`,
      `/api/v2/models/%6Eb_${k.slice(3)}`,
      `/api/v2/models/nb%255F${k.slice(3)}`,
      `/api/v2/balance?api%5Fkey=${k}`,
      `/api/v2/models/${every(k)}`,
      `/admin/${every(ADMIN)}`,
      `/admin/accounts?x=${every(ADMIN)}`,
      `/admin/${encodeURIComponent(encodeURIComponent(ADMIN))}`,
      `/admin/${ADMIN.slice(0, 10)}%${ADMIN.charCodeAt(10).toString(16)}${ADMIN.slice(11)}`,
    ];
    const before = lines.length;
    for (const p of paths) await call(h.url, 'GET', p);
    const since = (re: RegExp) => lines.slice(before).filter((l) => re.test(l)).length;
    await written.until(() => since(/request completed/) >= since(/incoming request/), 'a "request completed" line for each request');
    const log = lines.slice(before).join('');
    assert.match(log, /incoming request/);
    assert.ok(!log.includes(k.slice(3, 30)), 'no part of the key');
    assert.ok(!log.includes(ADMIN.slice(11, 40)) && !log.includes(ADMIN.slice(0, 10)), 'no part of the admin token');
    for (const secret of [k, ADMIN]) assert.ok(!log.includes(every(secret).slice(3 * 3, 3 * 30)), 'nor its encoded form');
  });

  it('maskUrl masks keys and secret-looking query parameters and leaves the rest', () => {
    assert.equal(maskUrl(`/a/nb%5F${'B'.repeat(45)}?api%5fkey=x`), '/a/nb_[redacted]?api_key=[redacted]');
    assert.equal(maskUrl('/admin/%73%33cr%33t/x', ['s3cr3t']), '/admin/[redacted]/x');
    assert.equal(maskUrl('/bad/%E0%A4%A/nb%5Fabc'), '/bad/\u00e0\u00a4%A/nb_[redacted]');
    assert.equal(maskUrl('/api/v2/user/history?limit=5&api_key=abc&x=1'), '/api/v2/user/history?limit=5&api_key=[redacted]&x=1');
    assert.equal(maskUrl('/x?token=t&access_token=u&auth=v'), '/x?token=[redacted]&access_token=[redacted]&auth=[redacted]');
    assert.equal(maskUrl(`/api/v2/models/nb_${'A'.repeat(45)}`), '/api/v2/models/nb_[redacted]');
    assert.equal(maskUrl('/admin/s3cr3t/x', ['s3cr3t']), '/admin/[redacted]/x');
    assert.equal(maskUrl('/api/v2/models?category=text'), '/api/v2/models?category=text');
    // A result URL is a bearer link until it expires: its signature is masked, its expiry kept.
    assert.equal(maskUrl(`/files/12/0.png?expires=1790000000&sig=${'ab'.repeat(32)}`), '/files/12/0.png?expires=1790000000&sig=[redacted]');
  });
});
