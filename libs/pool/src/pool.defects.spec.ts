/**
 * Regression tests for defects found by outside reviews of the pool core. Each one failed against
 * the core before its fix (see docs/design.md, "Pool core v2").
 */
import { PoolTimeoutError } from './pool.errors';
import type { PoolEvent } from './pool.types';
import { FakeFactory, type FakeResource, fakePools, sleep } from './fake-factory.helper-spec';

const mk = fakePools({ name: 'test', createRetry: { initialDelayMs: 5, maxDelayMs: 20 } });

/** Tenant A holds r1, r2 is idle, A waits for a second lease (max 2, maxPerTenant 1). */
async function cappedWaiterNextToIdle(opts: Parameters<typeof mk>[0] = {}) {
  const made = mk({ max: 2, maxPerTenant: 1, ...opts });
  const { pool } = made;
  const r1 = await pool.acquire({ organisationId: 'A' });
  const r2 = await pool.acquire({ organisationId: 'B' });
  pool.release(r2);
  expect(pool.stats()).toMatchObject({ size: 2, idle: 1, inUse: 1 });
  const second = pool.acquire({ organisationId: 'A', timeoutMs: 300 });
  await sleep(5);
  expect(pool.stats().pending).toBe(1);
  return { ...made, r1, r2, second };
}

describe('Pool defects: a capped waiter next to an idle resource', () => {
  it('is served when the tenant’s lease ends through destroy()', async () => {
    const { pool, r1, r2, second } = await cappedWaiterNextToIdle();
    await pool.destroy(r1);
    await expect(second).resolves.toBe(r2);
    pool.release(r2);
  });

  it('is served when the lease ends through a broken release', async () => {
    const { pool, r1, r2, second } = await cappedWaiterNextToIdle();
    (r1 as FakeResource).emit('error', new Error('backend gone'));
    pool.release(r1);
    await expect(second).resolves.toBe(r2);
    pool.release(r2);
  });

  it('is served when the lease ends by lifetime expiry on release', async () => {
    const { pool, r1, second } = await cappedWaiterNextToIdle({ maxLifetimeMs: 120, maxLifetimeJitter: 0 });
    await sleep(130);
    pool.release(r1);
    // r2 expired too (it was created at the same moment), so a fresh resource may serve A.
    const got = await second;
    expect(got).not.toBe(r1);
    pool.release(got);
  });
});

describe('Pool defects: use() never ends someone else’s lease', () => {
  it('leaves the next holder’s lease alone when fn released the resource itself', async () => {
    const { pool } = mk({ max: 1 });
    let waiter: Promise<FakeResource> | undefined;
    await pool.use((r) => {
      waiter = pool.acquire();
      pool.release(r); // handed straight to the waiter
      return 'ok';
    });
    const next = await waiter!;
    expect(pool.leaseInfo(next)).toBeDefined();
    expect(pool.stats()).toMatchObject({ inUse: 1, released: 1 });
    pool.release(next);
  });

  it('leaves the next holder’s lease alone when fn released and then threw', async () => {
    const { pool } = mk({ max: 1 });
    let waiter: Promise<FakeResource> | undefined;
    await expect(
      pool.use(
        (r) => {
          waiter = pool.acquire();
          pool.release(r);
          throw new Error('after release');
        },
        { isBroken: () => true },
      ),
    ).rejects.toThrow('after release');
    const next = await waiter!;
    expect(pool.leaseInfo(next)).toBeDefined();
    expect(pool.stats()).toMatchObject({ inUse: 1, destroyed: 0 });
    pool.release(next);
  });
});

describe('Pool defects: validation on direct hand-off', () => {
  it('does not validate a resource passed straight from one borrower to the next', async () => {
    const factory = new FakeFactory();
    const { pool } = mk({ max: 1, validateAfterIdleMs: 100 }, factory);
    let held = await pool.acquire();
    for (let i = 0; i < 12; i++) {
      const next = pool.acquire();
      await sleep(20); // each lease lasts 20 ms: 240 ms in all, yet the resource is never idle
      pool.release(held);
      held = await next;
    }
    pool.release(held);
    expect(factory.validateCalls).toBe(0);
  });

  it('still validates a resource that sat idle longer than validateAfterIdleMs', async () => {
    const factory = new FakeFactory();
    const { pool } = mk({ max: 1, validateAfterIdleMs: 50 }, factory);
    pool.release(await pool.acquire());
    await sleep(70);
    pool.release(await pool.acquire());
    expect(factory.validateCalls).toBe(1);
  });
});

/**
 * Leaves the pool's sampling counter so that the next lease is not sampled: sampled leases read the
 * precise clock (and so refresh the coarse one), which would hide a decision taken on a stale clock.
 * With Math.random pinned, the first 64 leases are sampled and the 65th is not.
 */
