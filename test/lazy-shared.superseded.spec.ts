/**
 * A load that another instance superseded while it ran must not stay in L1. Found by the demo fleet
 * e2e (test/demo.fleet.e2e-spec.ts): under concurrent writes one instance kept serving an older
 * version and value than the other until its entry went stale. Here the race is made deterministic:
 * A's loader is held while B reloads the same key, and A hears B's `set` before its load ends.
 */
import { randomUUID } from 'node:crypto';
import { LazyLoaderCore } from '@reservoir/lazy/lazy-loader.core';
import { RedisTier } from '@reservoir/lazy/redis';
import { TestRedisServer } from './helpers/redis-server';

jest.setTimeout(30_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LazyLoaderCore with a shared RedisTier: a superseded load', () => {
  const server = new TestRedisServer(false);
  const tiers: RedisTier[] = [];
  const cores: LazyLoaderCore[] = [];

  beforeAll(() => server.start());
  afterAll(async () => {
    for (const c of cores) c.close();
    await Promise.all(tiers.map((t) => t.close()));
    await server.dispose();
  });

  it("is returned to its caller but not kept: the next read gets the other instance's newer version", async () => {
    const prefix = `sup${randomUUID().slice(0, 8)}`;
    let source = 'old';
    let releaseA: (() => void) | undefined;
    const make = async (held: boolean) => {
      const tier = new RedisTier({ url: server.url, prefix, commandTimeoutMs: 200 });
      tiers.push(tier);
      expect(await tier.ready(3_000)).toBe(true);
      const core = new LazyLoaderCore({ shared: tier }, { tenantResolver: () => undefined });
      cores.push(core);
      core.register(
        'cfg',
        async () => {
          const value = source; // read at the start, like a query
          if (held) await new Promise<void>((r) => (releaseA = r));
          return { value };
        },
        { tenantScoped: false, staleAfterMs: 60_000 },
      );
      return { core, tier };
    };
    const a = await make(true);
    const b = await make(false);

    const first = a.core.get('cfg'); // A leads the cold key and its loader reads 'old'
    while (releaseA === undefined) await sleep(5);
    source = 'new';
    expect(await b.core.reload('cfg')).toEqual({ value: 'new' });
    const vB = b.core.version('cfg');
    // A hears B's set before its own load ends.
    const deadline = Date.now() + 3_000;
    while (a.tier.stats().updatesReceived < 1) {
      if (Date.now() > deadline) throw new Error("A never received B's set");
      await sleep(5);
    }
    releaseA();
    expect(await first).toEqual({ value: 'old' }); // its caller asked before the change

    // Before the fix A kept { value: 'old' } under its older version here until it went stale.
    expect(await a.core.get('cfg')).toEqual({ value: 'new' });
    expect(a.core.version('cfg')).toBe(vB);
    expect(a.tier.stats().writesRejected).toBe(1); // and its stale write never reached L2
  });

  it('a load discarded by a remote invalidation releases its fleet lease: the next misses do not wait for it', async () => {
    const prefix = `sup${randomUUID().slice(0, 8)}`;
    let releaseA: (() => void) | undefined;
    let calls = 0;
    const make = async (held: boolean) => {
      const tier = new RedisTier({ url: server.url, prefix, commandTimeoutMs: 200, fleetWaitMs: 3_000 });
      tiers.push(tier);
      expect(await tier.ready(3_000)).toBe(true);
      const core = new LazyLoaderCore({ shared: tier }, { tenantResolver: () => undefined });
      cores.push(core);
      core.register(
        'cfg',
        async () => {
          calls++;
          if (held && releaseA === undefined) await new Promise<void>((r) => (releaseA = r));
          return { n: calls };
        },
        { tenantScoped: false, staleAfterMs: 60_000 },
      );
      return { core, tier };
    };
    const a = await make(true);
    const b = await make(false);

    const first = a.core.get('cfg'); // A leads the cold key (holds the lease) and its loader is held
    while (releaseA === undefined) await sleep(5);
    b.core.invalidate('cfg'); // A hears it while loading: A discards its load
    const deadline = Date.now() + 3_000;
    while (a.tier.stats().invalidationsReceived < 1) {
      if (Date.now() > deadline) throw new Error("A never received B's invalidation");
      await sleep(5);
    }
    releaseA();
    await first;

    // Before the fix A's discarded load kept the lease: both reads below waited fleetWaitMs (3 s).
    const t0 = Date.now();
    await b.core.get('cfg');
    await a.core.get('cfg');
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(a.core.version('cfg')).toBe(b.core.version('cfg'));
  });
});
