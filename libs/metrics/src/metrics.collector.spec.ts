import { Registry } from 'prom-client';
import { LazyLoaderCore } from '@reservoir/lazy';
import { Pool } from '@reservoir/pool';
import { OTHER_TENANTS_LABEL, ReservoirMetricsCollector } from './metrics.collector';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

function newPool(name = 'main', extra: Partial<ConstructorParameters<typeof Pool<object>>[0]> = {}) {
  let n = 0;
  return new Pool<object>({
    name,
    factory: { create: async () => ({ id: ++n }), destroy: () => undefined },
    min: 1,
    max: 4,
    logger: quiet,
    ...extra,
  });
}

/** Value of one sample in the exposition text (labels matched exactly, in any order). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (
      Object.keys(got).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => got[k] === v)
    ) {
      return Number(m[3]);
    }
  }
  return undefined;
}

describe('ReservoirMetricsCollector: pools', () => {
  let pool: Pool<object>;
  let collector: ReservoirMetricsCollector;

  beforeEach(async () => {
    pool = newPool();
    await pool.start();
    collector = new ReservoirMetricsCollector({ pools: () => [pool] });
  });

  afterEach(async () => {
    collector.close();
    await pool.close();
  });

  it('reads gauges at scrape time, HikariCP-style, labelled by pool', async () => {
    const held = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    const text = await collector.metrics();
    expect(sample(text, 'reservoir_pool_connections', { pool: 'main', state: 'active' })).toBe(3);
    expect(sample(text, 'reservoir_pool_connections', { pool: 'main', state: 'idle' })).toBe(0);
    expect(sample(text, 'reservoir_pool_connections', { pool: 'main', state: 'pending' })).toBe(0);
    expect(sample(text, 'reservoir_pool_connections_max', { pool: 'main' })).toBe(4);
    expect(sample(text, 'reservoir_pool_connections_min', { pool: 'main' })).toBe(1);
    expect(sample(text, 'reservoir_pool_utilization_ratio', { pool: 'main' })).toBe(0.75);
    expect(sample(text, 'reservoir_pool_health_state', { pool: 'main' })).toBe(1); // DEGRADED
    expect(sample(text, 'reservoir_pool_creates_total', { pool: 'main' })).toBe(3);
    expect(text).toContain('# TYPE reservoir_pool_creates_total counter');
    expect(text).toContain('# TYPE reservoir_pool_acquire_seconds histogram');
    for (const r of held) pool.release(r);
    const after = await collector.metrics();
    expect(sample(after, 'reservoir_pool_connections', { pool: 'main', state: 'active' })).toBe(0);
    expect(sample(after, 'reservoir_pool_health_state', { pool: 'main' })).toBe(0);
  });

  it('feeds acquire and usage histograms from events$', async () => {
    await pool.use(async () => new Promise((r) => setTimeout(r, 30)));
    await pool.use(async () => undefined);
    const text = await collector.metrics();
    expect(sample(text, 'reservoir_pool_acquire_seconds_count', { pool: 'main' })).toBe(2);
    expect(sample(text, 'reservoir_pool_usage_seconds_count', { pool: 'main' })).toBe(2);
    expect(sample(text, 'reservoir_pool_usage_seconds_sum', { pool: 'main' })).toBeGreaterThanOrEqual(0.025);
    expect(sample(text, 'reservoir_pool_acquires_total', { pool: 'main' })).toBe(2);
  });

  it('counts timeouts and keeps counters monotonic across scrapes', async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => pool.acquire()));
    await expect(pool.acquire({ timeoutMs: 20 })).rejects.toThrow();
    const first = await collector.metrics();
    expect(sample(first, 'reservoir_pool_timeouts_total', { pool: 'main' })).toBe(1);
    expect(sample(first, 'reservoir_pool_health_state', { pool: 'main' })).toBe(2); // UNHEALTHY
    const second = await collector.metrics();
    expect(sample(second, 'reservoir_pool_timeouts_total', { pool: 'main' })).toBe(1);
    for (const r of held) pool.release(r);
  });

  it('counts create errors', async () => {
    const failing = newPool('broken', {
      min: 0,
      factory: {
        create: async () => {
          throw new Error('db down');
        },
        destroy: () => undefined,
      },
      createRetry: { initialDelayMs: 5, maxDelayMs: 5 },
    });
    const c = new ReservoirMetricsCollector({ pools: () => [failing] });
    await expect(failing.acquire({ timeoutMs: 60 })).rejects.toThrow();
    const text = await c.metrics();
    expect(sample(text, 'reservoir_pool_create_errors_total', { pool: 'broken' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'reservoir_pool_creates_total', { pool: 'broken' })).toBe(0);
    c.close();
    await failing.close();
  });

  it('picks up pools registered after it was built', async () => {
    const pools = [pool];
    const c = new ReservoirMetricsCollector({ pools: () => pools });
    const late = newPool('late');
    await late.start();
    pools.push(late);
    expect(sample(await c.metrics(), 'reservoir_pool_connections_max', { pool: 'late' })).toBe(4);
    c.close();
    await late.close();
  });

  it('has no per-tenant series unless asked for', async () => {
    await pool.use(async () => undefined, { organisationId: 'acme' });
    expect(await collector.metrics()).not.toContain('organisation=');
  });

  it('close() unsubscribes and removes its metrics from the registry', async () => {
    const registry = new Registry();
    const c = new ReservoirMetricsCollector({ pools: () => [pool] }, { registry });
    expect(registry.getSingleMetric('reservoir_pool_connections')).toBeDefined();
    c.close();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    // The registry can host a new collector afterwards (e.g. the next app in a test run).
    const again = new ReservoirMetricsCollector({ pools: () => [pool] }, { registry });
    again.close();
  });
});

describe('ReservoirMetricsCollector: per-tenant series (opt-in, bounded)', () => {
  it('gives the first maxTenants organisations their own series and folds the rest into __other__', async () => {
    const pool = newPool();
    await pool.start();
    const c = new ReservoirMetricsCollector(
      { pools: () => [pool] },
      { perTenant: { enabled: true, maxTenants: 2 } },
    );
    for (const org of ['a', 'b', 'c', 'd', 'a'])
      await pool.use(async () => undefined, { organisationId: org });
    const held = await pool.acquire({ organisationId: 'd' });
    const text = await c.metrics();
    expect(sample(text, 'reservoir_pool_tenant_acquires_total', { pool: 'main', organisation: 'a' })).toBe(2);
    expect(sample(text, 'reservoir_pool_tenant_acquires_total', { pool: 'main', organisation: 'b' })).toBe(1);
    expect(
      sample(text, 'reservoir_pool_tenant_acquires_total', {
        pool: 'main',
        organisation: OTHER_TENANTS_LABEL,
      }),
    ).toBe(3);
    expect(
      sample(text, 'reservoir_pool_tenant_acquires_total', { pool: 'main', organisation: 'c' }),
    ).toBeUndefined();
    expect(
      sample(text, 'reservoir_pool_tenant_connections_active', {
        pool: 'main',
        organisation: OTHER_TENANTS_LABEL,
      }),
    ).toBe(1);
    pool.release(held);
    c.close();
    await pool.close();
  });
});

describe('ReservoirMetricsCollector: lazy resources', () => {
  it('mirrors loader stats and records load times and versions', async () => {
    const lazy = new LazyLoaderCore({ tenantScoped: false });
    lazy.register('pricing', async () => {
      await new Promise((r) => setTimeout(r, 20));
      return { plans: 3 };
    });
    const c = new ReservoirMetricsCollector({ pools: () => [], lazy: () => [lazy] });
    await lazy.get('pricing');
    await lazy.get('pricing');
    await lazy.reload('pricing');
    const text = await c.metrics();
    const r = { resource: 'pricing' };
    expect(sample(text, 'reservoir_lazy_hits_total', r)).toBe(1);
    expect(sample(text, 'reservoir_lazy_misses_total', r)).toBe(1);
    expect(sample(text, 'reservoir_lazy_loads_total', r)).toBe(2);
    expect(sample(text, 'reservoir_lazy_errors_total', r)).toBe(0);
    expect(sample(text, 'reservoir_lazy_retries_total', r)).toBe(0);
    expect(sample(text, 'reservoir_lazy_version', r)).toBe(2);
    expect(sample(text, 'reservoir_lazy_hit_ratio', r)).toBe(0.5);
    expect(sample(text, 'reservoir_lazy_load_seconds_count', r)).toBe(2);
    expect(sample(text, 'reservoir_lazy_load_seconds_sum', r)).toBeGreaterThanOrEqual(0.03);
    expect(sample(text, 'reservoir_lazy_alerts_total', { ...r, alert: 'drift-detected' })).toBe(0);
    c.close();
    lazy.close();
  });

  it('reads versions from the loader (one owner): the gauge follows stats() across invalidate and eviction', async () => {
    const lazy = new LazyLoaderCore({ tenantScoped: false, maxEntries: 1 });
    lazy.register('a', async () => 'A');
    lazy.register('b', async () => 'B');
    const c = new ReservoirMetricsCollector({ pools: () => [], lazy: () => [lazy] });
    const gauge = async (resource: string) =>
      sample(await c.metrics(), 'reservoir_lazy_version', { resource });
    await lazy.get('a');
    await lazy.reload('a');
    expect(await gauge('a')).toBe(2);
    lazy.invalidate('a');
    await lazy.get('a');
    await lazy.get('b'); // evicts a
    await lazy.get('a');
    expect(await gauge('a')).toBe(lazy.stats('a').latestVersion);
    expect(await gauge('a')).toBe(4);
    expect(lazy.version('a')).toBe(4);
    expect(await gauge('b')).toBe(1);
    c.close();
    lazy.close();
  });

  it('counts retries and errors of a flaky loader', async () => {
    const lazy = new LazyLoaderCore({
      tenantScoped: false,
      retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
    });
    let calls = 0;
    lazy.register('flaky', async () => {
      if (++calls < 3) throw new Error('boom');
      return 1;
    });
    const c = new ReservoirMetricsCollector({ pools: () => [], lazy: () => [lazy] });
    await lazy.get('flaky');
    const text = await c.metrics();
    expect(sample(text, 'reservoir_lazy_retries_total', { resource: 'flaky' })).toBe(2);
    expect(sample(text, 'reservoir_lazy_errors_total', { resource: 'flaky' })).toBe(2);
    expect(sample(text, 'reservoir_lazy_loads_total', { resource: 'flaky' })).toBe(1);
    c.close();
    lazy.close();
  });
});

describe('ReservoirMetricsCollector: options', () => {
  it('applies a prefix and custom buckets', async () => {
    const pool = newPool();
    const c = new ReservoirMetricsCollector(
      { pools: () => [pool] },
      { prefix: 'app_db_', buckets: { acquireSeconds: [0.1, 1] } },
    );
    await pool.use(async () => undefined);
    const text = await c.metrics();
    expect(sample(text, 'app_db_pool_connections_max', { pool: 'main' })).toBe(4);
    expect(sample(text, 'app_db_pool_acquire_seconds_bucket', { pool: 'main', le: '0.1' })).toBe(1);
    expect(text).not.toContain('reservoir_');
    c.close();
    await pool.close();
  });

  it('adds prom-client default metrics without the *_total gauges promtool rejects', async () => {
    const c = new ReservoirMetricsCollector({ pools: () => [] }, { defaultMetrics: true });
    const text = await c.metrics();
    expect(text).toContain('reservoir_process_cpu_seconds_total');
    expect(text).not.toMatch(/^reservoir_nodejs_active_handles_total/m);
    c.close();
    c.registry.clear();
  });
});

describe('ReservoirMetricsCollector: the pool metrics tracker', () => {
  it('plugs into the pool’s tracker instead of subscribing to events$, and counts every tenant lease', async () => {
    const pool = newPool('tracked');
    const subscribe = jest.spyOn(pool.events$, 'subscribe');
    const registry = new Registry();
    const collector = new ReservoirMetricsCollector(
      { pools: () => [pool] },
      { registry, defaultMetrics: false, perTenant: { enabled: true } },
    );
    try {
      for (let i = 0; i < 200; i++) pool.release(await pool.acquire({ organisationId: 'acme' }));
      // And one lease that really waited.
      const held = await Promise.all([1, 2, 3, 4].map(() => pool.acquire()));
      const waiting = pool.acquire();
      await new Promise((r) => setTimeout(r, 20));
      pool.release(held[0]);
      pool.release(await waiting);
      for (const r of held.slice(1)) pool.release(r);
      const text = await collector.metrics();
      expect(subscribe).not.toHaveBeenCalled();
      expect(
        sample(text, 'reservoir_pool_tenant_acquires_total', { pool: 'tracked', organisation: 'acme' }),
      ).toBe(200);
      // Sampled: every lease until 64 samples, then about 1 in 8.
      const waits = sample(text, 'reservoir_pool_acquire_seconds_count', { pool: 'tracked' })!;
      expect(waits).toBeGreaterThanOrEqual(64);
      expect(waits).toBeLessThan(205);
      expect(sample(text, 'reservoir_pool_usage_seconds_count', { pool: 'tracked' })).toBeGreaterThanOrEqual(
        64,
      );
      collector.close();
      // Detached: further leases reach no metric.
      pool.release(await pool.acquire({ organisationId: 'acme' }));
    } finally {
      collector.close();
      await pool.close();
    }
  });
});
