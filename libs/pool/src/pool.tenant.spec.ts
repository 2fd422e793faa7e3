import { FakeBinding, type FakeResource, fakePools, sleep } from './fake-factory.helper-spec';
import { TenantRequiredError } from '@reservoir/tenant/tenant.errors';
import { PoolUnbindError } from './pool.errors';

const mk = fakePools({ name: 'tenants' });

describe('Pool: tenant resolution', () => {
  it('uses tenantResolver only when no explicit organisationId is given', async () => {
    const resolver = jest.fn(() => 'from-scope');
    const { pool } = mk({ tenantResolver: resolver });
    const a = await pool.acquire();
    expect(pool.leaseInfo(a)?.organisationId).toBe('from-scope');
    const b = await pool.acquire({ organisationId: 'explicit' });
    expect(pool.leaseInfo(b)?.organisationId).toBe('explicit');
    expect(resolver).toHaveBeenCalledTimes(1);
    pool.release(a);
    pool.release(b);
  });

  it('requireTenant rejects an acquire without a tenant with TenantRequiredError', async () => {
    const { pool } = mk({ requireTenant: true, tenantResolver: () => undefined });
    await expect(pool.acquire()).rejects.toBeInstanceOf(TenantRequiredError);
    await expect(pool.acquire()).rejects.toThrow(
      'Pool "tenants" requires a tenant (requireTenant: true), but acquire() got no organisationId and no tenant is in scope. Pass { organisationId } or run inside TenantContext.run().',
    );
    expect(pool.stats().size).toBe(0);
    pool.release(await pool.acquire({ organisationId: 'ok' }));
  });

  it('quotes tenant ids in messages so control characters never reach a log raw', async () => {
    const { pool } = mk({ max: 1 });
    const r = await pool.acquire();
    await expect(pool.acquire({ organisationId: 'evil\n[ERROR] forged', timeoutMs: 5 })).rejects.toThrow(
      'tenant="evil\\n[ERROR] forged"',
    );
    pool.release(r);
  });
});

