// The dashboard end to end in Debian's Chromium (playwright-core): sign in, stream in the
// playground with deltas appearing as they arrive, Stop cancels the upstream request, history
// shows the generation, key management. Screenshots go to test-artifacts/dashboard/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packageRoot } from '../../src/config/env.js';
import { startHarness, sleep, type Harness } from '../support/harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`;
const ARTIFACTS = join(packageRoot(), 'test-artifacts', 'dashboard');

/** Rejects instead of hanging when something that must happen does not. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); })]).finally(() => clearTimeout(timer));
}

describe('dashboard in Chromium', { skip }, () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;
  let account: { id: number; key: string };
  const pageErrors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    h = await startHarness();
    account = await h.account({ tokens: 1000, packageTokens: 250 });
    // History over the last week on three models, and one failure, so the chart and filters have data.
    const seed: [string, number][] = [['gpt-5-nano', 0], ['gpt-5', 0], ['gpt-5-nano', 1], ['gpt-5.2', 1], ['gpt-5', 2], ['gpt-5-nano', 3], ['gpt-5.2', 3], ['gpt-5', 4], ['gpt-5-nano', 5], ['gpt-5', 6], ['gpt-5.2', 6]];
    for (const [i, [model, daysAgo]] of seed.entries()) {
      const r = await h.post('/api/v2/generate', { model, prompt: `Seed question ${i + 1}` }, account.key);
      assert.equal(r.status, 200, r.text);
      const at = new Date(Date.now() - daysAgo * 86_400_000).toISOString();
      await h.server.db.kysely.updateTable('generations').set({ created_at: at }).where('id', '=', r.json.id).execute();
    }
    h.fake.respondWith({ status: 500 });
    assert.equal((await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'This one fails upstream' }, account.key)).status, 500);
    h.fake.respondWith({});

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Every wait below is for an element or an event; this is only the ceiling before one counts as
    // never happening, generous because the machine's cores may be busy with other work.
    page.setDefaultTimeout(90_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it('redirects / to /dashboard, refuses a bad key, signs in with a good one (sessionStorage only)', async () => {
    const res = await page.goto(`${h.url}/`);
    assert.equal(new URL(page.url()).pathname, '/dashboard');
    assert.match(res!.headers()['content-security-policy'] ?? '', /script-src 'self'/, 'the page runs under the strict CSP');
    await page.fill('#api-key', 'nb_notARealKey0000000000000000000000000000000000');
    await page.click('button[type=submit]');
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();

    await page.fill('#api-key', account.key);
    await page.click('button[type=submit]');
    await page.locator('[data-testid=stat-balance]').waitFor();
    const balance = 1250 - (await h.server.db.kysely.selectFrom('generations').select((eb) => eb.fn.sum<number>('tokens_spent').as('n')).executeTakeFirstOrThrow()).n;
    assert.equal(await page.locator('[data-testid=header-balance]').innerText(), `${balance.toLocaleString('en-US')} tokens`);
    assert.match(await page.locator('[data-testid=stat-limits]').innerText(), /60\s*\/ hour[\s\S]*500 requests per day/);
    assert.match(await page.locator('[data-testid=stat-plan]').innerText(), /pro/i);
    const storage = await page.evaluate(() => ({ session: sessionStorage.getItem('lumengate.apiKey'), local: localStorage.length }));
    assert.deepEqual(storage, { session: account.key, local: 0 });
    assert.ok(!page.url().includes(account.key), 'the key is never in a URL');

    await page.locator('[data-testid=usage-chart] canvas').waitFor();
    const totals = await page.locator('[data-testid=usage-totals]').innerText();
    for (const m of ['gpt-5-nano', 'gpt-5', 'gpt-5.2']) assert.ok(totals.includes(m), `${m} in the usage totals`);
    await shot('01-overview');
  });

  let stoppedId: number;
  it('streams in the playground as deltas arrive, and Stop cancels the upstream request', async () => {
    const chunks = Array.from({ length: 60 }, (_, i) => `word${i} `);
    // Eight words 200 ms apart, then the upstream holds the rest until Stop has closed it: the answer
    // cannot finish by itself before Stop, however slow the browser is on a busy machine.
    let release!: () => void;
    h.fake.respondWith({ chunks, delayMs: 200, holdAfter: { writes: 8, until: new Promise<void>((r) => (release = r)) } });
    const upstreamBefore = h.fake.requests.length;
    await page.click('a[href="#/playground"]');
    await page.selectOption('#pg-model', 'gpt-5-nano');
    await page.fill('#pg-system', 'You are terse.');
    // 0.7 -> 1.0 with the keyboard, as a user would.
    for (let i = 0; i < 3; i++) await page.press('#pg-temperature', 'ArrowRight');
    await page.fill('#pg-prompt', 'Count slowly, please.');
    await page.click('button:has-text("Send")');

    const output = page.locator('[data-testid=output]');
    await page.waitForFunction(() => document.querySelector('[data-testid=output]')?.textContent?.includes('word1 '));
    const early = await output.innerText();
    const upstream = h.fake.requests[upstreamBefore]!;
    assert.ok(!early.includes('word59'), 'the first deltas are on screen long before the last one is sent');
    assert.equal(upstream.closedAt, undefined, 'the upstream is still streaming');
    await page.waitForFunction(() => document.querySelector('[data-testid=output]')?.textContent?.includes('word4 '));
    const later = await output.innerText();
    assert.ok(later.length > early.length && later.startsWith(early.trimEnd()), 'more deltas appended while streaming');
    assert.equal(await page.locator('[data-testid=stream-state]').innerText(), 'Streaming…');
    await shot('02-playground-streaming');

    await page.click('button:has-text("Stop")');
    await within(upstream.closed, 90_000, 'the upstream connection closes after Stop').finally(release);
    await page.locator('[data-testid=stream-state]', { hasText: 'Stopped' }).waitFor();
    const final = await output.innerText();
    assert.ok(!final.includes('word59'), 'the answer was cut short');

    // What the upstream was asked: the system prompt, the message and the temperature from the UI.
    assert.equal(upstream.body.model, 'gpt-5-nano');
    assert.deepEqual(upstream.body.messages.map((m: any) => [m.role, typeof m.content === 'string' ? m.content : m.content.map((p: any) => p.text).join('')]), [['system', 'You are terse.'], ['user', 'Count slowly, please.']]);
    assert.equal(upstream.body.temperature, 1);

    // Settlement: content was delivered, so it is completed, charged, finish_reason client_disconnected.
    // Waits for the settlement (an event in the database), polling; no fixed wait.
    const row = async () => h.server.db.kysely.selectFrom('generations').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    for (let i = 0; i < 600 && (await row()).status === 'pending'; i++) await sleep(50);
    const g = await row();
    // The upstream connection is closed and the generation settled: whatever is on screen now is final.
    assert.equal(await output.innerText(), final, 'nothing arrives after Stop');
    assert.equal(g.prompt, 'Count slowly, please.');
    assert.equal(g.status, 'completed');
    assert.equal(g.finish_reason, 'client_disconnected');
    assert.equal(g.tokens_spent, 1);
    assert.ok(g.result_text && final.startsWith(g.result_text.trimEnd().slice(0, 20)), 'what was shown is what was kept');
    assert.deepEqual(await h.ledgerMismatches(), []);
    stoppedId = g.id;
    await shot('03-playground-stopped');
  });

  it('history shows the stopped generation, and the filters narrow the list', async () => {
    await page.click('a[href="#/history"]');
    const row = page.locator(`[data-testid=history-row][data-id="${stoppedId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'completed');
    assert.match(await row.innerText(), /gpt-5-nano[\s\S]*completed[\s\S]*Count slowly, please\.[\s\S]*1/);
    await row.click();
    await page.locator('tr.detail', { hasText: 'word0' }).waitFor();
    await shot('04-history');

    await page.selectOption('select[name=status]', 'failed');
    await page.locator('[data-testid=history-row][data-status=failed]').first().waitFor();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=history-row]')].every((r) => r.getAttribute('data-status') === 'failed'));
    assert.equal(await page.locator('[data-testid=history-row]').count(), 1);

    // Two quick filter changes whose answers arrive out of order (the first is held back until the
    // second is on screen): the list must show the answer to the latest filters, not the last to arrive.
    let releaseStale!: () => void;
    const staleHeld = new Promise<void>((r) => (releaseStale = r));
    let staleArrived!: () => void;
    const staleRequest = new Promise<void>((r) => (staleArrived = r));
    const unfiltered = (u: string) => { const q = new URL(u).searchParams; return !q.has('status') && !q.has('model_slug'); };
    const historyUrl = (u: URL) => u.pathname === '/api/v2/user/history';
    await page.route(historyUrl, async (route) => {
      if (unfiltered(route.request().url())) { staleArrived(); await staleHeld; }
      await route.continue();
    });
    const staleResponse = page.waitForResponse((r) => r.url().includes('/api/v2/user/history') && unfiltered(r.url()));
    await page.selectOption('select[name=status]', '');
    await staleRequest;
    await page.selectOption('select[name=model]', 'gpt-5.2');
    const onlyGpt52 = () => {
      const rows = [...document.querySelectorAll('[data-testid=history-row]')];
      return rows.length === 3 && rows.every((r) => r.textContent?.includes('gpt-5.2'));
    };
    await page.waitForFunction(onlyGpt52);
    releaseStale();
    await (await staleResponse).finished();
    // Two animation frames: the page has handled the late answer (and rendered, had it used it).
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.ok(await page.evaluate(onlyGpt52), 'a late answer to older filters did not replace the list');
    await page.unroute(historyUrl);
  });

  it('creates a key (shown once, works), and revokes it', async () => {
    await page.click('a[href="#/keys"]');
    await page.locator('[data-testid=key-row]').first().waitFor();
    await page.fill('input[aria-label="New key name"]', 'laptop');
    await page.click('button:has-text("Create key")');
    const secret = await page.locator('[data-testid=new-key-secret]').innerText();
    assert.match(secret, /^nb_[0-9A-Za-z]{45}$/);
    assert.equal((await h.get('/api/v2/user/me', secret)).status, 200, 'the new key works');
    const laptop = page.locator('[data-testid=key-row][data-name=laptop]');
    await laptop.waitFor();
    await shot('05-keys');

    await laptop.locator('button:has-text("Revoke")').click();
    await laptop.locator('button:has-text("Confirm revoke")').click();
    await laptop.waitFor({ state: 'detached' });
    assert.equal((await h.get('/api/v2/user/me', secret)).status, 401, 'the revoked key is refused');
    assert.equal(await page.locator('[data-testid=key-row]').count(), 1);
  });

  it('signs out: the key leaves sessionStorage; no errors in the page', async () => {
    await page.click('button:has-text("Sign out")');
    await page.locator('[data-testid=signin-form]').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('lumengate.apiKey')), null);
    assert.deepEqual(pageErrors.filter((e) => !/status of 401/.test(e)), []);
  });
});
