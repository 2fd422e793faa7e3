import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { FleetWorker, pct } from './fleet/fleet';
import { TestRedisServer } from './helpers/redis-server';

jest.setTimeout(120_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Several node processes, each with its own RedisTier, against a private redis-server: what one
 * process does must be seen by the others, and a cold key must cost one load for the whole fleet.
 */
describe('RedisTier fleet: several processes on one private redis-server', () => {
  const server = new TestRedisServer(false);
  const workers: FleetWorker[] = [];
  let prefix: string;

  const spawn = async (n: number, env: Record<string, string> = {}): Promise<FleetWorker[]> => {
    const ws = Array.from(
      { length: n },
      () => new FleetWorker({ REDIS_URL: server.url, TIER_PREFIX: prefix, ...env }),
    );
    workers.push(...ws);
    const ready = await Promise.all(ws.map((w) => w.ready()));
    expect(ready).toEqual(ws.map(() => true));
    return ws;
  };

  beforeAll(async () => {
    await server.start();
  });
  beforeEach(() => {
    prefix = `f${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('a 1,000-caller stampede across 4 processes makes exactly 1 loader call, and all agree on the version', async () => {
    const ws = await spawn(4);
    const ref = { resource: 'catalog', key: 'catalog', tenant: 'acme' };
    const startAt = Date.now() + 300;
    const t0 = Date.now();
    const results = await Promise.all(
      ws.map((w) =>
        w.call<{
          loaderCalls: number;
          versions: unknown[];
          values: string[];
          sources: Record<string, number>;
        }>({
          op: 'stampede',
          ref,
          callers: 250,
          loadMs: 200,
          startAt,
        }),
      ),
    );
    const wall = Date.now() - startAt;
    const calls = results.reduce((s, r) => s + r.loaderCalls, 0);
    const versions = new Set(results.flatMap((r) => r.versions));
    const values = new Set(results.flatMap((r) => r.values));
    console.log(
      `stampede: 1000 callers / 4 processes -> ${calls} loader call(s), wall ${wall} ms (load 200 ms), ` +
        `sources ${JSON.stringify(results.map((r) => r.sources))} (setup ${startAt - t0} ms)`,
    );
    expect(calls).toBe(1);
    expect([...versions]).toEqual([1]);
    expect(values.size).toBe(1);
  });

  it('an invalidation on one process reaches every other process quickly, with the same version', async () => {
    const ws = await spawn(3);
    const [a, b, c] = ws;
    const lat: number[] = [];
    const rounds = 200;
    for (let i = 0; i < rounds; i++) {
      const key = `k${i}`;
      const { sentAt, version } = await a.call<{ sentAt: number; version: number }>({
        op: 'invalidate',
        ref: { resource: 'settings', key, tenant: 'acme' },
      });
      const hit = (w: FleetWorker): Record<string, unknown> | undefined =>
        w.events.find((e) => e.key === key);
      await until(() => hit(b) !== undefined && hit(c) !== undefined, 3_000, `invalidation ${key}`);
      for (const w of [b, c]) {
        const e = hit(w)!;
        expect(e).toMatchObject({ type: 'invalidate', tenant: 'acme', version, origin: expect.any(String) });
        lat.push((e.receivedAt as number) - sentAt);
      }
    }
    expect(a.events.filter((e) => e.type === 'invalidate')).toHaveLength(0);
    const p50 = pct(lat, 0.5);
    const p99 = pct(lat, 0.99);
    console.log(
      `cross-process invalidation latency over ${lat.length} deliveries: p50 ${p50} ms, p99 ${p99} ms`,
    );
    // Target 50 ms on an idle loopback; a loaded shared CI machine gets more room here.
    expect(p99).toBeLessThan(250);
    const stats = await b.call<{ invalidationsReceived: number; busLagMs: { p99: number } }>({ op: 'stats' });
    expect(stats.invalidationsReceived).toBe(rounds);
  });

  it('a lease holder stopped with SIGSTOP loses the lease, and after SIGCONT cannot overwrite the newer version', async () => {
    const [a, b] = await spawn(2, { TIER_LEASE_MS: '300' });
    const ref = { resource: 'settings', key: 'stall', tenant: 'acme' };
    const stalled = a.call<{
      value: string;
      version: number;
      source: string;
      stats: { writesRejected: number };
    }>({ op: 'getOrLoad', ref, value: 'from-stalled', loadMs: 400 }, 30_000);
    await until(() => a.notes.some((n) => 'loading' in n), 10_000, 'a to start loading');
    a.proc.kill('SIGSTOP');
    try {
      await sleep(600); // the 300 ms lease expires: no renewal runs in a stopped process
      const fresh = await b.call<{ value: string; version: number; source: string }>({
        op: 'getOrLoad',
        ref,
        value: 'from-b',
        loadMs: 10,
      });
      expect(fresh).toMatchObject({ value: 'from-b', version: 2, source: 'leader' });
    } finally {
      a.proc.kill('SIGCONT');
    }
    const late = await stalled;
    expect(late).toMatchObject({ value: 'from-stalled', version: 1, source: 'leader' });
    expect(late.stats.writesRejected).toBe(1);
    const redis = new Redis(server.url);
    try {
      const entry = await redis.hgetall(`${prefix}:{t.acme}:e:settings:stall`);
      expect(entry.v).toBe('2');
      expect(JSON.parse(entry.d)).toBe('from-b');
    } finally {
      redis.disconnect();
    }
  });

  it('Redis killed for 10 s under steady load from 3 processes: 0 failed calls, bounded latency, queued invalidations delivered after restart', async () => {
    const own = new TestRedisServer(true);
    await own.start();
    try {
      const ws = Array.from(
        { length: 3 },
        () => new FleetWorker({ REDIS_URL: own.url, TIER_PREFIX: prefix, TIER_COMMAND_TIMEOUT_MS: '100' }),
      );
      workers.push(...ws);
      expect(await Promise.all(ws.map((w) => w.ready()))).toEqual([true, true, true]);
      const [a, b, c] = ws;
      const load = ws.map((w) =>
        w.call<{ ok: number; failed: number; worstMs: number; sources: Record<string, number> }>(
          { op: 'steady', ref: { resource: 'r', key: 'steady', tenant: 'acme' }, durationMs: 14_000 },
          30_000,
        ),
      );
      await sleep(1_500);
      await own.kill();
      const downAt = Date.now();
      await sleep(500);
      const queued = [];
      for (let i = 0; i < 5; i++)
        queued.push(
          await a.call<{ version: number | undefined }>({
            op: 'invalidate',
            ref: { resource: 'r', key: `q${i}`, tenant: 'acme' },
          }),
        );
      expect(queued.every((q) => q.version === undefined)).toBe(true);
      expect(await a.call<{ queuedInvalidations: number; state: string }>({ op: 'stats' })).toMatchObject({
        queuedInvalidations: 5,
        state: 'degraded',
      });
      await sleep(10_000 - (Date.now() - downAt));
      await own.start();
      const results = await Promise.all(load);
      for (const r of results) {
        expect(r.failed).toBe(0);
        expect(r.sources.local).toBeGreaterThan(0); // served by local loads while Redis was down
        expect(r.sources.leader).toBeGreaterThan(0);
      }
      const worst = Math.max(...results.map((r) => r.worstMs));
      console.log(
        `10 s outage: ${results.map((r) => `${r.ok} ok / ${r.failed} failed, sources ${JSON.stringify(r.sources)}`).join('; ')}; worst call ${worst.toFixed(0)} ms`,
      );
      expect(worst).toBeLessThan(1_000);
      for (const w of [b, c]) {
        await until(
          () =>
            ['q0', 'q1', 'q2', 'q3', 'q4'].every((k) =>
              w.events.some((e) => e.type === 'invalidate' && e.key === k),
            ),
          10_000,
          'queued invalidations',
        );
        const states = w.events.filter((e) => e.type === 'state').map((e) => e.state);
        expect(states).toContain('degraded');
        expect(states[states.length - 1]).toBe('connected');
      }
      expect(await a.call<{ queuedInvalidations: number; state: string }>({ op: 'stats' })).toMatchObject({
        queuedInvalidations: 0,
        state: 'connected',
      });
    } finally {
      await own.dispose();
    }
  });

  it('through LazyLoaderCore in 4 processes: 1,000 gets of a cold key make 1 load; a reload on one is seen by the others', async () => {
    const ws = await spawn(4);
    const startAt = Date.now() + 300;
    const rs = await Promise.all(
      ws.map((w) =>
        w.call<{ coreLoads: number; version: number; values: string[] }>({
          op: 'coreStampede',
          callers: 250,
          startAt,
        }),
      ),
    );
    expect(rs.reduce((n, r) => n + r.coreLoads, 0)).toBe(1);
    expect(rs.map((r) => r.version)).toEqual([1, 1, 1, 1]);
    expect(new Set(rs.flatMap((r) => r.values)).size).toBe(1);

    const [a, ...others] = ws;
    const watching = others.map((w) =>
      w.call<{ seenAt: number; version: number; value: { load: number } }>({
        op: 'coreWatch',
        minVersion: 2,
        timeoutMs: 10_000,
      }),
    );
    const reload = await a.call<{ sentAt: number; version: number; value: { load: number } }>({
      op: 'coreReload',
    });
    expect(reload.version).toBe(2);
    const seen = await Promise.all(watching);
    for (const s of seen) {
      expect(s.version).toBe(2);
      expect(s.value).toEqual(reload.value); // the same value under the same version everywhere
    }
    console.log(
      `reload seen by the other 3 processes after ${seen.map((s) => s.seenAt - reload.sentAt).join(', ')} ms (200 ms load included)`,
    );
  });
});
