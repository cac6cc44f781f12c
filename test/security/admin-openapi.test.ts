// The public OpenAPI document and Swagger UI do not map the operator API: the /admin routes are in
// their own document, served only with the admin token.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';
import { call, isEnvelope } from './http.js';

const ADMIN = 'openapi-admin-token-0123456789abcdef-0123456789';
const adminPaths = (doc: any) => Object.keys(doc.paths).filter((p) => p.startsWith('/admin'));

describe('admin OpenAPI document', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ env: { LUMENGATE_ADMIN_TOKEN: ADMIN } });
  });
  after(() => h.close());

  it('/openapi.json and the document behind /docs list no /admin path', async () => {
    for (const path of ['/openapi.json', '/docs/json']) {
      const r = await call(h.url, 'GET', path);
      assert.equal(r.status, 200, path);
      assert.ok(r.json.paths['/api/v2/generate'], `${path} is the public document`);
      assert.deepEqual(adminPaths(r.json), [], path);
      assert.ok(!r.text.includes('/admin'), `${path} never mentions /admin`);
    }
  });

  it('/admin/openapi.json lists the admin routes, with the admin token only', async () => {
    const r = await call(h.url, 'GET', '/admin/openapi.json', { token: ADMIN });
    assert.equal(r.status, 200);
    assert.match(r.json.openapi, /^3\.1\./);
    for (const p of ['/admin/accounts', '/admin/accounts/{id}', '/admin/keys', '/admin/usage']) assert.ok(r.json.paths[p], p);
    assert.deepEqual(
      Object.keys(r.json.paths).filter((p) => !p.startsWith('/admin')),
      [],
      'only admin paths',
    );
    assert.equal(r.headers.get('cache-control'), 'no-store');

    const key = (await h.account()).key;
    for (const token of [undefined, 'wrong', key]) {
      const refused = await call(h.url, 'GET', '/admin/openapi.json', { token });
      assert.equal(refused.status, 401, String(token));
      assert.ok(isEnvelope(refused.json));
      assert.ok(!refused.text.includes('/admin/accounts'));
    }
  });

  it('without LUMENGATE_ADMIN_TOKEN there is no admin document (404)', async () => {
    const plain = await startHarness();
    try {
      const r = await call(plain.url, 'GET', '/admin/openapi.json');
      assert.equal(r.status, 404);
      assert.deepEqual(adminPaths((await call(plain.url, 'GET', '/openapi.json')).json), []);
    } finally {
      await plain.close();
    }
  });
});
