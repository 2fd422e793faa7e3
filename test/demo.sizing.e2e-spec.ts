/*
 * The dashboard's sizing line, on the built demo over HTTP: with DB_POOL_AUTOSIZE=true the snapshot
 * carries the effective limit (drawn on the utilisation chart), without it the Little's-law
 * recommendation from `stats().sizing`.
 */
import { call, startDemo, waitFor, type DemoProcess } from './demo.process';

async function drive(app: DemoProcess, ms: number): Promise<void> {
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (Date.now() < until) await call(app.url, 'GET', '/projects', { org: 'acme' });
    }),
  );
}

describe('dashboard sizing (built demo, sqlite)', () => {
  it('auto-sizing on: the snapshot and every point carry the effective limit', async () => {
    const app = await startDemo({ DB_POOL_AUTOSIZE: 'true', DB_POOL_MAX: '10' });
    try {
      await drive(app, 1500);
      const snap = await waitFor(
        async () => {
          const r = await call(app.url, 'GET', '/dashboard/snapshot');
          return r.body.points.length >= 2 ? r.body : undefined;
        },
        10_000,
        'two dashboard points',
      );
      const a = snap.snapshot.main.sizing.autoSize;
      expect(a).not.toBeNull();
      expect(a.limit).toBeGreaterThanOrEqual(1);
      expect(a.limit).toBeLessThanOrEqual(10);
      expect(typeof a.reason).toBe('string');
      for (const p of snap.points) {
        expect(p.limit).toBeGreaterThan(0);
        expect(p.limit).toBeLessThanOrEqual(1);
      }
    } finally {
      await app.stop('SIGKILL');
    }
  }, 60_000);

  it('auto-sizing off: no limit line, and a recommendation from measured load', async () => {
    const app = await startDemo({});
    try {
      const body = await waitFor(
        async () => {
          await drive(app, 1200);
          const r = await call(app.url, 'GET', '/dashboard/snapshot');
          return r.body.snapshot?.main.sizing.recommendation.recommended !== null ? r.body : undefined;
        },
        20_000,
        'a sizing recommendation',
      );
      const m = body.snapshot.main;
      expect(m.sizing.autoSize).toBeNull();
      const r = m.sizing.recommendation;
      expect(r.arrivalRatePerSec).toBeGreaterThan(0);
      expect(r.baselineHoldMs).toBeGreaterThan(0);
      expect(r.recommended).toBeGreaterThanOrEqual(m.min);
      expect(body.points.every((p: { limit: unknown }) => p.limit === null)).toBe(true);
    } finally {
      await app.stop('SIGKILL');
    }
  }, 60_000);
});
