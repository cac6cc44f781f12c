// The behaviour every FileStore backend must show through the gateway (run by fs.test.ts and
// s3.test.ts): round trip through GET /files, the generation object's result fields, retention.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';
import { bytesOf, DAY_MS, generationWithFiles, pathOf } from './support.js';

export interface Backend {
  env(): Promise<Record<string, string>>;
  /** Whether the backend itself still holds `key` (looked at past the gateway). */
  holds(key: string): Promise<boolean>;
  close(): Promise<void>;
}

export function storageSuite(backend: Backend): void {
  let h: Harness;
  before(async () => {
    h = await startHarness({ env: await backend.env() });
  });
  after(async () => {
    await h.close();
    await backend.close();
  });

  const png = bytesOf(70_000, 7);
  const thumb = bytesOf(900, 9);
  const image = () => [
    { name: 'image.png', media_type: 'image/png', bytes: png, meta: { width: 768, height: 1344, format: 'png' } },
    { name: 'thumbnail.webp', media_type: 'image/webp', bytes: thumb, meta: { width: 128, height: 224 } },
  ];

  it('GET /api/v2/generate/{id} signs a fresh result_url, and GET /files returns the same bytes and content type', async () => {
    const a = await h.account({ plan: 'pro' });
    const id = await generationWithFiles(h, a.id, image());
    const before = Date.now();
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.match(g.result_url, new RegExp(`^${h.url}/files/${id}/image\\.png\\?expires=\\d+&sig=[0-9a-f]{64}$`));
    const expires = Number(new URL(g.result_url).searchParams.get('expires')) * 1000;
    assert.ok(expires >= before + DAY_MS - 1000 && expires <= Date.now() + DAY_MS, 'valid 24 h from this read');
    assert.deepEqual(g.result_metadata, { mime_type: 'image/png', bytes: png.byteLength, width: 768, height: 1344, duration: null, format: 'png' });

    const file = await fetch(g.result_url);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/png');
    assert.deepEqual(new Uint8Array(await file.arrayBuffer()), png);
    const t = await fetch(g.thumbnail_url);
    assert.equal(t.headers.get('content-type'), 'image/webp');
    assert.deepEqual(new Uint8Array(await t.arrayBuffer()), thumb);
  });

  it('audio: duration and format in result_metadata, the URL needs no API key', async () => {
    const a = await h.account({ plan: 'free' });
    const mp3 = bytesOf(4096, 3);
    const id = await generationWithFiles(h, a.id, [{ name: 'speech.mp3', media_type: 'audio/mpeg', bytes: mp3, meta: { duration: 4.2 } }], 'tts');
    const g = (await h.get(`/api/v2/generate/${id}`, a.key)).json;
    assert.deepEqual(g.result_metadata, { mime_type: 'audio/mpeg', bytes: 4096, width: null, height: null, duration: 4.2, format: 'mp3' });
    assert.equal(g.thumbnail_url, null);
    const r = await fetch(g.result_url);
    assert.equal(r.headers.get('content-type'), 'audio/mpeg');
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), mp3);
  });

  it("retention: past 7 days a free account's files are deleted and the generation says expired_at; pro keeps 90 days, elite for ever", async () => {
    const [free, pro, elite] = [await h.account({ plan: 'free' }), await h.account({ plan: 'pro' }), await h.account({ plan: 'elite' })];
    const ids = { free: await generationWithFiles(h, free.id, image()), pro: await generationWithFiles(h, pro.id, image()), elite: await generationWithFiles(h, elite.id, image()) };
    const oldUrl = pathOf((await h.get(`/api/v2/generate/${ids.free}`, free.key)).json.result_url);
    const t0 = Date.now();

    // Nothing is due at 6 days (the other tests' generations are free and pro too: none is old enough).
    assert.equal(await h.server.files.sweep(new Date(t0 + 6 * DAY_MS)), 0);
    assert.ok(await backend.holds(`${ids.free}/image.png`));

    const at8 = new Date(t0 + 8 * DAY_MS);
    assert.ok((await h.server.files.sweep(at8)) >= 1);
    for (const name of ['image.png', 'thumbnail.webp']) {
      assert.equal(await backend.holds(`${ids.free}/${name}`), false, `${name} deleted`);
      assert.equal(await h.server.files.store.get(`${ids.free}/${name}`), undefined);
    }
    const g = (await h.get(`/api/v2/generate/${ids.free}`, free.key)).json;
    assert.equal(g.status, 'completed');
    assert.equal(g.result_url, null);
    assert.equal(g.thumbnail_url, null);
    assert.equal(g.result_metadata.expired_at, at8.toISOString());
    assert.equal(g.result_metadata.mime_type, 'image/png');
    assert.equal((await fetch(h.url + oldUrl)).status, 404, 'a URL signed before the sweep finds nothing');

    for (const [who, acc] of [
      ['pro', pro],
      ['elite', elite],
    ] as const) {
      const kept = (await h.get(`/api/v2/generate/${ids[who]}`, acc.key)).json;
      assert.equal(kept.result_metadata.expired_at, undefined, who);
      assert.deepEqual(new Uint8Array(await (await fetch(kept.result_url)).arrayBuffer()), png, who);
    }

    assert.ok((await h.server.files.sweep(new Date(t0 + 91 * DAY_MS))) >= 1);
    assert.equal(await backend.holds(`${ids.pro}/image.png`), false, 'pro: gone after 90 days');
    assert.ok(await backend.holds(`${ids.elite}/image.png`), 'elite: unlimited');
    const elites = await fetch((await h.get(`/api/v2/generate/${ids.elite}`, elite.key)).json.result_url);
    assert.equal(elites.status, 200);
    // Read to the end: an unread response keeps its connection busy, and the server's close waits
    // for it (~70 s on Node 24, where this suite's teardown measured 69.6 s in the gateway's app.close()).
    assert.deepEqual(new Uint8Array(await elites.arrayBuffer()), png, 'elite');
    assert.equal(await h.server.files.sweep(new Date(t0 + 91 * DAY_MS)), 0, 'a second pass finds nothing left to do');
  });

  it("a deleted generation's files go at the next sweep, whatever the plan", async () => {
    const a = await h.account({ plan: 'elite' });
    const id = await generationWithFiles(h, a.id, image());
    const url = (await h.get(`/api/v2/generate/${id}`, a.key)).json.result_url;
    const del = await fetch(`${h.url}/api/v2/user/history/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${a.key}` } });
    assert.ok(del.status < 300, String(del.status));
    assert.equal((await fetch(url)).status, 404, 'not served once deleted');
    assert.ok(await backend.holds(`${id}/image.png`));
    assert.equal(await h.server.files.sweep(), 1);
    assert.equal(await backend.holds(`${id}/image.png`), false);
    assert.equal(await backend.holds(`${id}/thumbnail.webp`), false);
  });
}
