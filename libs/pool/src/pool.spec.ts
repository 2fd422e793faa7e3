import {
  PoolClosedError,
  PoolConfigError,
  PoolError,
  PoolExhaustedError,
  PoolReleaseError,
  PoolTimeoutError,
} from './pool.errors';
import type { PoolEvent } from './pool.types';
import { FakeFactory, FakeResource, fakePools, sleep } from './fake-factory.helper-spec';

const mk = fakePools({ name: 'test', createRetry: { initialDelayMs: 5, maxDelayMs: 20 } });

const settled = async <V>(p: Promise<V>): Promise<{ ok: true; value: V } | { ok: false; error: unknown }> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

describe('Pool: seed QA cases', () => {
  it('initialises with min: 3 by creating exactly 3 and is ready', async () => {
    const { pool, factory } = mk({ min: 3, max: 10 });
    await pool.start();
    expect(factory.createCalls).toBe(3);
    expect(pool.stats()).toMatchObject({ size: 3, idle: 3, inUse: 0, created: 3, creating: 0 });
    await sleep(20);
    expect(factory.createCalls).toBe(3);
  });

  it('acquire marks the resource in use and records the tenant (QA-437)', async () => {
    const { pool } = mk({ maintenanceIntervalMs: 10 });
    const before = Date.now();
    const r = await pool.acquire({ organisationId: 'acme' });
    const info = pool.leaseInfo(r)!;
    expect(info.organisationId).toBe('acme');
    expect(info.acquiredAt).toBeGreaterThanOrEqual(before - 50);
    expect(info.acquiredAt).toBeLessThanOrEqual(Date.now() + 5);
    expect(pool.stats()).toMatchObject({ inUse: 1, idle: 0, acquired: 1 });
    expect(pool.stats().tenants.acme).toMatchObject({ acquired: 1, inUse: 1, waiting: 0 });
    pool.release(r);
    expect(pool.leaseInfo(r)).toBeUndefined();
    expect(pool.stats().tenants.acme.inUse).toBe(0);
  });

  it('a 1 s timeout rejects in about 1 s with a HikariCP-style message', async () => {
    const { pool } = mk({ max: 1 });
    await pool.acquire();
    const t0 = Date.now();
    const res = await settled(pool.acquire({ timeoutMs: 1000, organisationId: 'acme' }));
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(990);
    expect(took).toBeLessThan(1300);
    expect(res.ok).toBe(false);
    const err = (res as { error: PoolTimeoutError }).error;
    expect(err).toBeInstanceOf(PoolTimeoutError);
    expect(err).toBeInstanceOf(PoolError);
    expect(err.name).toBe('PoolTimeoutError');
    expect(err.message).toBe(
      'Pool "test": acquire timed out after 1000 ms (total=1, inUse=1, idle=0, waiting=1, tenant="acme"). ' +
        'Raise max or acquireTimeoutMs, or find who holds resources too long (leakDetectionMs).',
    );
    expect(pool.stats()).toMatchObject({ timeouts: 1, pending: 0 });
    expect(pool.stats().tenants.acme.timeouts).toBe(1);
  });

  it('a returned resource is available and reused', async () => {
    const { pool, factory } = mk();
    const a = await pool.acquire();
    pool.release(a);
    const b = await pool.acquire();
    expect(b).toBe(a);
    expect(factory.createCalls).toBe(1);
    expect(pool.stats()).toMatchObject({ acquired: 2, released: 1, inUse: 1 });
  });

  it('7 of 10 in use is DEGRADED, 10 of 10 UNHEALTHY, and HEALTHY again after release (QA-439)', async () => {
    const { pool } = mk({ max: 10 });
    const held = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
    expect(pool.health().state).toBe('HEALTHY');
    held.push(await pool.acquire());
    expect(pool.health()).toEqual({
      state: 'DEGRADED',
      utilization: 0.7,
      reasons: ['utilization 0.70 >= 0.7'],
      failing: false,
    });
    held.push(...(await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()])));
    expect(pool.health()).toEqual({
      state: 'UNHEALTHY',
      utilization: 1,
      reasons: ['utilization 1.00 >= 1'],
      failing: false,
    });
    for (const r of held) pool.release(r);
    expect(pool.health().state).toBe('HEALTHY');
  });

  it('statistics are correct (QA-440)', async () => {
    const { pool, factory } = mk({ min: 2, max: 4 });
    await pool.start();
    const [a, b, c] = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    pool.release(a);
    await pool.destroy(b);
    const s = pool.stats();
    expect(s).toMatchObject({
      name: 'test',
      min: 2,
      max: 4,
      size: 2,
      idle: 1,
      inUse: 1,
      pending: 0,
      creating: 0,
      created: 3,
      destroyed: 1,
      acquired: 3,
      released: 1,
      timeouts: 0,
      createErrors: 0,
      validationFailures: 0,
      leaksDetected: 0,
      utilization: 0.25,
      closed: false,
    });
    expect(s.created - s.destroyed).toBe(s.size);
    expect(factory.live.size).toBe(2);
    pool.release(c);
  });
});

