/**
 * Real browser test of /dashboard: Debian's headless Chromium driven by playwright-core, against the
 * BUILT demo on its embedded SQLite database (Jest's global setup installs Chromium when it is
 * missing and builds the demo). Every test fails on a console error, a page error, a failed request,
 * an HTTP error answer or a request to another origin (no CDN), except the ones a step provokes on
 * purpose. Saves docs/dashboard.png.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { findOnPath } from '../scripts/test-prepare.cjs';
import { type DemoProcess, call, startDemo } from './demo.process';
import { makeTempDir, removeTempDir } from './helpers/tmp';

jest.setTimeout(120_000);

const CHROMIUM = findOnPath('chromium', process.env.PATH) ?? '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = resolve(__dirname, '..', 'docs', 'dashboard.png');
/** Short health window so the wait cards empty soon after a run (the demo default is 10 s). */
const DEMO_ENV = { POOL_HEALTH_WINDOW_MS: '3000', PRICING_LOAD_MS: '150' };

interface DashboardApi {
  points(): number;
  boot(): string | null;
  state(): string | null;
  stateLog(): Array<{ t: number; state: string }>;
  formatTime(sec: number): string;
  maxUtilization(sinceMs: number): number;
}
declare const window: { reservoirDashboard: DashboardApi; innerWidth: number };
declare const document: {
  documentElement: { scrollWidth: number };
  body: { scrollWidth: number };
  getElementById(id: string): { requestSubmit(): void } | null;
  querySelector(s: string): {
    textContent: string | null;
    getAttribute(a: string): string | null;
    disabled?: boolean;
  } | null;
  querySelectorAll(s: string): { length: number };
};

/** Distinct consecutive states, e.g. H H D U U H → H D U H. */
function changes(log: Array<{ state: string }>): string[] {
  return log.map((e) => e.state).filter((s, i, all) => i === 0 || all[i - 1] !== s);
}

/** Whether `wanted` occurs in `seq` in order (other states may come between). */
function inOrder(seq: string[], wanted: string[]): boolean {
  let i = 0;
  for (const s of seq) if (s === wanted[i]) i++;
  return i === wanted.length;
}

