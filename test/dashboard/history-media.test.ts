// The history list's item shape for the dashboard (docs/api.md): every item carries finish_reason,
// category/type and result_metadata, and a media item a result_url signed afresh on each read (as
// GET /api/v2/generate/{id} does), so the page needs no request per row. An expired file says so.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from '../support/harness.js';
import { bytesOf, DAY_MS, generationWithFiles } from '../storage/support.js';

describe('history items for media and text', () => {
  let h: Harness;
  let filesDir: string;
  before(async () => {
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-history-files-'));
    h = await startHarness({ env: { LUMENGATE_FILES_DIR: filesDir } });
  });
  after(async () => {
    await h.close();
    rmSync(filesDir, { recursive: true, force: true });
  });

  it('a media item has a signed result_url that serves the file, its metadata and category; a text item its finish_reason', async () => {
    const a = await h.account({ plan: 'free', tokens: 10 });
    const text = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hello' }, a.key);
    assert.equal(text.status, 200, text.text);
    const png = bytesOf(2048, 5);
    const wav = bytesOf(1024, 6);
    const imageId = await generationWithFiles(h, a.id, [{ name: 'image.png', media_type: 'image/png', bytes: png, meta: { width: 64, height: 32, format: 'png' } }]);
    const speechId = await generationWithFiles(h, a.id, [{ name: 'speech.wav', media_type: 'audio/wav', bytes: wav, meta: { duration: 1.5 } }], 'tts');

    const page = await h.get('/api/v2/user/history', a.key);
    assert.equal(page.status, 200);
    const byId = new Map<number, any>(page.json.items.map((i: any) => [i.id, i]));

    const t = byId.get(text.json.id);
    assert.equal(t.finish_reason, 'stop');
    assert.deepEqual(t.result_metadata, { finish_reason: 'stop' });
    assert.deepEqual([t.result_url, t.url, t.thumbnail_url], [null, null, null]);

    const img = byId.get(imageId);
    assert.deepEqual([img.category, img.type, img.finish_reason], ['image', 'image', null]);
    assert.match(img.result_url, new RegExp(`^${h.url}/files/${imageId}/image\\.png\\?expires=\\d+&sig=[0-9a-f]{64}$`));
    assert.equal(img.url, img.result_url);
    assert.deepEqual(img.result_metadata, { mime_type: 'image/png', bytes: 2048, width: 64, height: 32, duration: null, format: 'png' });
    const file = await fetch(img.result_url);
    assert.equal(file.headers.get('content-type'), 'image/png');
    assert.deepEqual(new Uint8Array(await file.arrayBuffer()), png);

    const tts = byId.get(speechId);
    assert.deepEqual([tts.category, tts.result_metadata.mime_type, tts.result_metadata.duration], ['tts', 'audio/wav', 1.5]);
    assert.deepEqual(new Uint8Array(await (await fetch(tts.result_url)).arrayBuffer()), wav);

    // The same fields as the generation object (only the signature's instant may differ).
    const full = (await h.get(`/api/v2/generate/${imageId}`, a.key)).json;
    assert.deepEqual(img.result_metadata, full.result_metadata);
    assert.equal(new URL(img.result_url).pathname, new URL(full.result_url).pathname);
  });

  it('an expired file: result_url null, result_metadata.expired_at set', async () => {
    const a = await h.account({ plan: 'free', tokens: 10 });
    const id = await generationWithFiles(h, a.id, [{ name: 'image.png', media_type: 'image/png', bytes: bytesOf(512, 2), meta: { width: 8, height: 8 } }]);
    const at = new Date(Date.now() + 8 * DAY_MS);
    assert.ok((await h.server.files.sweep(at)) >= 1);
    const item = (await h.get('/api/v2/user/history', a.key)).json.items.find((i: any) => i.id === id);
    assert.equal(item.result_url, null);
    assert.equal(item.result_metadata.expired_at, at.toISOString());
    assert.equal(item.result_metadata.mime_type, 'image/png');
  });
});
