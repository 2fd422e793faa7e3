/**
 * A load that another instance superseded while it ran must not stay in L1. Found by the demo fleet
 * e2e (test/demo.fleet.e2e-spec.ts): under concurrent writes one instance kept serving an older
 * version and value than the other until its entry went stale. Here the race is made deterministic:
 * A's loader is held while B reloads the same key, and A hears B's `set` before its load ends.
 *
 * The cases after it cover loads that stop being the live load of their key while they run: they
 * must neither keep a fleet claim nor reach L1. The e2e showed them as one instance serving v17 as
 * fresh and the other v22, with no write left to correct either. Loaders are held on gates while
 * this instance or the other invalidates or reloads.
 * - A load dropped by a local prefix invalidation (the demo's DELETE /settings/cache) kept its lease
 *   and reserved version: the next load of the key waited out fleetWaitMs, loaded locally and took
 *   the dead load's version, while the other instance loaded locally under another version.
 * - A load running when another instance invalidated the tenant's namespace was kept in L1.
 * - A reload started while a newer ordinary load of the key ran (the older one dropped by an
 *   invalidation) left that ordinary load outside single-flight: finishing last, it replaced the
 *   reload's value in L1.
 */
import { randomUUID } from 'node:crypto';
import { LazyLoaderCore, registerLazyMethod, type LazyMethodCall } from '@reservoir/lazy/lazy-loader.core';
import { RedisTier } from '@reservoir/lazy/redis';
import { TestRedisServer } from './helpers/redis-server';