describe('Pool: acquire, queueing and timeouts', () => {
  it('serves waiters FIFO when no tenant is involved', async () => {
    const { pool } = mk({ max: 1 });
    const r = await pool.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3, 4].map((i) => pool.acquire().then((x) => (order.push(i), pool.release(x))));
    expect(pool.stats().pending).toBe(4);
    pool.release(r);
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('a short per-call timeout behind a long head still fires on time (deadline-ordered)', async () => {
    const { pool } = mk({ max: 1, acquireTimeoutMs: 5000 });
    const r = await pool.acquire();
    const long = pool.acquire();
    const t0 = Date.now();
    const short = await settled(pool.acquire({ timeoutMs: 50 }));
    expect(short.ok).toBe(false);
    expect(Date.now() - t0).toBeLessThan(400);
    expect(pool.stats().pending).toBe(1);
    pool.release(r);
    pool.release(await long);
  });

  it('creates no timer when a resource is free', async () => {
    const { pool } = mk({ min: 1 });
    await pool.start();
    const timers = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
    const before = timers();
    const r = await pool.acquire({ organisationId: 'a' });
    expect(timers()).toBe(before);
    pool.release(r);
    expect(timers()).toBe(before);
  });

  it('clears its waiter timer once nobody waits (no open handles)', async () => {
    const { pool } = mk({ max: 1 });
    const timers = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
    const r = await pool.acquire();
    const before = timers();
    const w = pool.acquire();
    expect(timers()).toBe(before + 1);
    pool.release(r);
    pool.release(await w);
    expect(timers()).toBe(before);
  });

  it('maxWaiting bounds the queue with PoolExhaustedError', async () => {
    const { pool } = mk({ max: 1, maxWaiting: 1 });
    const r = await pool.acquire();
    const w = pool.acquire();
    await expect(pool.acquire({ organisationId: 'x' })).rejects.toThrow(
      new PoolExhaustedError(
        'test',
        'Pool "test": no resource free and the wait queue is full (maxWaiting=1; total=1, inUse=1, idle=0, waiting=1, tenant="x"). Raise max or maxWaiting, or shed load upstream.',
      ),
    );
    pool.release(r);
    pool.release(await w);
  });

  it('maxWaiting: 0 fails fast when everything is in use, but still lets the pool grow to max', async () => {
    const { pool } = mk({ max: 2, maxWaiting: 0 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    await expect(pool.acquire()).rejects.toBeInstanceOf(PoolExhaustedError);
    pool.release(a);
    pool.release(b);
  });

  it('an aborted acquire rejects with the signal reason and leaves the queue', async () => {
    const { pool } = mk({ max: 1 });
    const r = await pool.acquire();
    const ac = new AbortController();
    const p = pool.acquire({ signal: ac.signal });
    expect(pool.stats().pending).toBe(1);
    ac.abort(new Error('client went away'));
    await expect(p).rejects.toThrow('client went away');
    expect(pool.stats().pending).toBe(0);
    await expect(pool.acquire({ signal: ac.signal })).rejects.toThrow('client went away');
    pool.release(r);
  });

  it('rejects an invalid per-call timeoutMs with PoolConfigError', async () => {
    const { pool } = mk();
    await expect(pool.acquire({ timeoutMs: -1 })).rejects.toThrow(
      'Pool "test": invalid option "timeoutMs": given -1, expected an integer >= 0 and <= 2147483647.',
    );
    await expect(pool.acquire({ timeoutMs: -1 })).rejects.toBeInstanceOf(PoolConfigError);
  });

  it('rejects an invalid per-call organisationId with PoolConfigError and leaves the pool unchanged', async () => {
    const { pool } = mk();
    await expect(pool.acquire({ organisationId: '' })).rejects.toThrow(
      'Pool "test": invalid option "organisationId": given "", expected a non-empty string.',
    );
    await expect(pool.acquire({ organisationId: 42 as never })).rejects.toBeInstanceOf(PoolConfigError);
    expect(pool.stats()).toMatchObject({ acquired: 0, inUse: 0, pending: 0 });
  });

  it('never creates more than waiters minus creates in flight (no over-creation)', async () => {
    const factory = new FakeFactory();
    factory.createDelayMs = 30;
    const { pool } = mk({ max: 10 }, factory);
    const got = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    expect(factory.createCalls).toBe(3);
    got.forEach((r) => pool.release(r));
    // Demand stopped: nothing more is created.
    await sleep(50);
    expect(factory.createCalls).toBe(3);
    expect(pool.stats()).toMatchObject({ size: 3, idle: 3 });
  });

  it('a create that finishes after its waiter timed out goes to the next waiter or idle, never leaked', async () => {
    const factory = new FakeFactory();
    factory.createDelayMs = 80;
    const { pool } = mk({ max: 1 }, factory);
    await expect(pool.acquire({ timeoutMs: 20 })).rejects.toBeInstanceOf(PoolTimeoutError);
    await sleep(100);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, creating: 0 });
    const r = await pool.acquire();
    expect(factory.createCalls).toBe(1);
    pool.release(r);
  });

  it('saturates and then recovers (HikariCP TestSaturatedPool830)', async () => {
    const { pool } = mk({ max: 5 });
    let done = 0;
    await Promise.all(
      Array.from({ length: 100 }, () =>
        pool.use(async () => {
          await sleep(1);
          done++;
        }),
      ),
    );
    expect(done).toBe(100);
    expect(pool.stats()).toMatchObject({ size: 5, inUse: 0, pending: 0, acquired: 100, released: 100 });
    expect(pool.health().state).toBe('HEALTHY');
  });

  it('keeps size <= max with slow destroys and 50 % validation failures (commons-pool2 testMaxTotalInvariant)', async () => {
    const factory = new FakeFactory();
    factory.destroyDelayMs = 5;
    let flip = false;
    factory.validateResult = () => (flip = !flip);
    const { pool } = mk({ max: 4, validateAfterIdleMs: 0 }, factory);
    let peakSize = 0;
    await Promise.all(
      // Staggered starts, so resources also sit idle and are validated when borrowed from there
      // (a resource passed straight from one borrower to the next is not validated).
      Array.from({ length: 60 }, (_, i) =>
        sleep(i % 2 === 0 ? 0 : 60 + 2 * i).then(() =>
          pool.use(async () => {
            peakSize = Math.max(peakSize, pool.stats().size);
            await sleep(1);
          }),
        ),
      ),
    );
    // Sequential borrows always come from the idle stack (however the machine's load spread the
    // concurrent phase), so validation runs and, flipping, fails at least once here.
    for (let i = 0; i < 4; i++) {
      await pool.use(async () => {
        peakSize = Math.max(peakSize, pool.stats().size);
      });
    }
    expect(peakSize).toBeLessThanOrEqual(4);
    expect(factory.peakLive).toBeLessThanOrEqual(4);
    expect(pool.stats().validationFailures).toBeGreaterThan(0);
  });

  it('timeouts do not leak resources (commons-pool2 testTimeoutNoLeak)', async () => {
    const factory = new FakeFactory();
    factory.createDelayMs = 15;
    const { pool } = mk({ max: 3 }, factory);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => settled(pool.acquire({ timeoutMs: i % 2 ? 5 : 200 }))),
    );
    const got = results.filter((r) => r.ok).map((r) => (r as { value: FakeResource }).value);
    expect(new Set(got).size).toBe(got.length);
    got.forEach((r) => pool.release(r));
    await sleep(30);
    const s = pool.stats();
    expect(s.size).toBeLessThanOrEqual(3);
    expect(s.inUse).toBe(0);
    expect(factory.live.size).toBe(s.size);
  });
});

