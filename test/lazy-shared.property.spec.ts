import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { LazyLoaderCore } from '@reservoir/lazy/lazy-loader.core';
import { RedisTier } from '@reservoir/lazy/redis';
import { TestRedisServer } from './helpers/redis-server';
import { TcpProxy } from './helpers/tcp-proxy';

jest.setTimeout(180_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Op =
  | { op: 'get'; who: number; key: number }
  | { op: 'reload'; who: number; key: number }
  | { op: 'invalidate'; who: number; key: number }
  | { op: 'cut'; who: number }
  | { op: 'restore'; who: number }
  | { op: 'pause'; ms: number };

const who = fc.integer({ min: 0, max: 2 });
const key = fc.integer({ min: 0, max: 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('get' as const), who, key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('reload' as const), who, key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('invalidate' as const), who, key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cut' as const), who }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restore' as const), who }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 30 }) }),
  },
);

/**
 * Random interleavings of get, reload, invalidate, disconnect and reconnect across 3 loaders, each
 * with its own tier on its own connections (through a proxy the test can cut). Invariant: once a
 * loader has received an invalidation or update of a key to version v, it never again returns a
 * version of that key below v; and no loader ever returns a version below one it returned before.
 */
describe('shared tier property: versions never go backward for a loader', () => {
  const server = new TestRedisServer(false);
  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('holds over random interleavings (seeded, replayable)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 30 }), async (ops) => {
        const prefix = `p${randomUUID().slice(0, 8)}`;
        const proxies = [0, 1, 2].map(() => new TcpProxy(server.port));
        await Promise.all(proxies.map((p) => p.start()));
        const tiers = proxies.map(
          (p) =>
            new RedisTier({ url: p.url, prefix, commandTimeoutMs: 100, breakerOpenMs: 50, fleetWaitMs: 300 }),
        );
        await Promise.all(tiers.map((t) => t.ready(3_000)));
        const cores = tiers.map(
          (t) => new LazyLoaderCore({ shared: t, tenantScoped: false, retry: { attempts: 1 } }),
        );
        let n = 0;
        for (const c of cores) for (const k of ['k0', 'k1']) c.register(k, () => ({ n: ++n }));
        const returned = cores.map(() => new Map<string, number>());
        const received = tiers.map(() => new Map<string, number>());
        tiers.forEach((t, i) =>
          t.onEvent((e) => {
            if (e.type === 'invalidate' || e.type === 'set') {
              const floor = e.type === 'set' ? e.version : e.version + 1;
              received[i].set(e.key, Math.max(received[i].get(e.key) ?? 0, floor));
            }
          }),
        );
        try {
          for (const o of ops) {
            if (o.op === 'pause') await sleep(o.ms);
            else if (o.op === 'cut') proxies[o.who].cut();
            else if (o.op === 'restore') proxies[o.who].restore();
            else {
              const k = `k${o.key}`;
              const c = cores[o.who];
              if (o.op === 'invalidate') {
                c.invalidate(k);
                continue;
              }
              const floorReceived = received[o.who].get(k) ?? 0;
              if (o.op === 'get') await c.get(k);
              else await c.reload(k);
              const v = c.version(k);
              if (v === 0) continue; // the load was discarded by a racing invalidation: nothing cached
              const before = returned[o.who].get(k) ?? 0;
              if (v < before) throw new Error(`loader ${o.who} returned ${k} v${v} after v${before}`);
              if (v < floorReceived && floorReceived > 0)
                throw new Error(`loader ${o.who} returned ${k} v${v} after receiving v${floorReceived}`);
              returned[o.who].set(k, v);
            }
          }
        } finally {
          for (const c of cores) c.close();
          await Promise.all(tiers.map((t) => t.close()));
          await Promise.all(proxies.map((p) => p.close()));
        }
      }),
      {
        numRuns: Number(process.env.PROPERTY_RUNS ?? 15),
        seed: Number(process.env.PROPERTY_SEED ?? 20261202),
      },
    );
  });
});
