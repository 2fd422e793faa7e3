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

  it('is failing with timeouts, create failures, on close, or after failingAfterMs of UNHEALTHY', () => {
    expect(evaluateHealth({ ...calm, timeoutsInWindow: 1 }, t).failing).toBe(true);
    expect(evaluateHealth({ ...calm, consecutiveCreateFailures: 3 }, t).failing).toBe(true);
    expect(evaluateHealth({ ...calm, consecutiveCreateFailures: 2 }, t).failing).toBe(false);
    expect(evaluateHealth({ ...calm, closed: true }, t).failing).toBe(true);
    const long = evaluateHealth({ ...calm, utilization: 1, unhealthyForMs: t.failingAfterMs }, t);
    expect(long.failing).toBe(true);
    expect(long.reasons).toContain('UNHEALTHY for 30000 ms >= failingAfterMs 30000 ms');
    // Only an UNHEALTHY run counts.
    expect(evaluateHealth({ ...calm, utilization: 0.8, unhealthyForMs: 60_000 }, t).failing).toBe(false);
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

  it('a saturated pool turns failing only after failingAfterMs without a break', async () => {
    const { pool } = mk({ max: 1, maintenanceIntervalMs: 20, health: { failingAfterMs: 200 } });
    const r = await pool.acquire();
    await sleep(50);
    expect(pool.health()).toMatchObject({ state: 'UNHEALTHY', failing: false });
    await sleep(250);
    expect(pool.health()).toMatchObject({ state: 'UNHEALTHY', failing: true });
    pool.release(r);
    expect(pool.health()).toMatchObject({ state: 'HEALTHY', failing: false });
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
