import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { LazyLoader, LazyModule } from '@reservoir/lazy';
import { LazyLoaderCore } from '@reservoir/lazy/lazy-loader.core';
import { RedisTier } from '@reservoir/lazy/redis';
import { ReservoirMetricsCollector, ReservoirMetricsModule } from '@reservoir/metrics';
import { TestRedisServer } from './helpers/redis-server';

jest.setTimeout(30_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Value of one sample in the exposition text (labels matched exactly). */
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

function promtool(text: string): void {
  try {
    execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool check metrics failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

/**
 * The `reservoir_lazy_shared_*` series of the collector against two loaders ("instances", each
 * with its own RedisTier) on a private redis-server, which the last test kills and restarts.
 */
describe('ReservoirMetricsCollector: the shared tier series', () => {
  const server = new TestRedisServer(false);
  const tiers: RedisTier[] = [];
  const cores: LazyLoaderCore[] = [];
  const collectors: ReservoirMetricsCollector[] = [];
  let prefix: string;

  const instance = async (url = server.url): Promise<{ core: LazyLoaderCore; tier: RedisTier }> => {
    const tier = new RedisTier({ url, prefix, commandTimeoutMs: 150 });
    tiers.push(tier);
    expect(await tier.ready(3_000)).toBe(true);
    const core = new LazyLoaderCore({ shared: tier, tenantScoped: false });
    cores.push(core);
    return { core, tier };
  };
  const collectorOf = (core: LazyLoaderCore): ReservoirMetricsCollector => {
    const c = new ReservoirMetricsCollector(
      { pools: () => [], lazy: () => [core] },
      { registry: new Registry(), defaultMetrics: false },
    );
    collectors.push(c);
    return c;
  };

  beforeAll(async () => {
    await server.start();
  });
  beforeEach(() => {
    prefix = `m${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    for (const c of collectors.splice(0)) c.close();
    for (const c of cores.splice(0)) c.close();
    await Promise.all(tiers.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('mirrors stats().shared: state, L2 hits and misses, fleet loads, invalidations, bus lag; promtool-clean', async () => {
    const [a, b] = [await instance(), await instance()];
    let loads = 0;
    for (const { core } of [a, b]) {
      core.register('pricing', async () => {
        loads++;
        await sleep(100);
        return { plan: 'pro' };
      });
    }
    const ma = collectorOf(a.core);
    const mb = collectorOf(b.core);
    // A cold key missed by both at once: one load, the other instance joins it.
    await Promise.all([a.core.get('pricing'), b.core.get('pricing')]);
    expect(loads).toBe(1);
    a.core.invalidate('pricing');
    await until(() => (b.core.stats().shared?.invalidationsReceived ?? 0) >= 1, 2_000, 'b to receive');
    await b.core.get('pricing'); // L1 dropped by the invalidation: an L2 miss, loaded again

    const ta = await ma.metrics();
    const tb = await mb.metrics();
    promtool(ta);
    promtool(tb);
    const sa = a.core.stats().shared!;
    const sb = b.core.stats().shared!;
    for (const [text, s] of [
      [ta, sa],
      [tb, sb],
    ] as const) {
      expect(sample(text, 'reservoir_lazy_shared_state', { state: 'connected' })).toBe(1);
      expect(sample(text, 'reservoir_lazy_shared_state', { state: 'degraded' })).toBe(0);
      expect(sample(text, 'reservoir_lazy_shared_state', { state: 'disconnected' })).toBe(0);
      expect(sample(text, 'reservoir_lazy_shared_l2_hits_total')).toBe(s.l2Hits);
      expect(sample(text, 'reservoir_lazy_shared_l2_misses_total')).toBe(s.l2Misses);
      expect(sample(text, 'reservoir_lazy_shared_fleet_loads_joined_total')).toBe(s.fleetLoadsJoined);
      expect(sample(text, 'reservoir_lazy_shared_invalidations_published_total')).toBe(
        s.invalidationsPublished,
      );
      expect(sample(text, 'reservoir_lazy_shared_invalidations_received_total')).toBe(
        s.invalidationsReceived,
      );
      expect(sample(text, 'reservoir_lazy_shared_bus_lag_p50_seconds')).toBeCloseTo(s.busLagMs.p50 / 1000, 6);
      expect(sample(text, 'reservoir_lazy_shared_bus_lag_p99_seconds')).toBeCloseTo(s.busLagMs.p99 / 1000, 6);
      expect(sample(text, 'reservoir_lazy_shared_queued_invalidations')).toBe(0);
    }
    // The outcomes themselves, not only the mirroring: one of the two joined the other's load, a
    // published the invalidation and b received it.
    expect(sa.fleetLoadsJoined + sb.fleetLoadsJoined).toBe(1);
    expect(sample(ta, 'reservoir_lazy_shared_invalidations_published_total')).toBe(1);
    expect(sample(tb, 'reservoir_lazy_shared_invalidations_received_total')).toBe(1);
    expect(sample(tb, 'reservoir_lazy_shared_l2_misses_total')).toBeGreaterThanOrEqual(1);
    expect(ta).toContain('# TYPE reservoir_lazy_shared_l2_hits_total counter');
    expect(ta).toContain('# TYPE reservoir_lazy_shared_bus_lag_p99_seconds gauge');

    // Counters stay monotonic across scrapes and move by what happened in between.
    const hitsBefore = sample(await mb.metrics(), 'reservoir_lazy_shared_l2_hits_total')!;
    const c = await instance();
    c.core.register('pricing', () => ({ plan: 'never loaded: L2 has it' }));
    const mc = collectorOf(c.core);
    expect(await c.core.get('pricing')).toEqual({ plan: 'pro' });
    expect(sample(await mc.metrics(), 'reservoir_lazy_shared_l2_hits_total')).toBe(1);
    expect(sample(await mb.metrics(), 'reservoir_lazy_shared_l2_hits_total')).toBe(hitsBefore);
  });

  it('a loader without a shared tier has no state series, and the unlabelled shared series read 0', async () => {
    const core = new LazyLoaderCore({ tenantScoped: false });
    cores.push(core);
    core.register('x', () => 1);
    await core.get('x');
    const text = await collectorOf(core).metrics();
    promtool(text);
    expect(text).not.toMatch(/^reservoir_lazy_shared_state\{/m);
    expect(sample(text, 'reservoir_lazy_shared_l2_hits_total')).toBe(0);
    expect(sample(text, 'reservoir_lazy_shared_queued_invalidations')).toBe(0);
    expect(sample(text, 'reservoir_lazy_hits_total', { resource: 'x' })).toBe(0);
  });

  it('with Redis killed: state degraded and queued invalidations counted; after restart, connected and drained', async () => {
    const own = new TestRedisServer(false);
    await own.start();
    try {
      const { core, tier } = await instance(own.url);
      core.register('cfg', () => ({ v: 1 }));
      await core.get('cfg');
      const m = collectorOf(core);
      await own.kill();
      await until(() => tier.state !== 'connected', 3_000, 'tier to leave connected');
      core.invalidate('cfg');
      // The publish fails within commandTimeoutMs, then the invalidation is queued.
      await until(() => core.stats().shared!.queuedInvalidations === 1, 3_000, 'the invalidation to queue');
      const down = await m.metrics();
      promtool(down);
      const state = core.stats().shared!.state;
      expect(state).not.toBe('connected');
      expect(sample(down, 'reservoir_lazy_shared_state', { state })).toBe(1);
      expect(sample(down, 'reservoir_lazy_shared_state', { state: 'connected' })).toBe(0);
      expect(sample(down, 'reservoir_lazy_shared_queued_invalidations')).toBe(1);

      await own.start();
      await until(() => tier.state === 'connected', 10_000, 'tier to reconnect');
      await until(() => core.stats().shared!.queuedInvalidations === 0, 5_000, 'the queue to drain');
      const up = await m.metrics();
      expect(sample(up, 'reservoir_lazy_shared_state', { state: 'connected' })).toBe(1);
      expect(sample(up, 'reservoir_lazy_shared_queued_invalidations')).toBe(0);
      expect(sample(up, 'reservoir_lazy_shared_invalidations_published_total')).toBe(1);
    } finally {
      await own.dispose();
    }
  });

  it('GET /metrics of a Nest app with LazyModule.forRoot({ shared: tier }) serves the shared series', async () => {
    const tier = new RedisTier({ url: server.url, prefix, commandTimeoutMs: 150 });
    tiers.push(tier);
    expect(await tier.ready(3_000)).toBe(true);
    const ref = await Test.createTestingModule({
      imports: [
        LazyModule.forRoot({ shared: tier, tenantScoped: false }),
        ReservoirMetricsModule.forRoot({}),
      ],
    }).compile();
    const app = ref.createNestApplication({ logger: false });
    await app.init();
    try {
      const loader = app.get(LazyLoader);
      loader.register('flags', () => ({ on: true }));
      await loader.get('flags');
      loader.invalidate('flags');
      await until(() => loader.stats().shared!.invalidationsPublished === 1, 2_000, 'the publish');
      const res = await request(app.getHttpServer()).get('/metrics').expect(200);
      promtool(res.text);
      expect(sample(res.text, 'reservoir_lazy_shared_state', { state: 'connected' })).toBe(1);
      expect(sample(res.text, 'reservoir_lazy_shared_l2_misses_total')).toBe(loader.stats().shared!.l2Misses);
      expect(sample(res.text, 'reservoir_lazy_shared_l2_misses_total')).toBeGreaterThanOrEqual(1);
      expect(sample(res.text, 'reservoir_lazy_shared_invalidations_published_total')).toBe(1);
    } finally {
      await app.close();
    }
  });
});