describe('Pool: factory failures', () => {
  it('never hangs when the factory fails: waiters get the last create error as cause at their timeout', async () => {
    const factory = new FakeFactory();
    factory.failing = true;
    const { pool } = mk({ acquireTimeoutMs: 100 }, factory);
    const t0 = Date.now();
    const res = await settled(pool.acquire());
    expect(Date.now() - t0).toBeLessThan(300);
    const err = (res as { error: PoolTimeoutError }).error;
    expect(err).toBeInstanceOf(PoolTimeoutError);
    expect(err.cause).toBe(factory.lastError);
    expect(err.message).toContain(
      'Creating resources is failing (last error: Error: ECONNREFUSED fake create',
    );
    expect(factory.createCalls).toBeGreaterThan(2); // retried with backoff
    expect(pool.stats().createErrors).toBe(factory.createCalls);
    expect(pool.health().state).toBe('UNHEALTHY');
    expect(pool.health().reasons.join()).toMatch(/factory.create failed \d+ times in a row/);
    // The database comes back: the pool recovers by itself.
    factory.failing = false;
    const r = await pool.acquire();
    expect(r).toBeInstanceOf(FakeResource);
    pool.release(r);
  });

  it('backs off exponentially rather than spinning', async () => {
    const factory = new FakeFactory();
    factory.failing = true;
    const { pool } = mk({ createRetry: { initialDelayMs: 10, maxDelayMs: 40, jitter: 0 } }, factory);
    const p = settled(pool.acquire({ timeoutMs: 200 }));
    await p;
    // 0, +10, +20, +40, +40, +40 ... ≈ 6-8 attempts in 200 ms, not thousands.
    expect(factory.createCalls).toBeGreaterThanOrEqual(4);
    expect(factory.createCalls).toBeLessThan(12);
  });

  it('a broken factory does not block the pool (commons-pool2 testBrokenFactoryShouldNotBlockPool)', async () => {
    const factory = new FakeFactory();
    factory.failNext = 1;
    const { pool } = mk({}, factory);
    const r = await pool.acquire({ timeoutMs: 1000 });
    expect(pool.stats().createErrors).toBe(1);
    pool.release(r);
  });

  it('a hanging create is aborted at createTimeoutMs and a late result is destroyed', async () => {
    const factory = new FakeFactory();
    factory.createDelayMs = 100;
    factory.ignoreAbort = true;
    const { pool, logger } = mk({ createTimeoutMs: 20, acquireTimeoutMs: 60 }, factory);
    const res = await settled(pool.acquire());
    const err = (res as { error: PoolTimeoutError }).error;
    expect(err).toBeInstanceOf(PoolTimeoutError);
    expect(err.cause).toBeInstanceOf(PoolTimeoutError);
    expect((err.cause as Error).message).toBe(
      'Pool "test": factory.create did not settle within createTimeoutMs=20 ms.',
    );
    await sleep(250);
    expect(factory.live.size).toBe(pool.stats().size);
    expect(logger.lines.some((l) => l.includes('a create finished after it timed out'))).toBe(true);
  });

  it('start() rejects with the cause when min cannot be created in time, and keeps retrying', async () => {
    const factory = new FakeFactory();
    factory.failing = true;
    const { pool } = mk({ min: 2, acquireTimeoutMs: 50 }, factory);
    const res = await settled(pool.start());
    expect((res as { error: Error }).error).toBeInstanceOf(PoolTimeoutError);
    expect((res as { error: Error }).error.cause).toBe(factory.lastError);
    factory.failing = false;
    await sleep(60);
    expect(pool.stats().size).toBe(2);
  });
});