describe('Pool: tenant binding', () => {
  it('binds on acquire, keeps the binding for the same tenant (affinity), unbinds before another tenant', async () => {
    const binding = new FakeBinding();
    const { pool } = mk({ tenantBinding: binding });
    const r = await pool.acquire({ organisationId: 'A' });
    expect(r.session).toBe('A');
    pool.release(r);
    expect(binding.calls).toEqual([`bind:${r.id}:A`]); // lazy: no unbind on release
    const again = await pool.acquire({ organisationId: 'A' });
    expect(again).toBe(r);
    expect(binding.calls).toEqual([`bind:${r.id}:A`]); // affinity: no round trip
    pool.release(again);
    const forB = await pool.acquire({ organisationId: 'B' });
    expect(forB).toBe(r);
    expect(forB.session).toBe('B');
    expect(binding.calls).toEqual([`bind:${r.id}:A`, `unbind:${r.id}:A`, `bind:${r.id}:B`]);
    pool.release(forB);
    // An untenanted caller never sees B's state either.
    const plain = await pool.acquire();
    expect(plain.session).toBeUndefined();
    pool.release(plain);
  });

  it('uses rebind (one round trip) to switch tenants when the binding offers it', async () => {
    const binding = new FakeBinding().useRebind();
    const { pool } = mk({ tenantBinding: binding });
    const r = await pool.acquire({ organisationId: 'A' });
    pool.release(r);
    const forB = await pool.acquire({ organisationId: 'B' });
    expect(forB.session).toBe('B');
    expect(binding.calls).toEqual([`bind:${r.id}:A`, `rebind:${r.id}:A->B`]);
    pool.release(forB);
    binding.failUnbind = true;
    const forC = await pool.acquire({ organisationId: 'C' });
    expect(forC).not.toBe(r);
    expect(r.destroyed).toBe(true);
    pool.release(forC);
  });

  it('prefers the idle resource already bound to the tenant', async () => {
    const binding = new FakeBinding();
    const { pool } = mk({ tenantBinding: binding });
    const a = await pool.acquire({ organisationId: 'A' });
    const b = await pool.acquire({ organisationId: 'B' });
    pool.release(a);
    pool.release(b); // b is on top of the LIFO stack
    binding.calls = [];
    const gotA = await pool.acquire({ organisationId: 'A' });
    expect(gotA).toBe(a);
    expect(binding.calls).toEqual([]);
    pool.release(gotA);
  });

  it('unbindOnRelease unbinds on every release', async () => {
    const binding = new FakeBinding(true);
    const { pool } = mk({ tenantBinding: binding });
    const r = await pool.acquire({ organisationId: 'A' });
    pool.release(r);
    await sleep(1);
    expect(r.session).toBeUndefined();
    expect(binding.calls).toEqual([`bind:${r.id}:A`, `unbind:${r.id}:A`]);
    expect(pool.stats()).toMatchObject({ idle: 1, inUse: 0 });
  });

  it('a failed unbind destroys the resource: it never reaches the next tenant', async () => {
    const binding = new FakeBinding();
    const { pool, logger } = mk({ tenantBinding: binding });
    const r = await pool.acquire({ organisationId: 'A' });
    pool.release(r);
    binding.failUnbind = true;
    const forB = await pool.acquire({ organisationId: 'B' });
    expect(forB).not.toBe(r);
    expect(r.destroyed).toBe(true);
    expect(forB.session).toBe('B');
    expect(logger.lines.some((l) => l.includes('tenantBinding.unbind failed for tenant "A"'))).toBe(true);
    pool.release(forB);
  });

  it('a failed unbind on release (unbindOnRelease) destroys the resource', async () => {
    const binding = new FakeBinding(true);
    const { pool } = mk({ tenantBinding: binding });
    const r = await pool.acquire({ organisationId: 'A' });
    binding.failUnbind = true;
    pool.release(r);
    await sleep(1);
    expect(r.destroyed).toBe(true);
    expect(pool.stats().size).toBe(0);
  });

  it('a use() whose callback releases its own resource still fails when that release’s unbind failed', async () => {
    const binding = new FakeBinding(true);
    const { pool } = mk({ tenantBinding: binding });
    binding.failUnbind = true;
    const err = await pool
      .use(
        (r) => {
          pool.release(r); // ends the lease itself: the unbind (COMMIT) runs here and fails
          return 'done';
        },
        { organisationId: 'A' },
      )
      .then(
        (v) => v,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(PoolUnbindError);
    expect((err as PoolUnbindError).organisationId).toBe('A');
    expect(String((err as Error).cause)).toMatch(/unbind failed/);
    // With a working unbind the same self-release stands.
    binding.failUnbind = false;
    await expect(
      pool.use(
        (r) => {
          pool.release(r);
          return 'fine';
        },
        { organisationId: 'A' },
      ),
    ).resolves.toBe('fine');
  });

  it('never lends a resource that reported an error while it was being bound', async () => {
    const binding = new FakeBinding();
    binding.delayMs = 20;
    const { pool, factory } = mk({ tenantBinding: binding });
    const first = pool.acquire({ organisationId: 'A' });
    await sleep(5);
    // The bind is in flight; the connection dies (pg emits 'error') before it answers.
    const [r0] = [...factory.live];
    expect(binding.calls).toEqual([`bind:${r0.id}:A`]);
    r0.emit('error', new Error('terminating connection'));
    const got = await first;
    expect(got).not.toBe(r0); // a fresh resource, bound again
    expect(r0.destroyed).toBe(true);
    pool.release(got);
    await pool.close();
  });

  it('a use() whose loan close() destroyed before its unbind (unbindOnRelease) fails the call: its work was rolled back', async () => {
    // A use() whose callback is still running when close() gives up waiting (20 ms) for its loan.
    const heldThroughClose = async (binding: FakeBinding): Promise<unknown> => {
      const { pool } = mk({ tenantBinding: binding, shutdownTimeoutMs: 20 });
      let finish!: () => void;
      const running = pool.use(
        async () => {
          await new Promise<void>((r) => (finish = r));
          return 'done';
        },
        { organisationId: 'A' },
      );
      await sleep(5);
      await pool.close(); // destroys the loan without its unbind
      finish();
      return running.then(
        (v) => v,
        (e: unknown) => e,
      );
    };
    const binding = new FakeBinding(true);
    const err = await heldThroughClose(binding);
    expect(err).toBeInstanceOf(PoolUnbindError);
    expect((err as PoolUnbindError).organisationId).toBe('A');
    expect(String((err as Error).cause)).toMatch(
      /close\(\) destroyed the resource .* before tenantBinding\.unbind ran/,
    );
    expect(binding.calls.filter((c) => c.startsWith('unbind'))).toEqual([]);
    // Without an unbind owed (session-style binding) the call stands.
    expect(await heldThroughClose(new FakeBinding())).toBe('done');
  });

  it('a resource that breaks during a use() owing an unbind (unbindOnRelease) fails the call: its work was never committed', async () => {
    const binding = new FakeBinding(true);
    const { pool } = mk({ tenantBinding: binding });
    let seen: FakeResource | undefined;
    const err = await pool
      .use(
        (r) => {
          seen = r;
          // The connection dies after the callback's work succeeded (a pg.Client emits 'error').
          r.emit('error', new Error('terminating connection due to administrator command'));
          return 'done';
        },
        { organisationId: 'A' },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(PoolUnbindError);
    expect((err as PoolUnbindError).organisationId).toBe('A');
    expect((err as Error).message).toMatch(/broke during the lease, so tenantBinding\.unbind could not run/);
    expect(String(((err as Error).cause as Error).cause)).toMatch(/administrator command/);
    expect(binding.calls).toEqual([`bind:${seen!.id}:A`]);
    await sleep(1);
    expect(seen!.destroyed).toBe(true);
    // Without an unbind owed (session-style binding) the call stands: the broken resource just goes.
    const session = mk({ tenantBinding: new FakeBinding() }).pool;
    let r2: FakeResource | undefined;
    await expect(
      session.use(
        (r) => {
          r2 = r;
          r.emit('error', new Error('gone'));
          return 'done';
        },
        { organisationId: 'A' },
      ),
    ).resolves.toBe('done');
    await sleep(1);
    expect(r2!.destroyed).toBe(true);
  });

  it('a failed bind destroys the resource and the caller gets another', async () => {
    const binding = new FakeBinding();
    const { pool } = mk({ tenantBinding: binding });
    binding.failBind = true;
    const p = pool.acquire({ organisationId: 'A', timeoutMs: 100 });
    await sleep(5);
    binding.failBind = false;
    const r = await p;
    expect(r.session).toBe('A');
    expect(pool.stats().destroyed).toBeGreaterThanOrEqual(1);
    pool.release(r);
  });

  it('a throw inside use() with a binding destroys the resource', async () => {
    const binding = new FakeBinding();
    const { pool } = mk({ tenantBinding: binding });
    let seen: FakeResource | undefined;
    await expect(
      pool.use(
        (r) => {
          seen = r;
          throw new Error('failed mid-transaction');
        },
        { organisationId: 'A' },
      ),
    ).rejects.toThrow('failed mid-transaction');
    await sleep(1);
    expect(seen!.destroyed).toBe(true);
  });

  it('no resource ever reaches tenant B carrying tenant A state (randomised)', async () => {
    const binding = new FakeBinding();
    binding.delayMs = 1;
    const { pool } = mk({ tenantBinding: binding, max: 3 });
    const tenants = ['A', 'B', 'C', 'D', undefined];
    let violations = 0;
    let served = 0;
    let handlerFailures = 0;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const org = tenants[(i * 7) % tenants.length];
        return pool
          .use(
            async (r) => {
              served++;
              if (r.session !== org) violations++;
              await sleep(i % 3);
              if (i % 17 === 0) throw new Error('handler failure');
            },
            { organisationId: org },
          )
          .catch((err: unknown) => {
            // Only the handler's own failures are expected; anything else (a timeout) fails the test.
            if ((err as Error).message !== 'handler failure') throw err;
            handlerFailures++;
          });
      }),
    );
    expect(served).toBe(200);
    expect(handlerFailures).toBe(12);
    expect(violations).toBe(0);
  });
});

