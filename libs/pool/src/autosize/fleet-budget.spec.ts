/*
 * The fleet lease: the Lua scripts against the shared Redis (a random key per test, deleted after),
 * and the pool's reaction to grants and to a Redis that hangs (a small fake for the fault).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Pool } from '../pool';
import { LEASE_SCRIPT, RELEASE_SCRIPT, type FleetRedisClient } from './fleet-budget';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const silent = { log: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls `ok` every 10 ms for at most `ms` (the machine is shared: no fixed sleeps for async state). */
async function until(ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await sleep(10);
}

describe('fleet budget lease scripts (real Redis)', () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const key = `reservoir-test:fleet-spec:${randomBytes(6).toString('hex')}`;
  const lease = async (id: string, want: number, held: number, max = 10, ttl = 5000) =>
    (await redis.eval(LEASE_SCRIPT, 1, key, id, want, held, max, ttl)) as [number, number];

  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it('grants what fits, cuts an instance above its fair share, counts held excess, expires crashed shares', async () => {
    expect(await lease('a', 10, 0)).toEqual([10, 0]); // alone: all of it
    expect(await lease('b', 10, 0)).toEqual([0, 10]); // nothing left while a holds 10
    // a renews while b wants: cut to its fair share (10 / 2), but its 10 held still count for b
    expect(await lease('a', 10, 10)).toEqual([5, 0]);
    expect(await lease('b', 10, 0)).toEqual([0, 10]);
    // a's leases came back: it reports 5 held, so b gets the other 5
    expect(await lease('a', 10, 5)).toEqual([5, 0]);
    // b's last renewal, with a short TTL; then b crashes (stops renewing)
    expect(await lease('b', 10, 0, 10, 300)).toEqual([5, 5]);
    // after the TTL b's share is gone and a may take it
    await sleep(400);
    expect(await lease('a', 10, 5)).toEqual([10, 0]);
    expect(await redis.eval(RELEASE_SCRIPT, 1, key, 'a')).toBe(1);
    expect(await redis.hlen(key)).toBe(0);
  });
});

describe('Pool with autoSize.fleet', () => {
  const factory = { create: async () => ({}), destroy: async () => undefined };

  it('never lends beyond the leased share, and gives the share back on close', async () => {
    const key = `reservoir-test:fleet-pool:${randomBytes(6).toString('hex')}`;
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      // Another instance already holds 7 of the budget of 10.
      await redis.eval(LEASE_SCRIPT, 1, key, 'other', 7, 7, 10, 30_000);
      const pool = new Pool({
        factory,
        max: 10,
        acquireTimeoutMs: 300,
        logger: silent,
        autoSize: { windowMs: 50, fleet: { redis, key, maxConnections: 10, instanceId: 'me' } },
      });
      await until(2000, () => pool.stats().autoSize?.fleet?.state === 'leased');
      expect(pool.stats().autoSize?.fleet).toMatchObject({ leased: 3, others: 7, state: 'leased' });
      expect(pool.stats().autoSize?.limit).toBe(3);
      const held = await Promise.all([1, 2, 3].map(() => pool.acquire()));
      await expect(pool.acquire()).rejects.toThrow(/timed out|timeout/i);
      expect(pool.stats().size).toBe(3);
      for (const r of held) pool.release(r);
      await pool.close();
      expect(await redis.hexists(key, 'me')).toBe(0);
      expect(await redis.hexists(key, 'other')).toBe(1);
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });

  it('a Redis that hangs: every call is bounded, the pool freezes at what it holds and keeps serving', async () => {
    let grant = 4;
    let hang = false;
    const calls: number[] = [];
    // A fault-injecting stand-in: answers like the script (a fixed grant) until told to hang.
    const client: FleetRedisClient = {
      eval: (script: string) => {
        calls.push(Date.now());
        if (hang) return new Promise<never>(() => undefined);
        return Promise.resolve(script === LEASE_SCRIPT ? [grant, 0] : 1);
      },
    };
    const pool = new Pool({
      factory,
      max: 10,
      acquireTimeoutMs: 200,
      logger: silent,
      autoSize: {
        windowMs: 50,
        fleet: { redis: client, key: 'k', maxConnections: 10, leaseTtlMs: 600, timeoutMs: 50 },
      },
    });
    await until(2000, () => pool.stats().autoSize?.limit === 4);
    expect(pool.stats().autoSize?.limit).toBe(4);
    const a = await pool.acquire();
    const b = await pool.acquire();
    hang = true;
    grant = 10; // what it would get, were Redis answering
    // a renewal (every 200 ms) times out after 50 ms
    await until(2000, () => pool.stats().autoSize?.fleet?.state === 'unreachable');
    expect(pool.stats().autoSize?.fleet?.state).toBe('unreachable');
    expect(pool.stats().autoSize?.fleet?.failures).toBeGreaterThan(0);
    // Frozen at the 2 it holds: no new resource, but the held ones keep serving.
    expect(pool.stats().autoSize?.limit).toBe(2);
    pool.release(a);
    const again = await pool.acquire();
    expect(pool.stats().size).toBe(2);
    await expect(pool.acquire()).rejects.toThrow();
    expect(pool.stats().size).toBe(2);
    // Redis answers again: the grant applies.
    hang = false;
    await until(2000, () => pool.stats().autoSize?.fleet?.state === 'leased');
    expect(pool.stats().autoSize?.fleet?.state).toBe('leased');
    expect(pool.stats().autoSize?.limit).toBeGreaterThan(2);
    pool.release(b);
    pool.release(again);
    await pool.close();
  });
});