describe('Pool: broken resources, release and destroy', () => {
  it("an 'error' from an idle EventEmitter resource removes it without crashing", async () => {
    const { pool, factory } = mk({ min: 1 });
    await pool.start();
    const r = [...factory.live][0];
    r.emit('error', new Error('terminating connection due to administrator command'));
    expect(r.destroyed).toBe(true);
    await sleep(5);
    expect(pool.stats()).toMatchObject({ size: 1, destroyed: 1, created: 2 }); // min restored
  });

  it("an 'error' while leased destroys the resource on release", async () => {
    const { pool } = mk();
    const r = await pool.acquire();
    r.emit('error', new Error('boom'));
    pool.release(r);
    expect(r.destroyed).toBe(true);
    expect(pool.stats().size).toBe(0);
  });

  it('uses factory.watch instead of an error listener when given', async () => {
    const factory = new FakeFactory();
    let broken: ((e: unknown) => void) | undefined;
    const unwatch = jest.fn();
    const f = Object.assign(factory, {
      watch: (_r: FakeResource, onBroken: (e: unknown) => void) => ((broken = onBroken), unwatch),
    });
    const { pool } = mk({ min: 1 }, f);
    await pool.start();
    broken!(new Error('gone'));
    expect(unwatch).toHaveBeenCalled();
    expect(pool.stats().destroyed).toBe(1);
  });

  it('a second release throws PoolReleaseError and leaves state unchanged', async () => {
    const { pool } = mk();
    const r = await pool.acquire();
    pool.release(r);
    const before = pool.stats();
    expect(() => pool.release(r)).toThrow(PoolReleaseError);
    expect(() => pool.release(r)).toThrow(
      'Pool "test": release/destroy of a resource that is not leased (released twice?). Pool state is unchanged.',
    );
    expect(() => pool.release(new FakeResource(99))).toThrow(
      'Pool "test": release/destroy of a resource this pool does not know (never acquired here, or already destroyed).',
    );
    expect(pool.stats()).toEqual(before);
    await expect(pool.destroy(r)).rejects.toBeInstanceOf(PoolReleaseError);
  });

  it('destroy() evicts and a waiter gets a replacement', async () => {
    const { pool, factory } = mk({ max: 1 });
    const r = await pool.acquire();
    const w = pool.acquire();
    await pool.destroy(r);
    expect(r.destroyed).toBe(true);
    const r2 = await w;
    expect(r2).not.toBe(r);
    expect(factory.createCalls).toBe(2);
    pool.release(r2);
  });

  it('use() releases on success and on ordinary errors, destroys when isBroken says so', async () => {
    const { pool } = mk();
    let seen: FakeResource | undefined;
    await expect(pool.use(async (r) => ((seen = r), 42))).resolves.toBe(42);
    expect(pool.stats()).toMatchObject({ idle: 1, inUse: 0 });
    await expect(
      pool.use(async () => {
        throw new Error('query failed');
      }),
    ).rejects.toThrow('query failed');
    expect(seen!.destroyed).toBe(false);
    await expect(
      pool.use(
        async () => {
          throw new Error('connection reset');
        },
        { isBroken: (e) => (e as Error).message.includes('reset') },
      ),
    ).rejects.toThrow('connection reset');
    expect(seen!.destroyed).toBe(true);
  });

  it('validates on borrow after idle time, destroys failures and lends a fresh one', async () => {
    const factory = new FakeFactory();
    factory.validateResult = () => false;
    const { pool } = mk({ validateAfterIdleMs: 0 }, factory);
    const a = await pool.acquire();
    expect(factory.validateCalls).toBe(0); // fresh resources are not validated
    pool.release(a);
    const b = await pool.acquire();
    expect(b).not.toBe(a);
    expect(a.destroyed).toBe(true);
    expect(pool.stats().validationFailures).toBe(1);
    pool.release(b);
  });

  it('skips validation when idle less than validateAfterIdleMs', async () => {
    const factory = new FakeFactory();
    const { pool } = mk({ validateAfterIdleMs: 10_000 }, factory);
    const a = await pool.acquire();
    pool.release(a);
    pool.release(await pool.acquire());
    expect(factory.validateCalls).toBe(0);
  });
});

