/**
 * Integration: auto-sizing against REAL PostgreSQL. The workload's query time is set with
 * `pg_sleep`: the limit settles near the Little's-law size, and when the query time is raised 5×
 * mid-run the limit does not grow.
 */
import { pgClientFactory, Pool, silentPoolLogger, type PoolEvent } from '@reservoir/pool';
import type { Client } from 'pg';
import { countBackends, DATABASE_URL, requirePostgres, uniqueAppName } from './helpers/services';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Pool autoSize on PostgreSQL (pg_sleep workload)', () => {
  beforeAll(() => requirePostgres());

  it('settles near the Little-law size, and does not grow when queries become 5x slower', async () => {
    const app = uniqueAppName('autosize');
    const pool = new Pool<Client>({
      name: 'autosize-pg',
      factory: pgClientFactory({ connectionString: DATABASE_URL }, { applicationName: app }),
      max: 40,
      acquireTimeoutMs: 2000,
      maintenanceIntervalMs: 50,
      logger: silentPoolLogger,
      autoSize: { windowMs: 250, decayAfterMs: 1500, decayFactor: 0.5 },
    });
    const resizes: Extract<PoolEvent, { type: 'resize' }>[] = [];
    const sub = pool.events$.subscribe((e) => {
      if (e.type === 'resize') resizes.push(e);
    });
    let querySeconds = 0.02;
    let failures = 0;
    const inflight = new Set<Promise<unknown>>();
    // Open-loop arrivals: about 100 per second whatever the pool does (10 ms apart).
    const arrivals = setInterval(() => {
      const p = pool
        .use((c) => c.query('SELECT pg_sleep($1)', [querySeconds]))
        .catch(() => failures++)
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }, 10);
    try {
      await sleep(6000);
      const healthy = pool.stats();
      const { sizing, autoSize } = healthy;
      // L ≈ 100/s × ~21 ms ≈ 2; the recommendation is ⌈L + 4√L⌉ ≈ 8.
      expect(sizing.baselineHoldMs!).toBeGreaterThanOrEqual(19);
      expect(sizing.baselineHoldMs!).toBeLessThan(40);
      expect(sizing.concurrency!).toBeGreaterThan(1);
      expect(sizing.concurrency!).toBeLessThan(5);
      expect(autoSize!.limit).toBeGreaterThanOrEqual(Math.ceil(sizing.concurrency!));
      expect(autoSize!.limit).toBeLessThanOrEqual(sizing.recommended!);
      expect(resizes.length).toBeGreaterThan(0); // it came down from max 40
      expect(await countBackends(app)).toBeLessThanOrEqual(autoSize!.limit);
      expect(failures).toBe(0);

      // The database becomes 5× slower: demand rises (callers queue), but the hold time is above its
      // baseline, so the limit may only stay or fall.
      const before = autoSize!.limit;
      const since = resizes.length;
      querySeconds = 0.1;
      await sleep(4000);
      const slow = pool.stats();
      expect(slow.holdMs.p95).toBeGreaterThan(90); // the 10 s stats window now holds slow leases
      expect(slow.pending + slow.timeouts).toBeGreaterThan(0); // there was demand to grow for
      const grew = resizes.slice(since).filter((e) => e.to > e.from);
      expect(grew).toEqual([]);
      expect(slow.autoSize!.limit).toBeLessThanOrEqual(before);
      expect(await countBackends(app)).toBeLessThanOrEqual(before);
    } finally {
      clearInterval(arrivals);
      await Promise.allSettled([...inflight]);
      sub.unsubscribe();
      await pool.close();
    }
  }, 60_000);
});