async function nextLeaseUnsampled(pool: {
  acquire(): Promise<FakeResource>;
  release(r: FakeResource): void;
}) {
  jest.spyOn(Math, 'random').mockReturnValue(0.99);
  for (let i = 0; i < 64; i++) pool.release(await pool.acquire());
}

describe('Pool defects: idle eviction and lifetime use a clock that cannot run early', () => {
  afterEach(() => jest.restoreAllMocks());

  it('never evicts a resource before it was idle for idleTimeoutMs', async () => {
    // A long tick interval leaves the coarse clock stale by up to a second.
    // No validate hook: the pool then stamps releases with its coarse clock.
    const f = new FakeFactory();
    const factory = { create: f.create.bind(f), destroy: f.destroy.bind(f) };
    const { pool } = mk({ max: 2, idleTimeoutMs: 1200, maintenanceIntervalMs: 1000, factory });
    await nextLeaseUnsampled(pool);
    const a = await pool.acquire();
    await sleep(900); // the coarse clock is now ~900 ms old
    pool.release(a);
    const releasedAt = performance.now();
    const t0 = performance.now();
    while (pool.stats().size > 0 && performance.now() - t0 < 3000) await sleep(20);
    expect(pool.stats().size).toBe(0);
    // Destroyed no earlier than idleTimeoutMs after the real release (a tick may add up to one interval).
    const idleFor = performance.now() - releasedAt;
    expect(idleFor).toBeGreaterThanOrEqual(1200 - 25);
  });

  it('never keeps (and lends again) a resource released past its lifetime', async () => {
    const { pool } = mk({ max: 1, maxLifetimeMs: 300, maxLifetimeJitter: 0, maintenanceIntervalMs: 5000 });
    await nextLeaseUnsampled(pool);
    const a = await pool.acquire();
    await sleep(320);
    pool.release(a);
    const b = await pool.acquire();
    expect(b).not.toBe(a);
    expect(a.destroyed).toBe(true);
    pool.release(b);
  });

  it('never lends an idle resource past its lifetime between ticks', async () => {
    const { pool } = mk({ max: 1, maxLifetimeMs: 300, maxLifetimeJitter: 0, maintenanceIntervalMs: 5000 });
    const a = await pool.acquire();
    pool.release(a);
    await sleep(320);
    const b = await pool.acquire();
    expect(b).not.toBe(a);
    pool.release(b);
  });
});

describe('Pool defects: health reads have no side effects; a clean close is not an alert', () => {
  it('health() neither logs nor emits', async () => {
    const { pool, logger } = mk({ max: 1, maintenanceIntervalMs: 60_000 });
    const events: PoolEvent[] = [];
    pool.events$.subscribe((e) => events.push(e));
    const r = await pool.acquire();
    expect(pool.health().state).toBe('UNHEALTHY');
    expect(pool.health().state).toBe('UNHEALTHY');
    expect(events.filter((e) => e.type === 'health')).toEqual([]);
    expect(logger.lines.filter((l) => l.includes('health'))).toEqual([]);
    pool.release(r);
  });

  it('a transition is still detected where state changes (an acquire timeout)', async () => {
    const { pool, logger } = mk({
      max: 1,
      maintenanceIntervalMs: 60_000,
      health: { unhealthyUtilization: 2 },
    });
    const r = await pool.acquire();
    await expect(pool.acquire({ timeoutMs: 10 })).rejects.toBeInstanceOf(PoolTimeoutError);
    expect(logger.lines.some((l) => l.startsWith('warn') && l.includes('HEALTHY -> UNHEALTHY'))).toBe(true);
    pool.release(r);
  });

  it('a clean close() logs no WARN', async () => {
    const { pool, logger } = mk({ max: 2 });
    pool.release(await pool.acquire());
    await pool.close();
    expect(logger.lines.filter((l) => l.startsWith('warn'))).toEqual([]);
    expect(pool.health().state).toBe('UNHEALTHY');
  });
});

describe('Pool defects: timers do not hold the process open', () => {
  it('unrefs the start() timer and the create-timeout timer', async () => {
    const made: NodeJS.Timeout[] = [];
    const real = global.setTimeout;
    const spy = jest.spyOn(global, 'setTimeout').mockImplementation(((
      fn: () => void,
      ms?: number,
    ): NodeJS.Timeout => {
      const t = real(fn, ms);
      made.push(t);
      return t;
    }) as typeof setTimeout);
    try {
      const factory = new FakeFactory();
      factory.hang = true;
      const { pool } = mk({ min: 1, max: 1, acquireTimeoutMs: 50, createTimeoutMs: 40 }, factory);
      const started = pool.start().catch(() => undefined);
      expect(made.length).toBeGreaterThanOrEqual(2);
      for (const t of made) expect(t.hasRef()).toBe(false);
      await started;
    } finally {
      spy.mockRestore();
    }
  });
});
