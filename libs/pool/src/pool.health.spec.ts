import { POOL_DEFAULTS } from './pool.defaults';
import { evaluateHealth, type HealthSnapshot } from './pool.health';
import { fakePools, sleep } from './fake-factory.helper-spec';

const t = { ...POOL_DEFAULTS.health };
const calm: HealthSnapshot = {
  closed: false,
  utilization: 0,
  timeoutsInWindow: 0,
  consecutiveCreateFailures: 0,
  waitP99Ms: 0,
  overdueLeases: 0,
  unhealthyForMs: 0,
  oldestWaitMs: 0,
};

describe('evaluateHealth (pure)', () => {
  it('grades utilization 0.7 DEGRADED and 1 UNHEALTHY, neither failing', () => {
    expect(evaluateHealth(calm, t)).toEqual({
      state: 'HEALTHY',
      utilization: 0,
      reasons: [],
      failing: false,
    });
    expect(evaluateHealth({ ...calm, utilization: 0.7 }, t)).toMatchObject({
      state: 'DEGRADED',
      failing: false,
    });
    expect(evaluateHealth({ ...calm, utilization: 1 }, t)).toMatchObject({
      state: 'UNHEALTHY',
      failing: false,
    });
  });

  it('is failing with timeouts, create failures, on close, or after failingAfterMs of UNHEALTHY with long waits', () => {
    expect(evaluateHealth({ ...calm, timeoutsInWindow: 1 }, t).failing).toBe(true);
    expect(evaluateHealth({ ...calm, consecutiveCreateFailures: 3 }, t).failing).toBe(true);
    expect(evaluateHealth({ ...calm, consecutiveCreateFailures: 2 }, t).failing).toBe(false);
    expect(evaluateHealth({ ...calm, closed: true }, t).failing).toBe(true);
    // Saturated for ten minutes, everyone served in time: busy, not failing.
    const busy = { ...calm, utilization: 1, unhealthyForMs: 600_000, waitP99Ms: 40, oldestWaitMs: 12 };
    expect(evaluateHealth(busy, t)).toMatchObject({ state: 'UNHEALTHY', failing: false });
    // The same with callers served late, or one still queued past degradedWaitP99Ms: failing.
    const late = evaluateHealth({ ...busy, unhealthyForMs: t.failingAfterMs, waitP99Ms: 1500 }, t);
    expect(late.failing).toBe(true);
    expect(late.reasons).toContain(
      'UNHEALTHY for 30000 ms >= failingAfterMs 30000 ms, with callers waiting 1500 ms > degradedWaitP99Ms 1000 ms',
    );
    expect(evaluateHealth({ ...busy, oldestWaitMs: 2500 }, t).failing).toBe(true);
    // Not before failingAfterMs, and only an UNHEALTHY run counts.
    expect(evaluateHealth({ ...busy, unhealthyForMs: 29_999, waitP99Ms: 1500 }, t).failing).toBe(false);
    expect(evaluateHealth({ ...busy, utilization: 0.8, waitP99Ms: 1500 }, t).failing).toBe(false);
    // With the wait rule disabled, only timeouts, create failures and close make it failing.
    const noWaitRule = { ...t, degradedWaitP99Ms: Infinity };
    expect(evaluateHealth({ ...busy, oldestWaitMs: 60_000 }, noWaitRule).failing).toBe(false);
  });

  it('reports leases that outlive leakDetectionMs as DEGRADED', () => {
    expect(evaluateHealth({ ...calm, overdueLeases: 2 }, t)).toMatchObject({
      state: 'DEGRADED',
      reasons: ['2 lease(s) held longer than leakDetectionMs (a stuck query or a silent connection?)'],
    });
  });
});

describe('Pool health over time windows', () => {
  const mk = fakePools({ name: 'win' });

  it('burst then idle: DEGRADED by wait p99 during the burst, HEALTHY within the window after, while probed', async () => {
    const { pool } = mk({
      max: 1,
      maintenanceIntervalMs: 20,
      health: { windowMs: 400, degradedWaitP99Ms: 5 },
    });
    let held = await pool.acquire();
    for (let i = 0; i < 10; i++) {
      const next = pool.acquire();
      await sleep(10);
      pool.release(held);
      held = await next;
    }
    pool.release(held);
    expect(pool.health().state).toBe('DEGRADED');
    expect(pool.stats().acquireWaitMs.p99).toBeGreaterThan(5);
    const t0 = performance.now();
    // Probed the way a /health route that touches the database is: each probe is a lease too.
    while (pool.health().state !== 'HEALTHY' && performance.now() - t0 < 2000) {
      pool.release(await pool.acquire());
      await sleep(10);
    }
    const took = performance.now() - t0;
    expect(pool.health().state).toBe('HEALTHY');
    expect(took).toBeLessThan(400 + 100);
    expect(pool.stats().acquireWaitMs.p99).toBe(0);
  });

  it('a saturated pool turns failing only after failingAfterMs without a break, and only while callers wait too long', async () => {
    const { pool } = mk({
      max: 1,
      maintenanceIntervalMs: 20,
      health: { failingAfterMs: 200, degradedWaitP99Ms: 100 },
    });
    const r = await pool.acquire();
    await sleep(300);
    // Saturated past failingAfterMs, but nobody waits: busy, not failing.
    expect(pool.health()).toMatchObject({ state: 'UNHEALTHY', failing: false });
    const waiting = pool.acquire({ timeoutMs: 5_000 });
    await sleep(50);
    expect(pool.health()).toMatchObject({ state: 'UNHEALTHY', failing: false }); // waited 50 ms
    await sleep(100);
    expect(pool.health()).toMatchObject({ state: 'UNHEALTHY', failing: true }); // waited > 100 ms
    pool.release(r);
    pool.release(await waiting);
    // Free again: no longer failing (DEGRADED only by the 150 ms wait still in the window).
    expect(pool.health()).toMatchObject({ state: 'DEGRADED', failing: false });
  });

  it('counts leases held past leakDetectionMs in stats and health', async () => {
    const { pool } = mk({ max: 2, maintenanceIntervalMs: 20, leakDetectionMs: 50 });
    const r = await pool.acquire();
    await sleep(100);
    expect(pool.stats().overdueLeases).toBe(1);
    expect(pool.health().reasons.join()).toMatch(/1 lease\(s\) held longer than leakDetectionMs/);
    pool.release(r);
    await sleep(50);
    expect(pool.stats().overdueLeases).toBe(0);
  });
});