describe('Pool: maintenance', () => {
  it('closes idle resources above min after idleTimeoutMs', async () => {
    const { pool } = mk({ min: 1, idleTimeoutMs: 30, maintenanceIntervalMs: 10 });
    const rs = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    rs.forEach((r) => pool.release(r));
    await sleep(100);
    expect(pool.stats()).toMatchObject({ size: 1, destroyed: 2 });
  });

  it('retires resources at maxLifetimeMs and restores min', async () => {
    const { pool, factory } = mk({ min: 2, maxLifetimeMs: 40, maintenanceIntervalMs: 10 });
    await pool.start();
    const first = [...factory.live];
    await sleep(120);
    expect(first.every((r) => r.destroyed)).toBe(true);
    expect(pool.stats().size).toBe(2);
  });

  it('retires an expired resource on release', async () => {
    const { pool } = mk({ maxLifetimeMs: 20, maintenanceIntervalMs: 10 });
    const r = await pool.acquire();
    await sleep(40);
    pool.release(r);
    expect(r.destroyed).toBe(true);
  });

  it('logs a leak with the acquire stack', async () => {
    const { pool, logger } = mk({ leakDetectionMs: 20, maintenanceIntervalMs: 10 });
    const events: PoolEvent[] = [];
    const sub = pool.events$.subscribe((e) => events.push(e));
    const r = await pool.acquire({ organisationId: 'acme' });
    await sleep(60);
    expect(pool.stats().leaksDetected).toBe(1);
    const line = logger.lines.find((l) => l.includes('possible leak'))!;
    expect(line).toMatch(
      /warn Pool "test": possible leak: a resource has been held for \d+ ms \(tenant="acme"\)/,
    );
    expect(line).toContain('pool.spec.ts');
    expect(events.some((e) => e.type === 'leak')).toBe(true);
    sub.unsubscribe();
    pool.release(r);
  });

  it('reports a rising trend and a time to saturation', async () => {
    const { pool } = mk({ max: 10, maintenanceIntervalMs: 10 });
    const held: FakeResource[] = [];
    for (let i = 0; i < 5; i++) {
      held.push(await pool.acquire());
      await sleep(25);
    }
    const { trend } = pool.stats();
    expect(trend.direction).toBe('rising');
    expect(trend.timeToSaturationMs).not.toBeNull();
    held.forEach((r) => pool.release(r));
  });
});

