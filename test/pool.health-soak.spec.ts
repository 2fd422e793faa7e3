/**
 * Health a readiness probe can trust, against real PostgreSQL:
 * - a steady, saturated soak (more callers than connections, no acquire timeout), several times
 *   `failingAfterMs` long, never makes the indicator's rule (`health().failing`) report down;
 * - a silent partition (a fault proxy that drops every byte and never resets) bounds every request
 *   and turns `failing` on within 2 s; healing the network brings it back.
 * SOAK_MS sets the soak length (default 20 s in CI).
 */
import { Pool, pgClientFactory } from '@reservoir/pool';
import type { Client } from 'pg';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy';
import { DATABASE_URL, requirePostgres, uniqueAppName } from './helpers/services';

const SOAK_MS = Number(process.env.SOAK_MS ?? 20_000);
jest.setTimeout(SOAK_MS + 60_000);

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const pgUrl = new URL(DATABASE_URL);

describe('pool health with real PostgreSQL', () => {
  beforeAll(() => requirePostgres());

  it(`a steady saturated soak (${SOAK_MS} ms) is never reported failing and has no timeouts`, async () => {
    const pool = new Pool<Client>({
      name: 'soak',
      factory: pgClientFactory(DATABASE_URL, { applicationName: uniqueAppName('pool_soak') }),
      max: 5,
      acquireTimeoutMs: 5000,
      maintenanceIntervalMs: 200,
      // A soak several times failingAfterMs long: saturation alone, however long, is not failing.
      health: { failingAfterMs: Math.min(5_000, SOAK_MS / 4) },
      logger: quiet,
    });
    let stop = false;
    let done = 0;
    let failingProbes = 0;
    let probes = 0;
    let unhealthyProbes = 0;
    const probe = setInterval(() => {
      const h = pool.health();
      probes++;
      if (h.failing) failingProbes++;
      if (h.state === 'UNHEALTHY') unhealthyProbes++;
    }, 100);
    try {
      // 15 callers on 5 connections: the pool is saturated (UNHEALTHY by utilization) all along.
      await Promise.all(
        Array.from({ length: 15 }, async () => {
          while (!stop) {
            await pool.use((c) => c.query('SELECT pg_sleep(0.004)'));
            done++;
          }
        }).concat([new Promise<void>((r) => setTimeout(() => ((stop = true), r()), SOAK_MS))]),
      );
    } finally {
      clearInterval(probe);
    }
    const s = pool.stats();
    await pool.close();
    expect(done).toBeGreaterThan(100);
    expect(s.timeouts).toBe(0);
    expect(unhealthyProbes).toBeGreaterThan(probes / 2); // it really was saturated
    expect(failingProbes).toBe(0);
  });

  describe('a silent partition', () => {
    let proxy: FaultProxy;
    beforeEach(async () => {
      proxy = await startFaultProxy(pgUrl.hostname || '127.0.0.1', Number(pgUrl.port || 5432));
    });
    afterEach(async () => {
      await proxy.close();
    });

    it('bounds every request and turns failing on within 2 s; recovers when healed', async () => {
      const pool = new Pool<Client>({
        name: 'partition',
        factory: pgClientFactory(
          {
            host: '127.0.0.1',
            port: proxy.port,
            user: decodeURIComponent(pgUrl.username) || 'postgres',
            password: decodeURIComponent(pgUrl.password) || undefined,
            database: pgUrl.pathname.slice(1) || 'postgres',
          },
          { applicationName: uniqueAppName('pool_part'), queryTimeoutMs: 800 },
        ),
        min: 4,
        max: 4,
        acquireTimeoutMs: 800,
        createTimeoutMs: 800,
        maintenanceIntervalMs: 100,
        health: { windowMs: 2000 },
        createRetry: { initialDelayMs: 20, maxDelayMs: 200 },
        logger: quiet,
      });
      await pool.start();
      let stop = false;
      let longest = 0;
      let failures = 0;
      const worker = async (): Promise<void> => {
        while (!stop) {
          const t0 = performance.now();
          try {
            await pool.use((c) => c.query('SELECT pg_sleep(0.01)'));
          } catch {
            failures++;
            await new Promise((r) => setTimeout(r, 20));
          }
          longest = Math.max(longest, performance.now() - t0);
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      try {
        await new Promise((r) => setTimeout(r, 500));
        expect(pool.health().failing).toBe(false);
        const outageAt = performance.now();
        proxy.blackhole();
        let failingAfter = -1;
        while (performance.now() - outageAt < 3000) {
          if (pool.health().failing) {
            failingAfter = performance.now() - outageAt;
            break;
          }
          await new Promise((r) => setTimeout(r, 25));
        }
        expect(failingAfter).toBeGreaterThanOrEqual(0);
        expect(failingAfter).toBeLessThan(2000);
        await new Promise((r) => setTimeout(r, 1500));
        // Bounded: a request is at most one acquire wait plus one query bound (plus scheduling).
        expect(longest).toBeLessThan(800 + 800 + 400);
        expect(failures).toBeGreaterThan(0);

        proxy.heal();
        const healedAt = performance.now();
        while (pool.health().failing && performance.now() - healedAt < 15_000) {
          await new Promise((r) => setTimeout(r, 50));
        }
        await expect(pool.use((c) => c.query('SELECT 1 AS one'))).resolves.toMatchObject({
          rows: [{ one: 1 }],
        });
      } finally {
        stop = true;
        await Promise.all(workers);
        await pool.close();
      }
    });
  });
});