jest.setTimeout(30_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const ORG = 'org-1';
/** The entry key of a decorated method without arguments, as the demo invalidates it. */
const KEY = 'Svc.settings()';

async function until(what: string, ok: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

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

  describe('loads overtaken while they run: no claim kept, nothing older in L1', () => {
    /** The source the loaders read (at their start, like a query) and the gates holding them. */
    let source = 'old';
    let hold = false;
    const gates: (() => void)[] = [];
    const releaseNext = (): void => gates.shift()!();

    /** One instance: a tenant-scoped decorated method `Svc.settings` on a tier with a short wait budget. */
    async function instance(prefix: string) {
      const tier = new RedisTier({ url: server.url, prefix, commandTimeoutMs: 500, fleetWaitMs: 2_000 });
      tiers.push(tier);
      expect(await tier.ready(3_000)).toBe(true);
      const core = new LazyLoaderCore({ shared: tier }, { tenantResolver: () => ORG });
      cores.push(core);
      const settings: LazyMethodCall = registerLazyMethod(
        core,
        'Svc.settings',
        { staleAfterMs: 60_000, retry: { attempts: 1 } },
        async () => {
          const value = source;
          if (hold) await new Promise<void>((r) => gates.push(r));
          if (value === 'boom') throw new Error('the source failed');
          return { value };
        },
        undefined,
      );
      return {
        core,
        tier,
        get: () => settings(KEY, []) as Promise<{ value: string }>,
        version: () => core.version(KEY),
        cached: () => core.peek<{ value: string }>(KEY),
      };
    }

    beforeEach(() => {
      source = 'old';
      hold = false;
      gates.length = 0;
    });

    it('a load dropped by a local prefix invalidation gives up its lease and version at once', async () => {
      const prefix = `race${randomUUID().slice(0, 8)}`;
      const a = await instance(prefix);
      const b = await instance(prefix);

      hold = true;
      const first = b.get(); // B leads the cold key: lease and reserved version
      await until('B to start loading', () => gates.length === 1);
      hold = false;
      expect(b.core.invalidate(KEY, { organisationId: ORG })).toBe(0); // nothing cached yet, load dropped
      releaseNext();
      await first;

      // B loads again at once as the fleet's leader (not after fleetWaitMs, not locally) and A shares
      // that load. Before the fix B's dropped load still held the lease: both waited it out, loaded
      // locally, and B stored the dropped load's reserved version, A another one.
      const t0 = Date.now();
      await b.get();
      expect(Date.now() - t0).toBeLessThan(1_000); // well inside fleetWaitMs (2 s)
      expect(await a.get()).toEqual({ value: 'old' });
      expect(a.version()).toBe(b.version());
      expect(a.tier.stats().localLoads + b.tier.stats().localLoads).toBe(0);
      expect(a.tier.stats().l2Hits).toBeGreaterThanOrEqual(1);
    });

    it("a dropped load that then fails leaves the live load's claim alone", async () => {
      const prefix = `race${randomUUID().slice(0, 8)}`;
      const a = await instance(prefix);
      const b = await instance(prefix);

      hold = true;
      source = 'boom';
      const dropped = b.get().catch((e: unknown) => e); // L1: leads, then will fail
      await until('the first load to start', () => gates.length === 1);
      expect(b.core.invalidate(KEY, { organisationId: ORG })).toBe(0); // drops L1 (and its claim)
      source = 'old';
      const live = b.get(); // L2: the key's live load leads the fleet, held
      await until('the live load to start', () => gates.length === 2);
      hold = false;
      releaseNext(); // L1 fails now
      expect(await dropped).toBeInstanceOf(Error);

      // Before the fix L1's failure released L2's lease, so A led the same key in parallel (a second
      // loader call) instead of waiting for L2 and reading its result from L2.
      const fromA = a.get();
      await new Promise((r) => setTimeout(r, 100)); // A claims while L2 is still held
      expect(gates.length).toBe(1); // A's loader did not run
      releaseNext(); // L2 ends
      expect(await live).toEqual({ value: 'old' });
      expect(await fromA).toEqual({ value: 'old' });
      expect(a.version()).toBe(b.version());
      expect(a.tier.stats().fleetLoadsJoined).toBe(1);
      expect(a.tier.stats().localLoads + b.tier.stats().localLoads).toBe(0);
    });

    it("a load running when another instance invalidates the tenant's namespace is not kept in L1", async () => {
      const prefix = `race${randomUUID().slice(0, 8)}`;
      const a = await instance(prefix);
      const b = await instance(prefix);

      hold = true;
      const first = a.get(); // A reads 'old' and is held
      await until('A to start loading', () => gates.length === 1);
      hold = false;
      source = 'new';
      b.core.invalidate(KEY, { organisationId: ORG }); // a namespace bump for ORG, heard by A
      await until("A to hear B's invalidation", () => a.tier.stats().invalidationsReceived >= 1);
      releaseNext();
      expect(await first).toEqual({ value: 'old' }); // its caller asked before the invalidation

      // Before the fix A kept { value: 'old' } in L1 (its L2 write was refused, so nobody corrected it).
      expect(a.cached()).toBeUndefined();
      expect(await a.get()).toEqual({ value: 'new' });
      expect(await b.get()).toEqual({ value: 'new' });
      expect(a.version()).toBe(b.version());
    });

    it('an ordinary load overtaken by a reload of its key never replaces the reload in L1', async () => {
      const prefix = `race${randomUUID().slice(0, 8)}`;
      const a = await instance(prefix);

      hold = true;
      const first = a.get(); // F1, held
      await until('the first load to start', () => gates.length === 1);
      const reloaded = a.core.reload(KEY); // queued behind F1
      a.core.invalidate(KEY, { organisationId: ORG }); // drops F1
      const second = a.get(); // F2: a new ordinary load, reads 'old', held
      await until('the second load to start', () => gates.length === 2);
      hold = false;
      source = 'new';
      releaseNext(); // F1 ends: the queued reload starts while F2 still runs
      expect(await first).toEqual({ value: 'old' });
      expect(await reloaded).toEqual({ value: 'new' });
      const vReload = a.version();
      releaseNext(); // F2 ends last
      expect(await second).toEqual({ value: 'old' });

      // Before the fix F2 replaced the reload's entry with its older value.
      expect(a.cached()).toEqual({ value: 'new' });
      expect(a.version()).toBe(vReload);
      expect(await a.get()).toEqual({ value: 'new' });
    });
  });
});
