// The dashboard end to end in Debian's Chromium (playwright-core): sign in, stream in the
// playground with deltas appearing as they arrive, Stop cancels the upstream request, history
// shows the generation as stopped and charged, key management, the model picker for a free
// account, and the layout at 390 and 1280 px in light and dark. Screenshots go to
// test-artifacts/dashboard/; with UPDATE_DOCS_IMAGES=1 the documented ones also go to docs/images/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { packageRoot } from '../../src/config/env.js';
import { startHarness, type Harness } from '../support/harness.js';
import { serverEvents, untilEvent } from '../support/server-events.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`;
const ARTIFACTS = join(packageRoot(), 'test-artifacts', 'dashboard');
const DOC_IMAGES = process.env.UPDATE_DOCS_IMAGES === '1' ? join(packageRoot(), 'docs', 'images') : null;

/** In the page: what sticks out sideways, and how many rows the tabs take. */
function layoutProbe() {
  const over = (el: Element) => el.scrollWidth > el.clientWidth;
  return {
    docWidth: document.documentElement.scrollWidth,
    overflowing: [...document.querySelectorAll('.table-wrap, .card, .content, .topbar')].filter(over).map((el) => `${el.className}: ${el.scrollWidth} > ${el.clientWidth}`),
    tabRows: new Set([...document.querySelectorAll('.tab')].map((t) => Math.round(t.getBoundingClientRect().top))).size,
    background: getComputedStyle(document.body).backgroundColor,
  };
}