describe('Pool: health and events', () => {
  it('emits health transitions on events$ and logs them', async () => {
    const { pool, logger } = mk({ max: 2, maintenanceIntervalMs: 10 });
    const events: PoolEvent[] = [];
    pool.events$.subscribe((e) => events.push(e));
    const a = await pool.acquire();
    const b = await pool.acquire();
    await sleep(30);
    pool.release(a);
    pool.release(b);
    await sleep(30);
    const transitions = events.filter((e) => e.type === 'health').map((e) => `${e.from}->${e.to}`);
    expect(transitions).toEqual(['HEALTHY->UNHEALTHY', 'UNHEALTHY->HEALTHY']);
    expect(logger.lines).toContain('warn Pool "test": health HEALTHY -> UNHEALTHY (utilization 1.00 >= 1)');
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['create', 'acquire', 'release']));
  });

  it('is UNHEALTHY after an acquire timeout within the window, DEGRADED on a high wait p99', async () => {
    const { pool } = mk({ max: 1, health: { degradedWaitP99Ms: 5, windowMs: 60_000 } });
    const r = await pool.acquire();
    await expect(pool.acquire({ timeoutMs: 10 })).rejects.toBeInstanceOf(PoolTimeoutError);
    expect(pool.health().reasons).toContain('1 acquire timeout(s) within the last 60000 ms');
    pool.release(r);
    // Every lease below waited ~6 ms; sampling takes at least one in any 15 consecutive leases.
    let held = await pool.acquire();
    for (let i = 0; i < 32; i++) {
      const w = pool.acquire();
      await sleep(6);
      pool.release(held);
      held = await w;
    }
    pool.release(held);
    expect(pool.health().reasons.some((s) => s.startsWith('acquire wait p99'))).toBe(true);
  });

  it('stats report sampled wait and hold percentiles', async () => {
    const { pool } = mk();
    for (let i = 0; i < 32; i++) {
      const r = await pool.acquire();
      await sleep(1);
      pool.release(r);
    }
    const s = pool.stats();
    expect(s.holdMs.p50).toBeGreaterThan(0);
    expect(s.acquireWaitMs.p50).toBe(0); // immediate acquires record 0 without reading a clock
    expect(s.acquireWaitMs.p99).toBeLessThan(50);
  });

  it('a quiet pool samples every lease: one 200 ms wait among immediate acquires shows in p99', async () => {
    const { pool } = mk({ max: 1 });
    for (let i = 0; i < 20; i++) pool.release(await pool.acquire());
    const held = await pool.acquire();
    const waiter = pool.acquire();
    await sleep(200);
    pool.release(held);
    pool.release(await waiter);
    const s = pool.stats();
    expect(s.acquireWaitMs.p99).toBeGreaterThanOrEqual(190);
    expect(s.acquireWaitMs.p50).toBe(0);
    expect(s.holdMs.p99).toBeGreaterThanOrEqual(190);
  });
});

