// Media in the dashboard, end to end in Debian's Chromium (playwright-core): History shows an image
// generation's preview (decoded: naturalWidth > 0), an espeak speech generation's audio player (its
// metadata loaded) and download links that fetch the files; an expired file says so; the
// playground makes an image (a fake OpenAI images upstream serving real PNGs) and speaks a text with
// the local espeak model on a free account. Every wait is for an element or the page's own state.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packageRoot } from '../../src/config/env.js';
import { settled, startHarness, type Harness } from '../support/harness.js';
import { FAKE_OPENAI_KEY, startFakeOpenAIImages, type FakeOpenAIImages } from '../support/fake-openai-images.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`;
const ARTIFACTS = join(packageRoot(), 'test-artifacts', 'dashboard');

describe('dashboard media in Chromium', { skip }, () => {
  let h: Harness;
  let images: FakeOpenAIImages;
  let filesDir: string;
  let browser: Browser;
  let page: Page;
  let account: { id: number; key: string };
  const pageErrors: string[] = [];
  const ids: { image?: number; speech?: number; expired?: number } = {};

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    images = await startFakeOpenAIImages();
    filesDir = mkdtempSync(join(tmpdir(), 'lumengate-dash-files-'));
    h = await startHarness({
      env: { LUMENGATE_FILES_DIR: filesDir, IMAGES_API_KEY: FAKE_OPENAI_KEY, LUMENGATE_JOB_IDLE_POLL_MS: '50' },
      // dall-e-3 goes to the images fake; text models stay on the harness's fake OpenAI.
      catalog: { providers: { images: { type: 'openai', base_url: `${images.origin}/v1` } }, models: [{ slug: 'dall-e-3', routes: [{ provider: 'images', model: 'dall-e-3' }] }] },
    });
    // A free account: espeak and dall-e-3 are free-plan models.
    account = await h.account({ plan: 'free', tokens: 100 });
    const image = await h.post('/api/v2/generate', { model: 'dall-e-3', prompt: 'a lighthouse at dusk' }, account.key);
    assert.equal(image.json?.status, 'completed', image.text);
    const speech = await h.post('/api/v2/generate', { model: 'espeak', prompt: 'Hello from the history page.' }, account.key);
    assert.equal(speech.json?.status, 'completed', speech.text);
    const old = await h.post('/api/v2/generate', { model: 'dall-e-3', prompt: 'an old picture' }, account.key);
    assert.equal(old.json?.status, 'completed', old.text);
    Object.assign(ids, { image: image.json.id, speech: speech.json.id, expired: old.json.id });
    // The oldest one past the free plan's retention: its file is deleted by the sweeper.
    await h.server.db.kysely
      .updateTable('generations')
      .set({ created_at: new Date(Date.now() - 8 * 86_400_000).toISOString() })
      .where('id', '=', old.json.id)
      .execute();
    assert.ok((await h.server.files.sweep()) >= 1);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Only the ceiling before a wait counts as never happening (the machine may be busy).
    page.setDefaultTimeout(90_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${h.url}/dashboard`);
    await page.fill('#api-key', account.key);
    await page.click('button[type=submit]');
    await page.locator('[data-testid=stat-balance]').waitFor();
  });
  after(async () => {
    images?.release();
    await browser?.close();
    await h?.close();
    await images?.close();
    rmSync(filesDir, { recursive: true, force: true });
  });

  /** Fetches a link's href in the page (same origin, no API key) and answers its type and first bytes. */
  const fetchHref = (selector: string) =>
    page.locator(selector).evaluate(async (a: HTMLAnchorElement) => {
      const r = await fetch(a.href);
      const bytes = [...new Uint8Array(await r.arrayBuffer()).slice(0, 12)];
      return { status: r.status, type: r.headers.get('content-type'), bytes, download: a.getAttribute('download'), sameOrigin: new URL(a.href).origin === location.origin };
    });

  it('history: an image preview that decodes, an audio player with its metadata loaded, download links that fetch the files', async () => {
    const historyRequests: string[] = [];
    page.on('request', (r) => historyRequests.push(new URL(r.url()).pathname));
    await page.click('a[href="#/history"]');
    const imageRow = page.locator(`[data-testid=history-row][data-id="${ids.image}"]`);
    await imageRow.waitFor();
    assert.equal(await imageRow.locator('[data-testid=history-outcome]').innerText(), 'completed · charged 5');
    await imageRow.click();
    const img = page.locator('[data-testid=history-result-image]');
    await img.waitFor();
    // Decoded by the browser under the page's CSP: a blocked or broken image has naturalWidth 0.
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('[data-testid=history-result-image]')?.complete);
    assert.equal(await img.evaluate((el: HTMLImageElement) => el.naturalWidth), 96);
    assert.match((await img.getAttribute('src'))!, new RegExp(`^/files/${ids.image}/[^?]+\\?expires=\\d+&sig=[0-9a-f]{64}$`));
    const imageFile = await fetchHref('[data-testid=history-result-download]');
    assert.deepEqual([imageFile.status, imageFile.type, imageFile.sameOrigin], [200, 'image/png', true]);
    assert.deepEqual(imageFile.bytes.slice(0, 8), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    assert.equal(imageFile.download, `generation-${ids.image}.png`);
    await imageRow.click(); // collapse

    const speechRow = page.locator(`[data-testid=history-row][data-id="${ids.speech}"]`);
    await speechRow.click();
    const audio = page.locator('[data-testid=history-result-audio]');
    await audio.waitFor();
    // readyState >= HAVE_METADATA: Chromium fetched and parsed the WAV (fails when blocked or not audio).
    await page.waitForFunction(() => {
      const a = document.querySelector<HTMLAudioElement>('[data-testid=history-result-audio]');
      return !!a && (a.readyState >= 1 || a.error !== null);
    });
    assert.equal(await audio.evaluate((a: HTMLAudioElement) => a.error?.message ?? null), null);
    assert.ok((await audio.evaluate((a: HTMLAudioElement) => a.duration)) > 0, 'the speech has a duration');
    const speechFile = await fetchHref('[data-testid=history-result-download]');
    assert.equal(speechFile.status, 200);
    assert.equal(Buffer.from(speechFile.bytes.slice(0, 4)).toString('latin1'), 'RIFF');
    assert.equal(Buffer.from(speechFile.bytes.slice(8, 12)).toString('latin1'), 'WAVE');
    await speechRow.click();

    const expiredRow = page.locator(`[data-testid=history-row][data-id="${ids.expired}"]`);
    await expiredRow.click();
    await page.locator('[data-testid=history-result-expired]', { hasText: 'The file expired' }).waitFor();
    assert.equal(await page.locator('[data-testid=history-result-image]').count(), 0);
    await page.screenshot({ path: join(ARTIFACTS, 'media-history.png'), fullPage: true });
    // History items carry finish_reason and the file URLs: no request per row.
    assert.deepEqual(
      historyRequests.filter((p) => p.startsWith('/api/v2/generate/')),
      [],
    );
  });

  it('playground: an image model makes an image from the prompt', async () => {
    await page.click('a[href="#/playground"]');
    await page.locator('#pg-model option[value="dall-e-3"]').waitFor({ state: 'attached' });
    await page.selectOption('#pg-model', 'dall-e-3');
    assert.equal(await page.locator('#pg-system').count(), 0, 'no system prompt for an image');
    await page.fill('#pg-prompt', 'a red kite over the sea');
    const calls = images.requests.length;
    await page.click('[data-testid=pg-send]');
    const img = page.locator('[data-testid=pg-result-image]');
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('[data-testid=pg-result-image]')?.complete);
    assert.equal(await img.evaluate((el: HTMLImageElement) => el.naturalWidth), 96);
    assert.equal(await page.locator('[data-testid=stream-state]').innerText(), 'Done');
    assert.equal(images.requests.length, calls + 1);
    assert.equal(images.requests.at(-1)!.json.prompt, 'a red kite over the sea');
    assert.match(await page.locator('[data-testid=output-meta]').innerText(), /5 credits charged/);
    await page.screenshot({ path: join(ARTIFACTS, 'media-playground-image.png'), fullPage: true });
  });

  it('playground: a tts model (espeak, free plan) speaks the text in an audio player', async () => {
    await page.selectOption('#pg-model', 'espeak');
    await page.fill('#pg-prompt', 'The playground can speak.');
    await page.click('[data-testid=pg-send]');
    const audio = page.locator('[data-testid=pg-result-audio]');
    await audio.waitFor();
    await page.waitForFunction(() => {
      const a = document.querySelector<HTMLAudioElement>('[data-testid=pg-result-audio]');
      return !!a && (a.readyState >= 1 || a.error !== null);
    });
    assert.equal(await audio.evaluate((a: HTMLAudioElement) => a.error?.message ?? null), null);
    assert.ok((await audio.evaluate((a: HTMLAudioElement) => a.duration)) > 0);
    const g = await h.server.db.kysely.selectFrom('generations').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    assert.deepEqual([g.model_slug, g.prompt, g.status], ['espeak', 'The playground can speak.', 'completed']);
    await page.screenshot({ path: join(ARTIFACTS, 'media-playground-speech.png'), fullPage: true });
  });

  it('playground: Stop cancels an image job still pending (failed, cancelled, not charged)', async () => {
    await page.selectOption('#pg-model', 'dall-e-3');
    await page.fill('#pg-prompt', 'hold: a picture that never comes');
    const balance = await h.balance(account.id);
    const upstream = images.nextRequest();
    const submitted = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/v2/generate');
    await page.click('[data-testid=pg-send]');
    // The page submits without waiting for the job, so the answer (pending, with the job's id, which
    // Stop needs) comes at once rather than after a wait in which the job could not be stopped.
    assert.equal((await submitted).postDataJSON().wait, 0);
    await upstream;
    await page.locator('button.danger:enabled', { hasText: 'Stop' }).click();
    await page.locator('[data-testid=stream-state]', { hasText: 'Stopped' }).waitFor();
    const id = Number((await page.locator('[data-testid=output-meta] a[href="#/history"]').innerText()).replace('#', ''));
    const g = await settled(h, id, account.key);
    assert.deepEqual([g.status, g.error, g.tokens_spent], ['failed', 'cancelled', 0]);
    assert.equal(await h.balance(account.id), balance, 'the hold was released');
    images.release();
    assert.deepEqual(
      pageErrors.filter((e) => !/status of 401/.test(e)),
      [],
    );
  });

  it('at 390 px the image preview and the audio player stay inside their cards', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const p = await ctx.newPage();
    await p.goto(`${h.url}/dashboard`);
    await p.fill('#api-key', account.key);
    await p.click('button[type=submit]');
    await p.locator('[data-testid=stat-balance]').waitFor();
    await p.click('a[href="#/history"]');
    await p.locator(`[data-testid=history-row][data-id="${ids.image}"]`).click();
    await p.waitForFunction(() => (document.querySelector<HTMLImageElement>('[data-testid=history-result-image]')?.naturalWidth ?? 0) > 0);
    await p.locator(`[data-testid=history-row][data-id="${ids.speech}"]`).click();
    await p.locator('[data-testid=history-result-audio]').waitFor();
    const probe = await p.evaluate(() => ({
      docWidth: document.documentElement.scrollWidth,
      overflowing: [...document.querySelectorAll('.table-wrap, .card, .content, .result-media')].filter((el) => el.scrollWidth > el.clientWidth).map((el) => el.className),
    }));
    assert.ok(probe.docWidth <= 390, `the page is ${probe.docWidth} px wide`);
    assert.deepEqual(probe.overflowing, []);
    await p.screenshot({ path: join(ARTIFACTS, 'media-history-390.png'), fullPage: true });
    await ctx.close();
  });
});