/** Relative luminance (0 black .. 1 white) of a computed `rgb(r, g, b)` colour. */
function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? [])
    .slice(0, 3)
    .map(Number)
    .map((c) => {
      const v = c / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** Rejects instead of hanging when something that must happen does not. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
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
    const seed: [string, number][] = [
      ['gpt-5-nano', 0],
      ['gpt-5', 0],
      ['gpt-5-nano', 1],
      ['gpt-5.2', 1],
      ['gpt-5', 2],
      ['gpt-5-nano', 3],
      ['gpt-5.2', 3],
      ['gpt-5', 4],
      ['gpt-5-nano', 5],
      ['gpt-5', 6],
      ['gpt-5.2', 6],
    ];
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
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
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
    const balance =
      1250 -
      (
        await h.server.db.kysely
          .selectFrom('generations')
          .select((eb) => eb.fn.sum<number>('tokens_spent').as('n'))
          .executeTakeFirstOrThrow()
      ).n;
    assert.equal(await page.locator('[data-testid=header-balance]').innerText(), `${balance.toLocaleString('en-US')} credits`);
    assert.match(await page.locator('[data-testid=stat-balance]').innerText(), /prepaid, priced per request/, 'the unit is named once');
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
    assert.deepEqual(
      upstream.body.messages.map((m: any) => [m.role, typeof m.content === 'string' ? m.content : m.content.map((p: any) => p.text).join('')]),
      [
        ['system', 'You are terse.'],
        ['user', 'Count slowly, please.'],
      ],
    );
    assert.equal(upstream.body.temperature, 1);

    // Settlement: content was delivered, so it is completed, charged, finish_reason client_disconnected.
    // Waits for the settlement: the row is read again at each one the server publishes (server-events.ts).
    const row = async () => h.server.db.kysely.selectFrom('generations').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    const g = await untilEvent(
      [serverEvents.settled],
      async () => {
        const latest = await row();
        return latest.status !== 'pending' && latest;
      },
      'the stopped generation settled',
    );
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
    // completed + finish_reason client_disconnected: shown as stopped, and charged.
    const row = page.locator(`[data-testid=history-row][data-id="${stoppedId}"][data-outcome=stopped]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'completed');
    assert.match(await row.innerText(), /gpt-5-nano[\s\S]*stopped · charged 1[\s\S]*Count slowly, please\.[\s\S]*1/);
    const failed = page.locator('[data-testid=history-row][data-status=failed]');
    assert.equal(await failed.locator('[data-testid=history-outcome]').innerText(), 'failed · not charged');
    const seeded = page.locator('[data-testid=history-row][data-outcome=completed]').first();
    assert.match(await seeded.locator('[data-testid=history-outcome]').innerText(), /^completed · charged \d+$/);
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
    const unfiltered = (u: string) => {
      const q = new URL(u).searchParams;
      return !q.has('status') && !q.has('model_slug');
    };
    const historyUrl = (u: URL) => u.pathname === '/api/v2/user/history';
    await page.route(historyUrl, async (route) => {
      if (unfiltered(route.request().url())) {
        staleArrived();
        await staleHeld;
      }
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

  /** A fresh browser context (viewport, colour scheme) signed in with `key`. */
  const contexts: BrowserContext[] = [];
  async function openAs(key: string, width: number, colorScheme: 'light' | 'dark'): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width, height: width < 600 ? 844 : 800 }, colorScheme });
    contexts.push(ctx);
    const p = await ctx.newPage();
    p.on('pageerror', (e) => pageErrors.push(e.message));
    p.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await p.goto(`${h.url}/dashboard`);
    await p.fill('#api-key', key);
    await p.click('button[type=submit]');
    await p.locator('[data-testid=stat-balance]').waitFor();
    return p;
  }
  async function snap(p: Page, name: string) {
    await p.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
    if (DOC_IMAGES) await p.screenshot({ path: join(DOC_IMAGES, `${name}.png`) });
  }

  it('a free account sees plan-locked and unavailable models marked and disabled before Send', async () => {
    const free = await h.account({ plan: 'free', tokens: 10 });
    const p = await openAs(free.key, 390, 'light');
    await p.click('a[href="#/playground"]');
    await p.locator('#pg-model option[value="gpt-5"]').waitFor({ state: 'attached' });
    const opt = (slug: string) => p.locator(`#pg-model option[value="${slug}"]`);
    // gpt-5 needs the basic plan: disabled, and says so.
    assert.equal(await opt('gpt-5').isDisabled(), true);
    assert.equal(await opt('gpt-5').getAttribute('data-lock'), 'plan');
    assert.match(await opt('gpt-5').innerText(), /2 credits · needs the basic plan/);
    // No Anthropic key on this gateway: disabled with the reason.
    assert.equal(await opt('claude-haiku-4.5').isDisabled(), true);
    assert.equal(await opt('claude-haiku-4.5').getAttribute('data-lock'), 'unavailable');
    const haiku = (await h.get('/api/v2/models/claude-haiku-4.5')).json;
    assert.equal(haiku.available, false);
    assert.ok((await opt('claude-haiku-4.5').innerText()).endsWith(`· ${haiku.unavailable_reason || 'not configured on this gateway'}`));
    // A model the plan allows is selectable and chosen by default; Send is usable.
    assert.equal(await opt('gpt-5-nano').isDisabled(), false);
    assert.equal(await p.locator('#pg-model').inputValue(), 'gpt-5-nano');
    const groups = await p.locator('#pg-model optgroup').evaluateAll((gs) => gs.map((g) => g.getAttribute('label')));
    assert.deepEqual(groups, ['Available on your plan', 'Needs a higher plan', 'Unavailable on this gateway']);
    assert.match(await p.locator('[data-testid=model-note]').innerText(), /1 credit per request · free plan and up · Your plan: free/i);
    await p.fill('#pg-prompt', 'Hello');
    assert.equal(await p.locator('button:has-text("Send")').isEnabled(), true);
    // The server agrees with the picker: the locked model is refused for this account.
    const refused = await h.post('/api/v2/generate', { model: 'gpt-5', prompt: 'x' }, free.key);
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error, 'insufficient_plan');
    assert.deepEqual(await p.evaluate(layoutProbe).then((l) => [l.docWidth <= 390, l.overflowing]), [true, []]);
    await snap(p, 'dashboard-playground-390-light');
  });

  for (const [width, scheme] of [
    [390, 'light'],
    [390, 'dark'],
    [1280, 'light'],
    [1280, 'dark'],
  ] as const) {
    it(`at ${width} px, ${scheme}: no view overflows sideways, tabs on one line, ${width < 600 ? 'tables as cards' : 'tables'}`, async () => {
      const p = await openAs(account.key, width, scheme);
      const views: [string, string][] = [
        ['overview', '[data-testid=usage-chart] canvas'],
        ['playground', '#pg-model option[value="gpt-5-nano"]'],
        ['history', `[data-testid=history-row][data-id="${stoppedId}"][data-outcome=stopped]`],
        ['keys', '[data-testid=key-row]'],
      ];
      for (const [view, ready] of views) {
        await p.click(`a[href="#/${view}"]`);
        await p.locator(ready).first().waitFor({ state: 'attached' });
        const l = await p.evaluate(layoutProbe);
        assert.ok(l.docWidth <= width, `${view}: the page is ${l.docWidth} px wide in a ${width} px viewport`);
        assert.deepEqual(l.overflowing, [], `${view}: nothing overflows its box`);
        assert.equal(l.tabRows, 1, `${view}: the tabs stay on one line`);
        const lum = luminance(l.background);
        if (scheme === 'dark') assert.ok(lum < 0.05, `dark background, got ${l.background}`);
        else assert.ok(lum > 0.8, `light background, got ${l.background}`);
        if (view === 'overview') await snap(p, `dashboard-overview-${width}-${scheme}`);
        if (view === 'keys') await p.screenshot({ path: join(ARTIFACTS, `keys-${width}-${scheme}.png`) });
        if (view === 'history') {
          const row = p.locator(`[data-testid=history-row][data-id="${stoppedId}"]`);
          assert.equal(await row.locator('[data-testid=history-outcome]').innerText(), 'stopped · charged 1');
          // Narrow: the header row is hidden and every row is a card of labelled cells.
          const display = await p.locator('[data-testid=history-table] thead').evaluate((el) => getComputedStyle(el).display);
          assert.equal(display, width < 600 ? 'none' : 'table-header-group');
          await snap(p, `dashboard-history-${width}-${scheme}`);
        }
      }
      await p.context().close();
    });
  }

  it('signs out: the key leaves sessionStorage; no errors in the page', async () => {
    await page.click('button:has-text("Sign out")');
    await page.locator('[data-testid=signin-form]').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('lumengate.apiKey')), null);
    assert.deepEqual(
      pageErrors.filter((e) => !/status of 401/.test(e)),
      [],
    );
  });
});
