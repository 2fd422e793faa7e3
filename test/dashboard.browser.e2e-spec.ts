/**
 * Real browser test of /dashboard: Debian's headless Chromium driven by playwright-core,
 * against the BUILT demo on its embedded SQLite database. Saves docs/dashboard.png for the README.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { type DemoProcess, call, startDemo } from './demo.process';

jest.setTimeout(90_000);

const CHROMIUM = '/usr/bin/chromium';
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

interface DashboardApi {
  points(): number;
  state(): string | null;
  maxUtilization(sinceMs: number): number;
}
declare const window: { reservoirDashboard: DashboardApi };
declare const document: {
  querySelector(s: string): { textContent: string | null; getAttribute(a: string): string | null } | null;
  querySelectorAll(s: string): { length: number };
};

describe('dashboard in headless Chromium (e2e)', () => {
  let app: DemoProcess;
  let context: BrowserContext;
  let page: Page;
  const profile = mkdtempSync(join(tmpdir(), 'reservoir-chromium-'));

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}; install it with: apt-get update && apt-get install -y chromium`,
      );
    }
    app = await startDemo({ POOL_HEALTH_WINDOW_MS: '3000', PRICING_LOAD_MS: '150' });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1440, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    await app?.stop();
    rmSync(profile, { recursive: true, force: true });
  });

  const badge = () => page.locator('#health-badge').textContent();

  it('shows a live chart and a HEALTHY badge', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => {
      if (!r.url().includes('/dashboard/stream')) errors.push(`${r.url()} ${r.failure()?.errorText}`);
    });
    await page.goto(`${app.url}/dashboard`);
    await page.waitForFunction(() => window.reservoirDashboard.points() >= 3, undefined, { timeout: 10_000 });
    expect(await badge()).toBe('HEALTHY');
    expect(await page.locator('#health-badge').getAttribute('data-state')).toBe('HEALTHY');
    expect(Number(await page.locator('#util-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#util-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#conn').textContent()).toBe('live');
    // The slow pricing table was preloaded: it is listed with its version.
    await page.waitForFunction(() => document.querySelectorAll('#lazy tbody tr').length >= 1, undefined, {
      timeout: 5000,
    });
    expect(await page.locator('#lazy tbody').textContent()).toContain('PricingService.table');
    expect(errors).toEqual([]);
  });

  it('turns DEGRADED/UNHEALTHY under POST /demo/load, the chart moves, then it is HEALTHY again', async () => {
    const t0 = Date.now();
    const points0 = await page.evaluate(() => window.reservoirDashboard.points());
    const res = await call(app.url, 'POST', '/demo/load', {
      body: { tenants: 4, concurrency: 12, durationMs: 5000, holdMs: 200 },
    });
    expect(res.status).toBe(202);

    await page.waitForFunction(
      () => ['DEGRADED', 'UNHEALTHY'].includes(document.querySelector('#health-badge')?.textContent ?? ''),
      undefined,
      { timeout: 8000, polling: 100 },
    );
    await page.waitForFunction((since) => window.reservoirDashboard.maxUtilization(since) >= 0.7, t0, {
      timeout: 8000,
    });
    expect(await page.evaluate(() => window.reservoirDashboard.points())).toBeGreaterThan(points0);
    // Per-tenant share of leases is drawn for the load's organisations.
    await page.waitForFunction(() => document.querySelectorAll('#tenants .row').length >= 4, undefined, {
      timeout: 5000,
    });

    await page.waitForFunction(
      () => document.querySelector('#health-badge')?.textContent === 'HEALTHY',
      undefined,
      {
        timeout: 25_000,
        polling: 250,
      },
    );
    // Refresh the pricing table so the lazy panel shows a version above 1, then the screenshot.
    expect((await call(app.url, 'POST', '/pricing/refresh', { org: 'acme' })).body.version).toBe(2);
    await page.waitForFunction(
      () => (document.querySelector('#lazy tbody')?.textContent ?? '').includes('v2'),
      undefined,
      {
        timeout: 5000,
      },
    );
    await page.waitForTimeout(2500);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });

  it('survives a reconnect: the server restarts on the same port, the page re-syncs and stays live', async () => {
    const port = new URL(app.url).port;
    await app.stop();
    await page.waitForFunction(
      () => document.querySelector('#conn')?.getAttribute('data-state') === 'reconnecting',
      undefined,
      { timeout: 10_000 },
    );
    app = await startDemo({ PORT: port, POOL_HEALTH_WINDOW_MS: '3000', PRICING_LOAD_MS: '150' });
    // EventSource reconnects by itself; the new process (another boot id) sends its full history.
    await page.waitForFunction(
      () => document.querySelector('#conn')?.getAttribute('data-state') === 'live',
      undefined,
      {
        timeout: 15_000,
      },
    );
    const after = await page.evaluate(() => window.reservoirDashboard.points());
    await page.waitForFunction((n) => window.reservoirDashboard.points() >= n + 2, after, {
      timeout: 10_000,
    });
    expect(await badge()).toBe('HEALTHY');
  });
});
