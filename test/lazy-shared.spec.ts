import { randomUUID } from 'node:crypto';
import { LazyLoaderCore } from '@reservoir/lazy/lazy-loader.core';
import { LazyCodecError, RedisTier } from '@reservoir/lazy/redis';
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

/**
 * LazyLoaderCore with `shared: tier`: three loaders (three "instances", each with its own tier and
 * connections) on one private redis-server.
 */
describe('LazyLoaderCore with a shared RedisTier', () => {
  const server = new TestRedisServer(false);
  const tiers: RedisTier[] = [];
  const cores: LazyLoaderCore[] = [];
  let prefix: string;
  let tenant: string | undefined;

  const instance = async (
    opts: Record<string, unknown> = {},
  ): Promise<{ core: LazyLoaderCore; tier: RedisTier }> => {
    const tier = new RedisTier({ url: server.url, prefix, commandTimeoutMs: 200 });
    tiers.push(tier);
    expect(await tier.ready(3_000)).toBe(true);
    const core = new LazyLoaderCore({ shared: tier, ...opts }, { tenantResolver: () => tenant });
    cores.push(core);
    return { core, tier };
  };

  beforeAll(async () => {
    await server.start();
  });
  beforeEach(() => {
    prefix = `s${randomUUID().slice(0, 8)}`;
    tenant = undefined;
  });
  afterEach(async () => {
    for (const c of cores.splice(0)) c.close();
    await Promise.all(tiers.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('a cold key missed by three loaders at once makes one loader call, and all report one version', async () => {
    const xs = [await instance(), await instance(), await instance()];
    let calls = 0;
    for (const { core } of xs)
      core.register(
        'pricing',
        async () => {
          calls++;
          await sleep(100);
          return { eur: 10, at: new Date('2026-01-01T00:00:00Z') };
        },
        { tenantScoped: false },
      );
    const values = await Promise.all(
      xs.flatMap(({ core }) => Array.from({ length: 20 }, () => core.get('pricing'))),
    );
    expect(calls).toBe(1);
    for (const v of values) expect(v).toEqual({ eur: 10, at: new Date('2026-01-01T00:00:00Z') });
    expect(xs.map(({ core }) => core.version('pricing'))).toEqual([1, 1, 1]);
    const shared = xs.map(({ core }) => core.stats().shared);
    expect(shared.every((s) => s?.state === 'connected')).toBe(true);
    expect(shared.reduce((n, s) => n + (s?.fleetLoadsJoined ?? 0), 0)).toBe(2);
    // L1 hits afterwards: no Redis call at all.
    const before = xs[0].tier.stats().l2Hits + xs[0].tier.stats().l2Misses;
    for (let i = 0; i < 100; i++) await xs[0].core.get('pricing');
    expect(xs[0].tier.stats().l2Hits + xs[0].tier.stats().l2Misses).toBe(before);
  });

  it('invalidate and reload on one loader stop the others from serving the old value', async () => {
    const [a, b] = [await instance(), await instance()];
    let n = 0;
    for (const { core } of [a, b]) core.register('flags', () => ({ n: ++n }), { tenantScoped: false });
    expect(await a.core.get('flags')).toEqual({ n: 1 });
    expect(await b.core.get('flags')).toEqual({ n: 1 }); // from L2
    expect(n).toBe(1);

    await a.core.reload('flags');
    expect(a.core.version('flags')).toBe(2);
    await until(() => b.core.peek('flags') === undefined, 2_000, 'b to drop v1 after the reload');
    expect(await b.core.get('flags')).toEqual({ n: 2 });
    expect(b.core.version('flags')).toBe(2);

    expect(a.core.invalidate('flags')).toBe(1);
    await until(() => b.core.peek('flags') === undefined, 2_000, 'b to drop v2 after the invalidation');
    expect(await b.core.get('flags')).toEqual({ n: 3 });
    expect(b.core.version('flags')).toBe(4); // the invalidation took version 3
    expect(await a.core.get('flags')).toEqual({ n: 3 });
    expect(n).toBe(3);
    expect(b.core.stats().shared?.invalidationsReceived).toBe(1);
  });

  it('keeps tenants apart across instances, and a tenant invalidation is O(1) and fleet-wide', async () => {
    const [a, b] = [await instance(), await instance()];
    for (const { core } of [a, b]) core.register('settings', () => ({ of: tenant }));
    tenant = 'acme';
    expect(await a.core.get('settings')).toEqual({ of: 'acme' });
    tenant = 'beta';
    expect(await a.core.get('settings')).toEqual({ of: 'beta' });
    expect(await b.core.get('settings')).toEqual({ of: 'beta' });
    tenant = 'acme';
    expect(await b.core.get('settings')).toEqual({ of: 'acme' });
    // A prefix invalidation for one tenant bumps that tenant's namespace.
    tenant = undefined;
    a.core.invalidate('sett', { organisationId: 'acme' });
    await until(
      () => b.core.peek('settings', { organisationId: 'acme' }) === undefined,
      2_000,
      'acme dropped at b',
    );
    expect(b.core.peek('settings', { organisationId: 'beta' })).toEqual({ of: 'beta' });
  });

  it('a shared value that cannot be encoded fails at its first load with LazyCodecError; shared: false stays local', async () => {
    const { core, tier } = await instance();
    const other = await instance();
    for (const c of [core, other.core])
      c.register('fn', () => ({ f: () => 1 }), { tenantScoped: false, retry: { attempts: 1 } });
    await expect(core.get('fn')).rejects.toBeInstanceOf(LazyCodecError);
    // The failed load gave its fleet lease up: another instance leads at once (before, it waited
    // fleetWaitMs, 5 s, for a lease the failed load kept renewing, then loaded locally).
    const t0 = Date.now();
    await expect(other.core.get('fn')).rejects.toBeInstanceOf(LazyCodecError);
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(other.tier.stats().localLoads).toBe(0);
    core.register('local', () => ({ f: () => 1 }), { tenantScoped: false, shared: false });
    const misses = tier.stats().l2Misses;
    const v = await core.get<{ f: () => number }>('local');
    expect(v.f()).toBe(1);
    expect(tier.stats().l2Misses).toBe(misses); // never asked Redis
  });

  it('while Redis is down: hits from L1 without waiting, then at most maxLocalStalenessMs before loading locally', async () => {
    const own = new TestRedisServer(false);
    await own.start();
    try {
      const tier = new RedisTier({ url: own.url, prefix, commandTimeoutMs: 100, maxLocalStalenessMs: 400 });
      tiers.push(tier);
      expect(await tier.ready(3_000)).toBe(true);
      const core = new LazyLoaderCore({ shared: tier, tenantScoped: false });
      cores.push(core);
      let n = 0;
      core.register('cfg', () => ({ n: ++n }));
      expect(await core.get('cfg')).toEqual({ n: 1 });
      await own.kill();
      await until(() => tier.state === 'degraded', 2_000, 'degraded');
      const t0 = performance.now();
      expect(await core.get('cfg')).toEqual({ n: 1 }); // L1, no Redis wait
      expect(performance.now() - t0).toBeLessThan(20);
      expect(n).toBe(1);
      await sleep(500);
      expect(await core.get('cfg')).toEqual({ n: 2 }); // past the bound: loaded again, locally
      expect(core.stats().shared?.state).toBe('degraded');
      expect(await core.get('cfg')).toEqual({ n: 2 }); // the fresh local load is served again
      expect(n).toBe(2);
    } finally {
      await own.dispose();
    }
  });
});