describe('Pool: maxPerTenant and fairness', () => {
  it('caps what one tenant holds while others are served from idle', async () => {
    const { pool } = mk({ max: 5, maxPerTenant: 2 });
    const a1 = await pool.acquire({ organisationId: 'A' });
    const a2 = await pool.acquire({ organisationId: 'A' });
    const extra = await Promise.all([pool.acquire(), pool.acquire()]);
    extra.forEach((r) => pool.release(r)); // 2 idle now
    let a3: FakeResource | undefined;
    const p = pool.acquire({ organisationId: 'A' }).then((r) => (a3 = r));
    await sleep(5);
    expect(a3).toBeUndefined();
    expect(pool.stats().tenants.A).toMatchObject({ inUse: 2, waiting: 1 });
    const b = await pool.acquire({ organisationId: 'B' });
    expect(pool.stats().idle).toBe(1);
    pool.release(a1);
    await p;
    expect(a3).toBe(a1); // the released resource goes to A's waiter
    [a2, a3!, b].forEach((r) => pool.release(r));
  });

  it('a quiet tenant waits about one hold time, not behind a noisy tenant with 100 queued', async () => {
    const hold = 40;
    const { pool } = mk({ max: 5 });
    const noisyDone: number[] = [];
    const noisy = Array.from({ length: 100 }, (_, i) =>
      pool.use(
        async () => {
          await sleep(hold);
          noisyDone.push(i);
        },
        { organisationId: 'noisy' },
      ),
    );
    await sleep(5);
    const t0 = Date.now();
    await pool.use(async () => undefined, { organisationId: 'quiet' });
    const quietWait = Date.now() - t0;
    // FIFO would make it wait 100/5 = 20 holds (800 ms).
    expect(quietWait).toBeLessThan(hold * 2);
    await Promise.all(noisy);
    // FIFO within the noisy tenant.
    expect(noisyDone.slice(0, 5).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
    expect(pool.stats().tenants.quiet).toMatchObject({ acquired: 1, waiting: 0 });
    expect(pool.stats().tenants.noisy.waitP99Ms).toBeGreaterThan(hold * 10);
  });

  it('dispatches round-robin across waiting tenants, FIFO within each', async () => {
    const { pool } = mk({ max: 1 });
    const r = await pool.acquire();
    const order: string[] = [];
    const reqs = [
      ['A', 1],
      ['A', 2],
      ['A', 3],
      ['B', 1],
      ['B', 2],
      ['C', 1],
    ] as const;
    const all = reqs.map(([org, n]) =>
      pool.acquire({ organisationId: org }).then((x) => {
        order.push(`${org}${n}`);
        pool.release(x);
      }),
    );
    pool.release(r);
    await Promise.all(all);
    expect(order).toEqual(['A1', 'B1', 'C1', 'A2', 'B2', 'A3']);
  });

  it('bounds per-tenant stats by maxTrackedTenants', async () => {
    const { pool } = mk({ maxTrackedTenants: 10 });
    for (let i = 0; i < 50; i++) pool.release(await pool.acquire({ organisationId: `t${i}` }));
    const n = Object.keys(pool.stats().tenants).length;
    expect(n).toBeLessThanOrEqual(10);
    expect(pool.stats().tenants.t49).toBeDefined();
  });
});

describe('Pool: hooks that never settle are bounded by createTimeoutMs', () => {
  it('a hung bind destroys the resource, and the caller is served by a fresh one', async () => {
    const binding = new FakeBinding();
    let hang = true;
    const bind = binding.bind.bind(binding);
    binding.bind = (r, org) => (hang ? ((hang = false), new Promise<void>(() => undefined)) : bind(r, org));
    const { pool, factory, logger } = mk({ max: 2, createTimeoutMs: 100, tenantBinding: binding });
    const r = await pool.acquire({ organisationId: 'acme', timeoutMs: 2_000 });
    expect(r.session).toBe('acme');
    expect(factory.destroyCalls).toBe(1);
    expect(logger.lines.some((l) => l.includes('tenantBinding.bind did not settle within 100 ms'))).toBe(
      true,
    );
    pool.release(r);
  });

  it('close() with a hung unbind destroys each resource exactly once', async () => {
    const binding = new FakeBinding(true); // unbind on release
    const { pool, factory } = mk({
      max: 1,
      createTimeoutMs: 150,
      shutdownTimeoutMs: 20,
      tenantBinding: binding,
    });
    const r = await pool.acquire({ organisationId: 'acme' });
    binding.unbind = () => new Promise<void>(() => undefined);
    pool.release(r);
    await pool.close();
    await sleep(250); // past the unbind bound: its late failure must not destroy again
    expect(factory.destroyCalls).toBe(1);
    expect(pool.stats()).toMatchObject({ size: 0, destroyed: 1, created: 1 });
  });
});
