import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisTier, RedisTierUnavailableError, type TierEvent } from '@reservoir/lazy/redis';
import { TestRedisServer } from './helpers/redis-server';
import { TcpProxy } from './helpers/tcp-proxy';

/** Polls `cond` every 5 ms until it holds; fails after `ms`. */
async function until(cond: () => boolean, ms = 3_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

jest.setTimeout(30_000);

describe('RedisTier against a real redis-server', () => {
  const server = new TestRedisServer(true);
  const tiers: RedisTier[] = [];
  let prefix: string;

  const tier = async (opts: ConstructorParameters<typeof RedisTier>[0] = {}): Promise<RedisTier> => {
    const t = new RedisTier({ url: server.url, prefix, ...opts });
    tiers.push(t);
    expect(await t.ready(3_000)).toBe(true);
    return t;
  };
  const events = (t: RedisTier): TierEvent[] => {
    const seen: TierEvent[] = [];
    t.onEvent((e) => seen.push(e));
    return seen;
  };

  beforeAll(async () => {
    await server.start();
  });
  beforeEach(() => {
    prefix = `t${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    await Promise.all(tiers.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await server.dispose();
  });

  const ref = { resource: 'settings', key: 'settings', tenant: 'acme' };

  it('hands out fleet-wide versions from one counter, above a floor', async () => {
    const a = await tier();
    const b = await tier();
    const v1 = await a.reserveVersion(ref);
    const v2 = await b.reserveVersion(ref);
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect((await a.reserveVersion(ref, 40)).version).toBe(41);
    expect((await b.reserveVersion({ ...ref, tenant: 'beta' })).version).toBe(1);
  });

  it('writes L2 by compare-and-set on version: a stale writer cannot overwrite a newer version', async () => {
    const a = await tier();
    const b = await tier();
    const old = await a.reserveVersion(ref);
    const newer = await b.reserveVersion(ref);
    expect(await b.write(ref, { plan: 'new' }, newer.version, newer.ns)).toBe('written');
    expect(await a.write(ref, { plan: 'old' }, old.version, old.ns)).toBe('rejected');
    expect(await a.read(ref)).toEqual({
      value: { plan: 'new' },
      version: newer.version,
      origin: b.instanceId,
    });
    expect(a.stats().writesRejected).toBe(1);
    // Also rejected when the stale version was reserved first but written after the newer one.
    const c = await a.reserveVersion(ref);
    await b.invalidate(ref);
    expect(await a.write(ref, { plan: 'late' }, c.version, c.ns)).toBe('rejected');
    expect(await b.read(ref)).toBeUndefined();
  });

  it('keeps tenants apart: same resource and key, different organisations, different entries', async () => {
    const a = await tier();
    for (const tenant of ['acme', 'beta', undefined]) {
      const r = { ...ref, tenant };
      const { version, ns } = await a.reserveVersion(r);
      await a.write(r, { tenant: tenant ?? 'global' }, version, ns);
    }
    expect((await a.read(ref))?.value).toEqual({ tenant: 'acme' });
    expect((await a.read({ ...ref, tenant: 'beta' }))?.value).toEqual({ tenant: 'beta' });
    expect((await a.read({ ...ref, tenant: undefined }))?.value).toEqual({ tenant: 'global' });
    // Separator-looking ids cannot collide with another tenant's keys.
    expect(await a.read({ ...ref, tenant: 'acme}:e:settings' })).toBeUndefined();
  });

  it('invalidates one tenant in O(1) with a namespace version, and a load started before cannot write', async () => {
    const a = await tier();
    const b = await tier();
    const seen = events(b);
    const keys = ['k1', 'k2', 'k3'];
    for (const tenant of ['acme', 'beta'])
      for (const key of keys) {
        const r = { resource: 'r', key, tenant };
        const { version, ns } = await a.reserveVersion(r);
        await a.write(r, key, version, ns);
      }
    const inFlight = await a.reserveVersion({ resource: 'r', key: 'k1', tenant: 'acme' });
    expect(await a.invalidateTenant('acme')).toBe(1);
    for (const key of keys) {
      expect(await b.read({ resource: 'r', key, tenant: 'acme' })).toBeUndefined();
      expect((await b.read({ resource: 'r', key, tenant: 'beta' }))?.value).toBe(key);
    }
    expect(
      await a.write({ resource: 'r', key: 'k1', tenant: 'acme' }, 'stale', inFlight.version, inFlight.ns),
    ).toBe('rejected');
    await until(() => seen.some((e) => e.type === 'tenant'), 2_000, 'tenant message');
    expect(seen.find((e) => e.type === 'tenant')).toMatchObject({
      tenant: 'acme',
      version: 1,
      origin: a.instanceId,
    });
    // The next load of an invalidated key gets a higher version than any before it.
    const next = await b.reserveVersion({ resource: 'r', key: 'k1', tenant: 'acme' });
    expect(next.version).toBeGreaterThan(inFlight.version);
  });

  it('delivers invalidations on the bus to every other instance, with (key, version, origin), fast', async () => {
    const a = await tier();
    const b = await tier();
    const c = await tier();
    const atB = events(b);
    const atC = events(c);
    const atA = events(a);
    const lat: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      const n = atB.length;
      const v = await a.invalidate({ ...ref, key: `k${i}` });
      await until(() => atB.length > n, 1_000, 'bus message');
      lat.push(performance.now() - t0);
      expect(atB[atB.length - 1]).toMatchObject({
        type: 'invalidate',
        resource: 'settings',
        key: `k${i}`,
        tenant: 'acme',
        version: v,
        origin: a.instanceId,
      });
    }
    await until(() => atC.filter((e) => e.type === 'invalidate').length === 50, 1_000, 'all messages at c');
    expect(atA.filter((e) => e.type === 'invalidate')).toHaveLength(0); // own messages are not echoed
    lat.sort((x, y) => x - y);
    const p99 = lat[Math.ceil(0.99 * lat.length) - 1];
    // The target is 50 ms on an idle loopback; the bound here leaves room for a loaded CI machine.
    expect(p99).toBeLessThan(250);
    expect(b.stats().invalidationsReceived).toBe(50);
    expect(a.stats().invalidationsPublished).toBe(50);
    expect(b.stats().busLagMs.p99).toBeLessThan(250);
  });

  it('a reader that was cut off catches up from the stream; one cut off past the stream length is told stale-all', async () => {
    const proxy = new TcpProxy(server.port);
    await proxy.start();
    try {
      const a = await tier({ streamMaxLen: 10 });
      const b = new RedisTier({ url: proxy.url, prefix, streamMaxLen: 10, commandTimeoutMs: 100 });
      tiers.push(b);
      expect(await b.ready(3_000)).toBe(true);
      const seen = events(b);
      proxy.cut();
      await until(() => b.state === 'degraded', 2_000, 'b degraded');
      for (let i = 0; i < 5; i++) await a.invalidate({ ...ref, key: `gap${i}` });
      proxy.restore();
      await until(() => seen.filter((e) => e.type === 'invalidate').length === 5, 10_000, 'catch-up').catch(
        (e) => {
          const r = b as unknown as { reader: { status: string }; lastId: string; readerNeedsCheck: boolean };
          console.log('DEBUG', b.state, r.reader.status, r.lastId, r.readerNeedsCheck, JSON.stringify(seen));
          throw e;
        },
      );
      expect(seen.filter((e) => e.type === 'invalidate').map((e) => (e as { key: string }).key)).toEqual([
        'gap0',
        'gap1',
        'gap2',
        'gap3',
        'gap4',
      ]);
      expect(seen.some((e) => e.type === 'stale-all')).toBe(false);
      await until(() => b.state === 'connected', 3_000, 'b connected');

      proxy.cut();
      await until(() => b.state === 'degraded', 2_000, 'b degraded again');
      // Far more than the stream keeps (MAXLEN ~ 10 trims whole nodes of 100 entries).
      for (let i = 0; i < 400; i++) await a.invalidate({ ...ref, key: `lost${i}` });
      proxy.restore();
      await until(() => seen.some((e) => e.type === 'stale-all'), 10_000, 'stale-all');
      expect(seen.find((e) => e.type === 'stale-all')).toEqual({ type: 'stale-all', reason: 'gap' });
    } finally {
      await proxy.close();
    }
  });

  it('makes one load across instances for a cold key (fleet single-flight); waiters wake on completion', async () => {
    const ts = [await tier(), await tier(), await tier()];
    let calls = 0;
    const load = async (): Promise<{ n: number }> => {
      calls++;
      await sleep(100);
      return { n: 42 };
    };
    const t0 = Date.now();
    const results = await Promise.all(
      ts.flatMap((t) => Array.from({ length: 20 }, () => t.getOrLoad({ ...ref, key: 'cold' }, load))),
    );
    const wall = Date.now() - t0;
    expect(calls).toBe(1);
    expect(new Set(results.map((r) => r.version))).toEqual(new Set([1]));
    expect(results.every((r) => (r.value as { n: number }).n === 42)).toBe(true);
    expect(results.filter((r) => r.source === 'leader')).toHaveLength(20); // the leader's process
    expect(results.filter((r) => r.source === 'joined')).toHaveLength(40);
    // Woken by the completion message, not by a poll that ran to the end of the wait budget (5 s).
    expect(wall).toBeLessThan(2_000);
    const joined = ts.reduce((s, t) => s + t.stats().fleetLoadsJoined, 0);
    expect(joined).toBe(2); // one flight per process: the 19 other callers in each joined it in-process
  });

  it('a stalled lease holder loses its lease and cannot overwrite the newer version written meanwhile', async () => {
    const a = await tier({ leaseMs: 100, fleetWaitMs: 0 });
    const b = await tier({ leaseMs: 100, fleetWaitMs: 5_000 });
    let release!: () => void;
    const stalled = a.getOrLoad(
      { ...ref, key: 'stall' },
      () => new Promise<string>((r) => (release = () => r('old'))),
    );
    await sleep(20);
    // Renewal keeps the lease while the loader is merely slow...
    await sleep(250);
    const redis = new Redis(server.url);
    try {
      expect(await redis.exists(`${prefix}:{t.acme}:l:settings:stall`)).toBe(1);
    } finally {
      redis.disconnect();
    }
    // ... so simulate a stall that stops renewal: take the lease away as its expiry would.
    const r2 = new Redis(server.url);
    await r2.del(`${prefix}:{t.acme}:l:settings:stall`);
    r2.disconnect();
    const fresh = await b.getOrLoad({ ...ref, key: 'stall' }, () => 'new');
    expect(fresh).toMatchObject({ value: 'new', version: 2, source: 'leader' });
    release();
    const late = await stalled;
    expect(late).toMatchObject({ value: 'old', version: 1, source: 'leader' });
    expect(await b.read({ ...ref, key: 'stall' })).toMatchObject({ value: 'new', version: 2 });
    expect(a.stats().writesRejected).toBe(1);
  });

  it('with Redis killed: every call returns within a bound, invalidations queue, and are published on restart', async () => {
    const own = new TestRedisServer(true);
    await own.start();
    try {
      const a = new RedisTier({ url: own.url, prefix, commandTimeoutMs: 100, breakerOpenMs: 200 });
      const b = new RedisTier({ url: own.url, prefix, commandTimeoutMs: 100, breakerOpenMs: 200 });
      tiers.push(a, b);
      expect(await a.ready()).toBe(true);
      expect(await b.ready()).toBe(true);
      const atB = events(b);
      const states: string[] = [];
      a.onEvent((e) => e.type === 'state' && states.push(e.state));
      await own.kill();
      await until(() => a.state === 'degraded', 2_000, 'degraded');
      let worst = 0;
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const r = await a.getOrLoad({ ...ref, key: 'down' }, () => 'local');
        worst = Math.max(worst, performance.now() - t0);
        expect(r).toEqual({ value: 'local', version: undefined, source: 'local' });
      }
      expect(worst).toBeLessThan(150);
      await expect(a.read(ref)).rejects.toBeInstanceOf(RedisTierUnavailableError);
      expect(await a.invalidate({ ...ref, key: 'q1' })).toBeUndefined();
      expect(await a.invalidate({ ...ref, key: 'q1' })).toBeUndefined(); // newest per key: still one
      expect(await a.invalidate({ ...ref, key: 'q2' })).toBeUndefined();
      expect(a.stats().queuedInvalidations).toBe(2);
      await sleep(300);
      await own.start();
      await until(() => a.state === 'connected', 5_000, 'a reconnected');
      expect(a.stats().queuedInvalidations).toBe(0);
      await until(() => atB.filter((e) => e.type === 'invalidate').length === 2, 5_000, 'queued delivered');
      expect(atB.filter((e) => e.type === 'invalidate').map((e) => (e as { key: string }).key)).toEqual([
        'q1',
        'q2',
      ]);
      expect(states).toEqual(['degraded', 'connected']);
    } finally {
      await own.dispose();
    }
  });

  it('a Redis that answers nothing (SIGSTOP) trips the breaker: calls fail within commandTimeoutMs, then at once', async () => {
    const own = new TestRedisServer(false);
    await own.start();
    try {
      const a = new RedisTier({
        url: own.url,
        prefix,
        commandTimeoutMs: 80,
        breakerThreshold: 2,
        breakerOpenMs: 500,
      });
      tiers.push(a);
      expect(await a.ready()).toBe(true);
      own.pause();
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await expect(a.read(ref)).rejects.toBeInstanceOf(RedisTierUnavailableError);
        times.push(performance.now() - t0);
      }
      expect(Math.max(...times.slice(0, 2))).toBeLessThan(130);
      expect(Math.max(...times.slice(2))).toBeLessThan(5);
      expect(a.state).toBe('degraded');
      expect(a.stats().breakerOpens).toBe(1);
      own.resume();
      await until(() => a.state === 'connected', 3_000, 'breaker closed after probe');
      expect(await a.read(ref)).toBeUndefined();
    } finally {
      await own.dispose();
    }
  });

  it('a Redis that lost its data is detected (stale-all) and versions do not go backward with a floor', async () => {
    const own = new TestRedisServer(false);
    await own.start();
    try {
      const a = new RedisTier({ url: own.url, prefix, commandTimeoutMs: 100, breakerOpenMs: 100 });
      tiers.push(a);
      expect(await a.ready()).toBe(true);
      const seen = events(a);
      for (let i = 0; i < 5; i++) await a.reserveVersion(ref);
      await a.invalidate({ ...ref, key: 'x' });
      await own.restart();
      await until(() => seen.some((e) => e.type === 'stale-all'), 5_000, 'stale-all after data loss');
      expect(seen.find((e) => e.type === 'stale-all')).toMatchObject({ reason: 'data-loss' });
      await until(() => a.state === 'connected', 5_000, 'connected');
      expect((await a.reserveVersion(ref, 5)).version).toBe(6);
    } finally {
      await own.dispose();
    }
  });
});
