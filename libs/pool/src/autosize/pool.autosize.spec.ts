/** The controller wired into the real Pool, on real timers with short windows. */
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { Pool } from '../pool';
import { PoolTimeoutError } from '../pool.errors';
import type { PoolEvent } from '../pool.types';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newPool(autoSize: ConstructorParameters<typeof Pool<object>>[0]['autoSize'], max = 8) {
  let n = 0;
  let live = 0;
  const pool = new Pool<object>({
    factory: {
      create: async () => {
        live++;
        return { id: ++n };
      },
      destroy: () => {
        live--;
      },
    },
    max,
    logger: quiet,
    maintenanceIntervalMs: 10,
    autoSize,
  });
  return { pool, live: () => live };
}

describe('Pool with autoSize', () => {
  it('decays to peak use by retiring idle resources only, emits resize, then lends at most the limit', async () => {
    const { pool, live } = newPool({ windowMs: 40, decayAfterMs: 80, decayFactor: 1 });
    const resizes = firstValueFrom(
      pool.events$.pipe(
        filter((e): e is Extract<PoolEvent, { type: 'resize' }> => e.type === 'resize'),
        take(1),
        toArray(),
      ),
    );
    // Six resources exist; two stay leased for the whole test.
    const burst = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
    const kept = burst.slice(0, 2);
    for (const r of burst.slice(2)) pool.release(r);
    expect(pool.stats()).toMatchObject({ size: 6, autoSize: { limit: 8 } });
    // Quiet for a while: the limit falls to the peak seen in the decay period, which is 2 once the burst has aged out.
    for (let i = 0; i < 100 && pool.stats().autoSize!.limit > 2; i++) await sleep(20);
    const s = pool.stats();
    expect(s.autoSize).toMatchObject({ limit: 2, reason: expect.stringMatching(/decay|steady/) });
    expect(s.autoSize!.adjustments).toBeGreaterThanOrEqual(1);
    expect(s.size).toBe(2);
    expect(live()).toBe(2);
    // The two leases were never taken back.
    expect(pool.leaseInfo(kept[0])).toBeDefined();
    expect(pool.leaseInfo(kept[1])).toBeDefined();
    expect((await resizes)[0]).toMatchObject({ type: 'resize', from: 8, reason: 'decay' });
    expect((await resizes)[0].to).toBeLessThan(8);
    // At the limit: a third caller waits (and times out) although max is 8.
    await expect(pool.acquire({ timeoutMs: 30 })).rejects.toBeInstanceOf(PoolTimeoutError);
    expect(pool.stats().size).toBe(2);
    for (const r of kept) pool.release(r);
    await pool.close();
  });

  it('retires a lease above a lowered limit when it comes back, never while it is held', async () => {
    const { pool, live } = newPool({ windowMs: 30 }, 4);
    const held = await Promise.all(Array.from({ length: 4 }, () => pool.acquire()));
    // A timeout backs the limit off (4 × 0.8 → 3) while all four are leased.
    await expect(pool.acquire({ timeoutMs: 5 })).rejects.toBeInstanceOf(PoolTimeoutError);
    for (let i = 0; i < 50 && pool.stats().autoSize!.limit === 4; i++) await sleep(10);
    expect(pool.stats()).toMatchObject({ size: 4, inUse: 4, autoSize: { limit: 3, reason: 'timeout' } });
    expect(live()).toBe(4);
    pool.release(held[0]); // above the limit: retired instead of going idle
    expect(pool.stats()).toMatchObject({ size: 3, idle: 0 });
    pool.release(held[1]); // at the limit: kept
    expect(pool.stats()).toMatchObject({ size: 3, idle: 1 });
    for (const r of held.slice(2)) pool.release(r);
    await pool.close();
  });

  it('backs off when PostgreSQL refuses a connection with SQLSTATE 53300', async () => {
    let refuse = false;
    const pool = new Pool<object>({
      factory: {
        create: async () => {
          if (refuse) throw Object.assign(new Error('sorry, too many clients already'), { code: '53300' });
          return {};
        },
        destroy: () => undefined,
      },
      max: 10,
      logger: quiet,
      maintenanceIntervalMs: 10,
      createRetry: { initialDelayMs: 5, maxDelayMs: 5 },
      autoSize: { windowMs: 30 },
    });
    const held = await Promise.all(Array.from({ length: 5 }, () => pool.acquire()));
    refuse = true;
    const waiting = pool.acquire({ timeoutMs: 200 }).catch((e: unknown) => e);
    for (let i = 0; i < 50 && pool.stats().autoSize!.reason !== 'too-many-connections'; i++) await sleep(10);
    // At most 0.8 × the 5 it holds: the server has no slot for a sixth.
    expect(pool.stats().autoSize).toMatchObject({ limit: 4, reason: 'too-many-connections' });
    expect(pool.stats().size).toBe(5); // nothing leased was taken back
    for (const r of held) pool.release(r);
    expect(pool.stats().size).toBeLessThanOrEqual(4);
    // The waiter is served by a returned resource once the pool is back at the limit.
    const got = await waiting;
    expect(got).not.toBeInstanceOf(Error);
    pool.release(got as object);
    await pool.close();
  });

  it('reports a Little-law recommendation with the numbers it used, with autoSize off', async () => {
    const { pool } = newPool(undefined, 20);
    // A default sizing window (1 s) must close while the load runs.
    const until = Date.now() + 1300;
    // 4 workers each holding ~10 ms: L ≈ 4.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (Date.now() < until) await pool.use(() => sleep(10));
      }),
    );
    const s = pool.stats();
    expect(s.autoSize).toBeUndefined();
    const z = s.sizing;
    expect(z.baselineHoldMs).toBeGreaterThanOrEqual(9);
    expect(z.arrivalRatePerSec).toBeGreaterThan(0);
    expect(z.concurrency).toBeCloseTo((z.arrivalRatePerSec / 1000) * z.baselineHoldMs!, 6);
    expect(z.littleSafety).toBe(4);
    expect(z.recommended).toBe(Math.ceil(z.concurrency! + 4 * Math.sqrt(z.concurrency!)));
    await pool.close();
  });
  it('samples enough leases in every window to see a slowdown, once the stats window is full', async () => {
    // Regression: after 64 samples the pool samples 1 lease in 8, so a slow window (a few long
    // leases) had no hold sample at all, kept its "healthy" verdict and grew on the queue it caused.
    // Starts at 3 of max 8, so growth is possible and the "never grows" assertion can fail.
    const { pool } = newPool({ windowMs: 100, minHoldSamples: 4, growAfterWindows: 1, initialLimit: 3 }, 8);
    const fast = Date.now() + 400;
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        while (Date.now() < fast) await pool.use(() => sleep(1));
      }),
    );
    const baseline = pool.stats().sizing.baselineHoldMs!;
    expect(baseline).toBeLessThan(15);
    const resizes: Extract<PoolEvent, { type: 'resize' }>[] = [];
    const sub = pool.events$.subscribe((e) => {
      if (e.type === 'resize') resizes.push(e);
    });
    const limit = pool.stats().autoSize!.limit;
    expect(limit).toBe(3);
    // A quiet gap longer than a window, so no window mixes the fast phase's healthy holds with the
    // slow phase's queue (such a window is judged on the healthy holds it mostly holds).
    await sleep(150);
    // Now every lease takes 60 ms and callers queue behind them: about 1.7 completions per window
    // and per resource. Each window must see them, judge it congested, and never grow.
    const slow = Date.now() + 700;
    await Promise.all(
      Array.from({ length: limit + 3 }, async () => {
        while (Date.now() < slow) await pool.use(() => sleep(60));
      }),
    );
    sub.unsubscribe();
    expect(pool.stats().sizing.holdMs).toBeGreaterThan(50);
    expect(resizes.filter((e) => e.to > e.from)).toEqual([]);
    expect(pool.stats().autoSize!.reason).toBe('congested');
    await pool.close();
  });
});