describe('dashboard in headless Chromium (e2e)', () => {
  let app: DemoProcess;
  let context: BrowserContext;
  let page: Page;
  const profile = makeTempDir('reservoir-chromium');
  /** What went wrong in the browser during the current test. */
  const problems: string[] = [];
  /** Problems the current step provokes on purpose. */
  let expected: (problem: string) => boolean = () => false;

  function watch(p: Page): void {
    const report = (problem: string) => {
      if (!expected(problem)) problems.push(problem);
    };
    p.on('console', (m) => {
      if (m.type() === 'error') report(`console error: ${m.text()} (at ${m.location().url})`);
    });
    p.on('pageerror', (e) => report(`page error: ${String(e)}`));
    p.on('requestfailed', (r) => report(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    p.on('response', (r) => {
      if (r.status() >= 400) report(`HTTP ${r.status()} from ${r.url()}`);
    });
    p.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith(`${app.url}/`) && !url.startsWith('data:'))
        report(`request to another origin: ${url}`);
    });
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      // The global setup installs it or stops the run first; this only guards a direct misuse.
      throw new Error(`Chromium is not installed at ${CHROMIUM}; run: node scripts/test-prepare.cjs tools`);
    }
    app = await startDemo(DEMO_ENV);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1440, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    watch(page);
  });

  afterEach(() => {
    expected = () => false;
    expect(problems.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    expected = () => true; // closing pages aborts their streams
    try {
      await context?.close();
      await app?.stop();
    } finally {
      removeTempDir(profile);
    }
  });

  const badge = () => page.locator('#health-badge').textContent();

  it('shows a live chart and a HEALTHY badge, serves its favicon, loads nothing from elsewhere', async () => {
    await page.goto(`${app.url}/dashboard`);
    await page.waitForFunction(() => window.reservoirDashboard.points() >= 3, undefined, { timeout: 10_000 });
    expect(await badge()).toBe('HEALTHY');
    expect(await page.locator('#health-badge').getAttribute('data-state')).toBe('HEALTHY');
    expect(Number(await page.locator('#util-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#util-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#conn').textContent()).toBe('live');
    // Auto-sizing is off in the demo's default: the sizing line gives the recommendation instead.
    expect(await page.locator('#sizing').getAttribute('data-mode')).toBe('advice');
    expect(await page.locator('#sizing').textContent()).toContain('auto-sizing off');
    // The limit series is on the chart's legend (empty while auto-sizing is off).
    expect(await page.locator('#util-chart .u-legend').textContent()).toContain('auto-size limit');
    // The slow pricing table was preloaded: it is listed with its version.
    await page.waitForFunction(() => document.querySelectorAll('#lazy tbody tr').length >= 1, undefined, {
      timeout: 5000,
    });
    expect(await page.locator('#lazy tbody').textContent()).toContain('PricingService.table');
    // Labels: the lifetime timeout count says what it is; the wait cards say they are a window.
    expect(await page.locator('#c-timeouts').locator('xpath=..').textContent()).toContain(
      'acquire timeouts since start',
    );
    expect(await page.locator('#c-p99').locator('xpath=..').textContent()).toContain('p99, last 3 s');
    // The icon the page links to, and the /favicon.ico every browser asks any page of the origin for.
    for (const path of ['/favicon.ico', '/dashboard/assets/favicon.svg']) {
      const res = await page.request.get(`${app.url}${path}`);
      expect({ path, status: res.status(), type: res.headers()['content-type'] }).toEqual({
        path,
        status: 200,
        type: 'image/svg+xml',
      });
    }
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).toBe('/dashboard/assets/favicon.svg');
  });

  it('default "Start load": HEALTHY → DEGRADED → UNHEALTHY → HEALTHY, Start disabled, a 409 shown', async () => {
    const t0 = Date.now();
    const logStart = (await page.evaluate(() => window.reservoirDashboard.stateLog())).length;
    const points0 = await page.evaluate(() => window.reservoirDashboard.points());
    expect(await badge()).toBe('HEALTHY');

    // The user's path: the form as it is (empty fields = the server's defaults), one click.
    expect(await page.locator('#load-start').isDisabled()).toBe(false);
    await page.locator('#load-start').click();
    await page.waitForFunction(() => document.querySelector('#load-start')?.disabled === true, undefined, {
      timeout: 2000,
    });
    // The page's own POST answered 202 (a second submit while it is in flight is ignored).
    await page.waitForFunction(
      () => /^(started|running):/.test(document.querySelector('#load-status')?.textContent ?? ''),
      undefined,
      { timeout: 5000 },
    );
    const status = await call(app.url, 'GET', '/demo/load');
    expect(status.body).toMatchObject({ running: true, concurrency: 12, tenants: 4, durationMs: 12_000 });
    expect(status.body.ramp.map((s: { workers: number }) => s.workers)).toEqual([4, 9, 12]);

    // A second start (another tab, or a click the page had no sample for yet) is a 409, and the page says so.
    expect((await call(app.url, 'POST', '/demo/load', { body: {} })).status).toBe(409);
    expected = (p) => p.includes('/demo/load') && p.includes('409');
    await page.evaluate(() => document.getElementById('load-form')?.requestSubmit());
    await page.waitForFunction(
      () => (document.querySelector('#load-error')?.textContent ?? '') !== '',
      undefined,
      {
        timeout: 5000,
      },
    );
    expect(await page.locator('#load-error').textContent()).toMatch(
      /^409 Conflict: a load run is already going until .*; DELETE \/demo\/load stops it$/,
    );
    expect(await page.locator('#load-start').isDisabled()).toBe(true);
    expected = () => false;

    // Per-organisation leases, in use now (against the cap when there is one), for the load's organisations.
    await page.waitForFunction(
      () => document.querySelectorAll('#tenants .row .held').length >= 4,
      undefined,
      {
        timeout: 5000,
      },
    );
    const cap: number | null = (await call(app.url, 'GET', '/dashboard/snapshot')).body.snapshot.main
      .maxPerTenant;
    for (const h of await page.locator('#tenants .row .held').allTextContents()) {
      expect(h).toMatch(cap === null ? /^\d+$/ : new RegExp(`^\\d+ / ${cap}$`));
    }
    expect(await page.locator('#tenant-cap').textContent()).toMatch(
      cap === null ? /^no per-organisation cap/ : new RegExp(`at most ${cap} of 10 connections`),
    );
    await page.waitForFunction((since) => window.reservoirDashboard.maxUtilization(since) >= 0.7, t0, {
      timeout: 15_000,
    });

    // The whole story, as the badge showed it.
    const story = async () =>
      changes((await page.evaluate(() => window.reservoirDashboard.stateLog())).slice(logStart - 1));
    await page
      .waitForFunction(
        (from) => {
          const seq = window.reservoirDashboard
            .stateLog()
            .slice(from)
            .map((e) => e.state);
          const want = ['DEGRADED', 'UNHEALTHY', 'HEALTHY'];
          let i = 0;
          for (const s of seq) if (s === want[i]) i++;
          return i === want.length;
        },
        logStart,
        { timeout: 40_000, polling: 250 },
      )
      .catch(async (err: Error) => {
        throw new Error(`${err.message}; the badge showed: ${(await story()).join(' → ')}`, { cause: err });
      });
    const seen = await story();
    expect(seen[0]).toBe('HEALTHY');
    expect(inOrder(seen, ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'HEALTHY'])).toBe(true);
    expect(await page.evaluate(() => window.reservoirDashboard.points())).toBeGreaterThan(points0);

    // The run is over: Start is enabled again, and the 409 about that run is gone.
    await page.waitForFunction(() => document.querySelector('#load-start')?.disabled === false, undefined, {
      timeout: 5000,
    });
    expect(await page.locator('#load-error').textContent()).toBe('');

    // The wait cards show the window, and once a window passes with no acquires: no data, not the last p99.
    await page.waitForFunction(
      () => document.querySelector('#c-p99')?.getAttribute('data-empty') === 'true',
      undefined,
      { timeout: 10_000 },
    );
    expect(await page.locator('#c-p99').textContent()).toBe('no data');
    expect(await page.locator('#c-p95').textContent()).toBe('no data');

    // Legends format time like the axes: hover a point and read the legend's time.
    const box = await page.locator('#util-chart .u-over').boundingBox();
    if (!box) throw new Error('no chart overlay');
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
    const legendTime =
      (await page.locator('#util-chart .u-legend .u-series').first().locator('.u-value').textContent()) ?? '';
    expect(legendTime).toMatch(/^\d\d:\d\d:\d\d$/);
    const axisLike = await page.evaluate(() => window.reservoirDashboard.formatTime(Date.now() / 1000));
    expect(axisLike).toMatch(/^\d\d:\d\d:\d\d$/);
    await page.mouse.move(0, 0);

    // Refresh the pricing table so the lazy panel shows a version above 1, then the screenshot.
    expect((await call(app.url, 'POST', '/pricing/refresh', { org: 'acme' })).body.version).toBe(2);
    await page.waitForFunction(
      () => (document.querySelector('#lazy tbody')?.textContent ?? '').includes('v2'),
      undefined,
      { timeout: 5000 },
    );
    await page.waitForTimeout(1500);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });

  it('fits a 390 px wide phone screen without horizontal scrolling', async () => {
    const phone = await context.newPage();
    watch(phone);
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(`${app.url}/dashboard`);
      await phone.waitForFunction(() => window.reservoirDashboard.points() >= 3, undefined, {
        timeout: 10_000,
      });
      // Everything drawn: the lazy table, the per-organisation rows from the load run, the pools table.
      await phone.waitForFunction(
        () =>
          document.querySelectorAll('#lazy tbody tr').length >= 2 &&
          document.querySelectorAll('#tenants .row').length >= 4 &&
          document.querySelectorAll('#pools tbody tr').length >= 1,
        undefined,
        { timeout: 5000 },
      );
      const widths = await phone.evaluate(() => ({
        inner: window.innerWidth,
        doc: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
      }));
      expect(widths.inner).toBe(390);
      expect(widths.doc).toBeLessThanOrEqual(widths.inner);
      expect(widths.body).toBeLessThanOrEqual(widths.inner);
    } finally {
      expected = (p) => p.includes('/dashboard/stream'); // closing the page ends its stream
      await phone.close();
    }
  });

  it('survives a reconnect: the server restarts on the same port, the page re-syncs and stays live', async () => {
    const port = new URL(app.url).port;
    const oldBoot = await page.evaluate(() => window.reservoirDashboard.boot());
    // While the server is down, the stream's reconnect attempts fail: that is what this test is about.
    expected = (p) => p.includes('/dashboard/stream') || p.includes('ERR_CONNECTION_REFUSED');
    await app.stop();
    await page.waitForFunction(
      () => document.querySelector('#conn')?.getAttribute('data-state') === 'reconnecting',
      undefined,
      { timeout: 10_000 },
    );
    app = await startDemo({ ...DEMO_ENV, PORT: port });
    // EventSource reconnects by itself; the new process (another boot id) sends its full history,
    // and the page starts its points over from it.
    await page.waitForFunction(
      (before) =>
        document.querySelector('#conn')?.getAttribute('data-state') === 'live' &&
        window.reservoirDashboard.boot() !== before,
      oldBoot,
      { timeout: 15_000 },
    );
    expected = () => false;
    const after = await page.evaluate(() => window.reservoirDashboard.points());
    await page.waitForFunction((n) => window.reservoirDashboard.points() >= n + 2, after, {
      timeout: 10_000,
    });
    expect(await badge()).toBe('HEALTHY');
  });
});
