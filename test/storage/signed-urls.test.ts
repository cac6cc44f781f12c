// GET /files is authorised by the URL's signature alone: any change to it, an expired one, or a
// name that tries to leave the storage root gets nothing. And the signing secret persists.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { settingsFromEnv } from '../../src/config/env.js';
import { fileSystemStore } from '../../src/storage/files.js';
import { urlSecretOf, urlSigner } from '../../src/storage/signed-urls.js';
import { startHarness, type Harness } from '../support/harness.js';
import { bytesOf, DAY_MS, generationWithFiles, rawGet } from './support.js';

describe('signed file URLs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-sig-'));
  const root = join(dir, 'files');
  const SECRET = 'outside the storage root: must never be served';
  let h: Harness;
  let key: string;
  let ids: number[];
  let url: URL;
  const png = bytesOf(5000, 2);
  const files = [
    { name: 'image.png', media_type: 'image/png', bytes: png },
    { name: 'thumbnail.webp', media_type: 'image/webp', bytes: bytesOf(300, 4) },
  ];

  before(async () => {
    writeFileSync(join(dir, 'secret.txt'), SECRET);
    h = await startHarness({ env: { LUMENGATE_FILES_DIR: root } });
    const a = await h.account({ plan: 'pro' });
    key = a.key;
    ids = [await generationWithFiles(h, a.id, files), await generationWithFiles(h, a.id, files)];
    url = new URL((await h.get(`/api/v2/generate/${ids[0]}`, key)).json.result_url);
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (u: URL) => fetch(u);
  const changed = (f: (u: URL) => void) => {
    const u = new URL(url);
    f(u);
    return u;
  };

  it('the URL as signed is served', async () => {
    const r = await get(url);
    assert.equal(r.status, 200);
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), png);
  });

  it('a changed sig, expires, generation id or name is 403; so is a URL without them', async () => {
    const sig = url.searchParams.get('sig')!;
    const expires = url.searchParams.get('expires')!;
    const cases: Record<string, URL> = {
      sig: changed((u) => u.searchParams.set('sig', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1))),
      expires: changed((u) => u.searchParams.set('expires', String(Number(expires) + 3600))),
      'generation id': changed((u) => {
        u.pathname = `/files/${ids[1]}/image.png`;
      }),
      name: changed((u) => {
        u.pathname = `/files/${ids[0]}/thumbnail.webp`;
      }),
      'no sig': changed((u) => u.searchParams.delete('sig')),
      'no expires': changed((u) => u.searchParams.delete('expires')),
      'another secret': new URL(h.url + urlSigner('x'.repeat(32), DAY_MS).sign(`${ids[0]}/image.png`)),
    };
    for (const [what, u] of Object.entries(cases)) {
      const r = await get(u);
      assert.equal(r.status, 403, what);
      assert.equal((await r.json()).error, 'forbidden', what);
    }
  });

  it('an expired URL is 403; the signature is valid up to the second it names', async () => {
    const signedLongAgo = urlSigner(h.server.files.secret, DAY_MS, () => Date.now() - DAY_MS - 1000).sign(`${ids[0]}/image.png`);
    assert.equal((await fetch(h.url + signedLongAgo)).status, 403);

    let now = 1_700_000_000_000;
    const s = urlSigner('k'.repeat(32), 1000, () => now);
    const q = new URL('http://x' + s.sign('1/a.png')).searchParams;
    now += 999;
    assert.equal(s.verify('1/a.png', q.get('expires')!, q.get('sig')!), true);
    now += 1;
    assert.equal(s.verify('1/a.png', q.get('expires')!, q.get('sig')!), false);
  });

  it('names that try to leave the storage root never reach a file outside it', async () => {
    const signer = h.server.files.signer;
    const id = ids[0];
    // Signed with the gateway's own secret: the name check must hold even behind a valid signature.
    const signedPath = (name: string, encoded: string) => signer.sign(`${id}/${name}`).replace(`/${id}/${name}?`, `/${id}/${encoded}?`);
    const attempts = [
      signedPath('../../secret.txt', '..%2F..%2Fsecret.txt'),
      signedPath('..', '..'),
      signedPath('..\\..\\secret.txt', '..%5C..%5Csecret.txt'),
      signedPath('image.png\0', 'image.png%00'),
      signedPath('/etc/passwd', '%2Fetc%2Fpasswd'),
      `/files/${id}/../../secret.txt`,
      `/files/../secret.txt`,
      `/files/${id}/%2e%2e%2f%2e%2e%2fsecret.txt`,
      `/files/..%2F..%2Fsecret.txt/x?${url.searchParams}`,
      signer.sign(`../../secret.txt`),
    ];
    for (const path of attempts) {
      const r = await rawGet(h.url, path);
      assert.ok([400, 403, 404].includes(r.status), `${path}: ${r.status}`);
      assert.ok(!r.body.toString().includes(SECRET), path);
    }
    // The store itself refuses such keys, whatever calls it.
    await assert.rejects(fileSystemStore(root).get(`${id}/../../secret.txt`));
    await assert.rejects(fileSystemStore(root).get(`../secret.txt`));
  });

  it('a signed URL for a file the generation does not list is 404', async () => {
    await h.server.files.store.put(`${ids[0]}/stray.png`, bytesOf(10), 'image/png');
    assert.equal((await fetch(h.url + h.server.files.signer.sign(`${ids[0]}/stray.png`))).status, 404);
  });

  it('the generated secret is kept in the database: the same one comes back; LUMENGATE_URL_SECRET wins', async () => {
    const secret = h.server.files.secret;
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.equal(await urlSecretOf(h.server.db, undefined), secret);
    const row = await h.server.db.kysely.selectFrom('gateway_settings').select('value').where('name', '=', 'url_secret').executeTakeFirstOrThrow();
    assert.equal(row.value, secret);
    assert.equal(await urlSecretOf(h.server.db, 's'.repeat(40)), 's'.repeat(40));
    assert.throws(() => settingsFromEnv({ LUMENGATE_URL_SECRET: 'short' }), /at least 32/);
    assert.throws(() => settingsFromEnv({ LUMENGATE_STORAGE_URL: 'https://bucket' }), /s3:\/\/bucket/);
  });
});