describe('Pool: close', () => {
  it('stops lending, rejects waiters, waits for loans, then destroys everything', async () => {
    const factory = new FakeFactory();
    factory.destroyDelayMs = 20;
    const { pool } = mk({ max: 2, shutdownTimeoutMs: 1000 }, factory);
    const events: string[] = [];
    pool.events$.subscribe({ next: (e) => events.push(e.type), complete: () => events.push('complete') });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const waiterA = pool.acquire({ organisationId: 't' });
    const waiterB = pool.acquire();
    const closing = pool.close();
    await expect(waiterA).rejects.toThrow(
      new PoolClosedError('test', 'Pool "test" was closed while this acquire was waiting.'),
    );
    await expect(waiterB).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.acquire()).rejects.toThrow('Pool "test" is closed; it lends no more resources.');
    let closed = false;
    void closing.then(() => (closed = true));
    pool.release(b); // returned during close: destroyed, not lent
    await sleep(40);
    expect(b.destroyed).toBe(true);
    expect(closed).toBe(false); // still waiting for the other loan
    expect(a.destroyed).toBe(false);
    pool.release(a);
    await closing;
    expect(a.destroyed).toBe(true); // resolved only after the destroy finished
    expect(factory.live.size).toBe(0);
    expect(pool.stats()).toMatchObject({ size: 0, closed: true });
    expect(pool.health().state).toBe('UNHEALTHY');
    expect(events.slice(-2)).toEqual(['closed', 'complete']);
    expect(pool.close()).toBe(closing);
  });

  it('destroys loans that outlive shutdownTimeoutMs', async () => {
    const { pool, factory, logger } = mk({ shutdownTimeoutMs: 30 });
    const r = await pool.acquire();
    const t0 = Date.now();
    await pool.close();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(r.destroyed).toBe(true);
    expect(factory.live.size).toBe(0);
    expect(logger.lines.some((l) => l.includes('still leased after shutdownTimeoutMs=30 ms'))).toBe(true);
    expect(() => pool.release(r)).not.toThrow();
  });

  it('waits for in-flight creates and destroys what they return', async () => {
    const factory = new FakeFactory();
    factory.createDelayMs = 30;
    factory.ignoreAbort = true;
    const { pool } = mk({}, factory);
    const w = settled(pool.acquire());
    await sleep(5);
    await pool.close();
    expect((await w).ok).toBe(false);
    await sleep(40);
    expect(factory.live.size).toBe(0);
  });
});
