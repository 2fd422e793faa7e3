import { randomUUID } from 'node:crypto';
import { FleetWorker } from './fleet/fleet';
import { TestRedisServer } from './helpers/redis-server';
import { TcpProxy } from './helpers/tcp-proxy';

jest.setTimeout(90_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

type Tenanted = { value: { resource: string; of: string; by: number; load: number } | null };
type TenantRead = Tenanted & { version: number; loads: Record<string, number> };

/**
 * Fleet guarantees through LazyLoaderCore in separate node processes (test/fleet/tier-worker.ts)
 * on one private redis-server: a tenant's namespace invalidation, and a process cut off from Redis
 * catching up from the stream when it comes back.
 */
describe('LazyLoaderCore fleet: tenant namespaces and catch-up across processes', () => {
  const server = new TestRedisServer(false);
  const workers: FleetWorker[] = [];
  let prefix: string;

  const spawn = async (urls: string[]): Promise<FleetWorker[]> => {
    const ws = urls.map((url) => new FleetWorker({ REDIS_URL: url, TIER_PREFIX: prefix }));
    workers.push(...ws);
    expect(await Promise.all(ws.map((w) => w.ready()))).toEqual(ws.map(() => true));
    return ws;
  };

  beforeAll(async () => {
    await server.start();
  });
  beforeEach(() => {
    prefix = `y${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await server.dispose();
  });

  it("one organisation's namespace invalidation on one process drops that tenant everywhere, and only that tenant", async () => {
    const ws = await spawn([server.url, server.url, server.url]);
    const [a, b, c] = ws;
    const read = (w: FleetWorker, resource: string, tenant: string) =>
      w.call<TenantRead>({ op: 'tenantGet', resource, tenant });
    const peek = (w: FleetWorker, resource: string, tenant: string) =>
      w.call<Tenanted>({ op: 'tenantPeek', resource, tenant });

    // Every process reads both resources for both tenants: one load per (resource, tenant) fleet-wide.
    const first: Record<string, TenantRead[]> = {};
    for (const resource of ['settings', 'profile'])
      for (const tenant of ['acme', 'beta'])
        for (const w of ws) (first[`${resource}/${tenant}`] ??= []).push(await read(w, resource, tenant));
    for (const [k, reads] of Object.entries(first)) {
      const [resource, tenant] = k.split('/');
      expect(reads.map((r) => r.value)).toEqual(reads.map(() => reads[0].value)); // one value fleet-wide
      expect(reads[0].value).toMatchObject({ resource, of: tenant, load: 1 });
      expect(new Set(reads.map((r) => r.version)).size).toBe(1);
    }
    // A prefix within one organisation is a namespace bump: O(1) in Redis, no key scan.
    const inv = await a.call<{ sentAt: number; removed: number }>({
      op: 'tenantInvalidate',
      prefix: 'sett',
      tenant: 'acme',
    });
    expect(inv.removed).toBe(1); // a's own acme settings entry
    for (const w of [b, c]) {
      const end = Date.now() + 3_000;
      while ((await peek(w, 'settings', 'acme')).value !== null) {
        if (Date.now() > end) throw new Error(`worker ${w.pid} still holds acme settings`);
        await sleep(5);
      }
    }
    const dropMs = Date.now() - inv.sentAt;
    // beta is untouched everywhere: still in L1, same value, no reload.
    for (const w of ws) {
      expect((await peek(w, 'settings', 'beta')).value).toEqual(first['settings/beta'][0].value);
      expect((await peek(w, 'profile', 'beta')).value).toEqual(first['profile/beta'][0].value);
    }
    // The next acme read is a new load with a higher version, agreed by every process, and never the
    // pre-invalidation value (the old namespace's L2 entries are unreachable).
    const after: TenantRead[] = [];
    for (const w of [b, a, c]) after.push(await read(w, 'settings', 'acme'));
    expect(after.map((r) => r.value)).toEqual(after.map(() => after[0].value));
    expect(after[0].value).not.toEqual(first['settings/acme'][0].value);
    expect(after[0].value).toMatchObject({ of: 'acme', load: 1 }); // b's first acme settings load
    expect(after.every((r) => r.version > first['settings/acme'][0].version)).toBe(true);
    // The bump covers acme's other shared entries too (one namespace per organisation): the processes
    // that received it dropped profile as well (an over-approximation that costs a reload, never a
    // stale read), and its next read is a new load, not the old value from L2. The invalidating
    // process itself removed only what it was asked to (its own messages are not echoed).
    for (const w of [b, c]) expect((await peek(w, 'profile', 'acme')).value).toBeNull();
    const profile = await read(b, 'profile', 'acme');
    expect(profile.value).toMatchObject({ of: 'acme', by: b.pid });
    expect(profile.version).toBeGreaterThan(first['profile/acme'][0].version);
    // beta was never reloaded anywhere.
    const betaLoads = (await Promise.all(ws.map((w) => read(w, 'settings', 'beta')))).map(
      (r) => r.loads['settings/beta'] ?? 0,
    );
    expect(betaLoads.reduce((n, x) => n + x, 0)).toBe(1);
    console.log(`acme namespace invalidation dropped at the other 2 processes within ${dropMs} ms`);
  });

  it('a process cut off from Redis catches up from the stream on reconnect: the invalidations it missed, in order', async () => {
    const proxy = new TcpProxy(server.port);
    await proxy.start();
    try {
      const [a, b, c] = await spawn([server.url, proxy.url, server.url]);
      const startAt = Date.now() + 200;
      const first = await Promise.all(
        [a, b, c].map((w) =>
          w.call<{ coreLoads: number; version: number }>({ op: 'coreStampede', callers: 10, startAt }),
        ),
      );
      expect(first.map((r) => r.version)).toEqual([1, 1, 1]);
      expect(first.reduce((n, r) => n + r.coreLoads, 0)).toBe(1);

      proxy.cut();
      await until(
        () => b.events.some((e) => e.type === 'state' && e.state !== 'connected'),
        5_000,
        'b to notice the cut',
      );
      const mark = b.events.length;
      // While b is cut off: a reloads the catalog, and invalidates five tier keys in order.
      const reload = await a.call<{ version: number; value: unknown }>({ op: 'coreReload' });
      expect(reload.version).toBe(2);
      for (let i = 0; i < 5; i++)
        await a.call({ op: 'invalidate', ref: { resource: 'r', key: `gap${i}`, tenant: 'acme' } });
      // c, connected all along, sees them at once (the control).
      await until(
        () => c.events.filter((e) => e.type === 'invalidate' && String(e.key).startsWith('gap')).length === 5,
        3_000,
        'c to receive the gap invalidations',
      );
      await sleep(300);
      // Nothing reached b while it was cut off, and it still holds v1 (within maxLocalStalenessMs).
      expect(b.events.slice(mark).filter((e) => e.type === 'set' || e.type === 'invalidate')).toHaveLength(0);
      expect(await b.call<{ version: number }>({ op: 'corePeek' })).toMatchObject({ version: 1 });

      const restoredAt = Date.now();
      proxy.restore();
      await until(
        () => b.events.filter((e) => e.type === 'invalidate' && String(e.key).startsWith('gap')).length === 5,
        10_000,
        'b to catch up from the stream',
      );
      const caughtUpMs = Date.now() - restoredAt;
      const missed = b.events
        .slice(mark)
        .filter((e) => e.type === 'set' || e.type === 'invalidate')
        .map((e) => `${String(e.type)}:${String(e.key)}@${String(e.version)}`);
      // Every message b missed, in publish order: the catalog reload (a `set` of v2), then gap0..gap4.
      expect(missed).toEqual([
        'set:catalog@2',
        ...[0, 1, 2, 3, 4].map((i) => expect.stringMatching(new RegExp(`^invalidate:gap${i}@\\d+$`))),
      ]);
      expect(b.notes.concat(b.events).some((e) => e.type === 'stale-all')).toBe(false);
      await until(
        () => b.events.some((e, i) => i >= mark && e.type === 'state' && e.state === 'connected'),
        5_000,
        'b connected',
      );
      // b no longer serves v1: its next read is a's v2, from L2, with no load of its own.
      const seen = await b.call<{ version: number; value: unknown }>({
        op: 'coreWatch',
        minVersion: 2,
        timeoutMs: 5_000,
      });
      expect(seen).toMatchObject({ version: 2, value: reload.value });
      expect((await b.call<{ version: number }>({ op: 'corePeek' })).version).toBe(2);
      const bStats = await b.call<{ invalidationsReceived: number; state: string }>({ op: 'stats' });
      expect(bStats.state).toBe('connected');
      expect(bStats.invalidationsReceived).toBeGreaterThanOrEqual(5); // the five gap invalidations (the reload is a `set`)
      console.log(
        `cut-off process caught up ${missed.length} missed bus messages ${caughtUpMs} ms after reconnect`,
      );
    } finally {
      await proxy.close();
    }
  });
});
