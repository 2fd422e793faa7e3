/**
 * bench:lazy: the cache-hit path of @reservoir/lazy next to lru-cache (the promise-returning limit),
 * cache-manager 7 `wrap` and bentocache `getOrSet` (memory L1, defaults), interleaved in one plain
 * Node process; plus a 10,000-caller stampede on a cold key.
 *
 * Note: TenantContext.run() uses AsyncLocalStorage, which on Node 20 turns promise hooks on for the
 * whole process once used. Every case below runs under that same condition, so compare ratios.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TenantContext, TenantModule } from '@reservoir/tenant';
import { LazyLoader, LazyModule, LazyResource } from '@reservoir/lazy';
import { ReservoirMetricsCollector } from '@reservoir/metrics';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache } from 'cache-manager';
import { LRUCache } from 'lru-cache';
import { type Case, machineLine, median, ratioTable, runInterleaved, writeSection } from './lib/harness';
import { MEMORY_ENTRIES, bytesPerEntry, memoryTable, type MemoryCase } from './lib/lazy-memory';

const KEYS = Array.from({ length: 8 }, (_, i) => `sku-${i}`);
const BATCH = 1000;

@Injectable()
class PriceService {
  loads = 0;

  @LazyResource()
  async price(sku: string): Promise<number> {
    this.loads++;
    return sku.length;
  }
}

@Module({ imports: [TenantModule.forRoot(), LazyModule.forRoot()], providers: [PriceService] })
class BenchModule {}

const VALUE = { shared: true };

@Injectable()
class ItemService {
  @LazyResource({ tenantScoped: false })
  async item(sku: string): Promise<object> {
    void sku;
    return VALUE;
  }

  @LazyResource()
  async scopedItem(sku: string): Promise<object> {
    void sku;
    return VALUE;
  }
}

@Module({
  imports: [TenantModule.forRoot(), LazyModule.forRoot({ maxEntries: 2 * MEMORY_ENTRIES })],
  providers: [ItemService],
})
class MemoryModule {}

async function memoryRows(): Promise<{ name: string; bytes: number[] }[]> {
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `sku-${i}`);
  const lazyApp = async () => {
    const app = await NestFactory.createApplicationContext(MemoryModule, { logger: false });
    return { app, svc: app.get(ItemService), tenant: app.get(TenantContext) };
  };
  const cases: MemoryCase[] = [
    {
      name: 'lru-cache 11 `set`',
      make: async () => {
        const lru = new LRUCache<string, object>({ max: MEMORY_ENTRIES * 2 });
        return { ref: lru, fill: async (n) => void keys(n).forEach((k) => lru.set(k, VALUE)) };
      },
    },
    {
      name: 'cache-manager 7 `set` (memory)',
      make: async () => {
        const c = createCache();
        return {
          ref: c,
          fill: async (n) => {
            for (const k of keys(n)) await c.set(k, VALUE);
          },
        };
      },
    },
    {
      name: 'bentocache 1.6 `set` (memory L1)',
      make: async () => {
        const b = new BentoCache({
          default: 'memory',
          stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: MEMORY_ENTRIES * 2 })) },
        });
        return {
          ref: b,
          fill: async (n) => {
            for (const k of keys(n)) await b.set({ key: k, value: VALUE });
          },
          close: () => b.disconnect(),
        };
      },
    },
    {
      name: '@reservoir/lazy `@LazyResource` (global)',
      make: async () => {
        const { app, svc } = await lazyApp();
        return {
          ref: app,
          fill: async (n) => {
            for (const k of keys(n)) await svc.item(k);
          },
          close: () => app.close(),
        };
      },
    },
    {
      name: '@reservoir/lazy `@LazyResource` (tenant-scoped, 100 tenants x 1,000 keys)',
      make: async () => {
        const { app, svc, tenant } = await lazyApp();
        return {
          ref: app,
          fill: async (n) => {
            const per = n / 100;
            const ks = keys(per);
            for (let t = 0; t < 100; t++) {
              await tenant.run(`org-${t}`, async () => {
                for (const k of ks) await svc.scopedItem(k);
              });
            }
          },
          close: () => app.close(),
        };
      },
    },
  ];
  const rows = [];
  for (const c of cases) rows.push(await bytesPerEntry(c));
  return rows;
}

/** Runs `op` in batches until `durationMs` passed; returns the number of operations. */
async function loop(durationMs: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const end = performance.now() + durationMs;
  let ops = 0;
  while (performance.now() < end) {
    for (let i = 0; i < BATCH; i++) await op(i);
    ops += BATCH;
  }
  return ops;
}

async function stampede(
  name: string,
  makeCall: (key: string, loader: () => Promise<number>) => Promise<unknown>,
  reps = 5,
): Promise<string> {
  const walls: number[] = [];
  const calls: number[] = [];
  for (let r = 0; r < reps; r++) {
    let n = 0;
    const loader = async () => {
      n++;
      await new Promise((res) => setTimeout(res, 5));
      return 1;
    };
    const key = `cold-${name}-${r}`;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 10_000 }, () => makeCall(key, loader)));
    walls.push(performance.now() - t0);
    calls.push(n);
  }
  return `| ${name} | ${median(walls).toFixed(1)} ms | ${calls.join(', ')} |`;
}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const tenant = app.get(TenantContext);
  const lazy = app.get(LazyLoader);
  const svc = app.get(PriceService);
  lazy.register('global', async () => 42, { tenantScoped: false });
  lazy.register('scoped', async () => 42);

  // The same module again, with the metrics collector attached to its loader.
  const appM = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const lazyM = appM.get(LazyLoader);
  const svcM = appM.get(PriceService);
  lazyM.register('global', async () => 42, { tenantScoped: false });
  const collector = new ReservoirMetricsCollector({ pools: () => [], lazy: () => [lazyM] });
  // A third, observed through events$ (how the collector used to attach), for comparison.
  const appE = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const lazyE = appE.get(LazyLoader);
  lazyE.register('global', async () => 42, { tenantScoped: false });
  const sub = lazyE.events$.subscribe(() => undefined);

  const lru = new LRUCache<string, number>({ max: 1000 });
  for (const k of KEYS) lru.set(k, k.length);
  const cm = createCache();
  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({})) },
  });

  // warm every cache so the loops measure hits only
  await tenant.run('acme', async () => {
    for (const k of KEYS) {
      await svc.price(k);
      await lazy.get('scoped');
    }
  });
  await lazy.get('global');
  await tenant.run('acme', async () => {
    for (const k of KEYS) await svcM.price(k);
  });
  await lazyM.get('global');
  await lazyE.get('global');
  for (const k of KEYS) {
    await cm.wrap(k, async () => k.length);
    await bento.getOrSet({ key: k, factory: async () => k.length });
  }

  const cases: Case[] = [
    {
      name: '@LazyResource method, 1 arg, in TenantContext.run',
      run: (ms) => tenant.run('acme', () => loop(ms, (i) => svc.price(KEYS[i & 7]))),
    },
    {
      name: '@LazyResource method, 1 arg, in TenantContext.run, metrics collector attached',
      run: (ms) => tenant.run('acme', () => loop(ms, (i) => svcM.price(KEYS[i & 7]))),
    },
    { name: 'LazyLoader.get (global resource)', run: (ms) => loop(ms, () => lazy.get('global')) },
    {
      name: 'LazyLoader.get (global resource), metrics collector attached',
      run: (ms) => loop(ms, () => lazyM.get('global')),
    },
    {
      name: 'LazyLoader.get (global resource), events$ observed',
      run: (ms) => loop(ms, () => lazyE.get('global')),
    },
    {
      name: 'LazyLoader.get (tenant-scoped, in TenantContext.run)',
      run: (ms) => tenant.run('acme', () => loop(ms, () => lazy.get('scoped'))),
    },
    {
      name: 'limit: await Promise.resolve(lru.get(k))',
      run: (ms) => loop(ms, (i) => Promise.resolve(lru.get(KEYS[i & 7]))),
    },
    {
      name: 'cache-manager 7 wrap',
      run: (ms) =>
        loop(ms, (i) => {
          const k = KEYS[i & 7];
          return cm.wrap(k, async () => k.length);
        }),
    },
    {
      name: 'bentocache getOrSet (memory L1)',
      run: (ms) =>
        loop(ms, (i) => {
          const k = KEYS[i & 7];
          return bento.getOrSet({ key: k, factory: async () => k.length });
        }),
    },
  ];
  const results = await runInterleaved(cases);
  if (svc.loads !== KEYS.length) throw new Error(`hit loop loaded ${svc.loads - KEYS.length} extra time(s)`);

  // Ratios are taken within each round (both cases ran back to back under the same machine load),
  // and the median of those is reported: on a shared machine whole rounds swing by 2-3x.
  const rounds = (name: string) => results.find((r) => r.name === name || r.name.startsWith(name))!.rounds;
  const paired = (a: string, b: string) => {
    const rb = rounds(b);
    return median(rounds(a).map((x, i) => x / rb[i]));
  };
  const decoratedVsCm = paired('@LazyResource method, 1 arg, in TenantContext.run', 'cache-manager');
  const decoratedMVsCm = paired(
    '@LazyResource method, 1 arg, in TenantContext.run, metrics collector attached',
    'cache-manager',
  );
  const getVsLimit = paired('LazyLoader.get (global resource)', 'limit');
  const getMVsLimit = paired('LazyLoader.get (global resource), metrics collector attached', 'limit');

  // stampede: a fresh key (and resource) per rep, so every rep starts cold
  const stampedeRows = [
    await stampede('LazyLoader.get', (key, loader) => {
      if (!lazy.isRegistered(key)) lazy.register(key, loader, { tenantScoped: false });
      return lazy.get(key);
    }),
    await stampede('LazyLoader.get (tenant-scoped, in TenantContext.run)', (key, loader) => {
      if (!lazy.isRegistered(key)) lazy.register(key, loader);
      return tenant.run('acme', () => lazy.get(key));
    }),
    await stampede('LazyLoader.get, metrics collector attached', (key, loader) => {
      if (!lazyM.isRegistered(key)) lazyM.register(key, loader, { tenantScoped: false });
      return lazyM.get(key);
    }),
    await stampede('cache-manager 7 wrap', (key, loader) => cm.wrap(key, loader)),
    await stampede('bentocache getOrSet', (key, loader) => bento.getOrSet({ key, factory: loader })),
  ];

  const md = [
    '## Lazy loading: cache-hit path (`npm run bench:lazy`)',
    '',
    machineLine(),
    '',
    'Hit path of each cache, one plain Node process, interleaved rounds, medians. All cases run after',
    "TenantContext (AsyncLocalStorage) is in use, so Node's promise hooks are on for every case alike.",
    '',
    ratioTable(results, 'cache-manager 7 wrap'),
    '',
    'The targets below are medians of per-round ratios (each pair measured back to back in one round).',
    '',
    `- Target: decorated method >= 5x cache-manager wrap: **${decoratedVsCm.toFixed(2)}x** ${decoratedVsCm >= 5 ? '(met)' : '(NOT met)'}`,
    `- Target: decorated method, metrics collector attached, >= 5x cache-manager wrap: **${decoratedMVsCm.toFixed(2)}x** ${decoratedMVsCm >= 5 ? '(met)' : '(NOT met)'}`,
    `- Target: LazyLoader.get >= 0.5x the promise-returning limit: **${getVsLimit.toFixed(2)}x** ${getVsLimit >= 0.5 ? '(met)' : '(NOT met)'}`,
    `- Target: LazyLoader.get, metrics collector attached, >= 0.5x the limit: **${getMVsLimit.toFixed(2)}x** ${getMVsLimit >= 0.5 ? '(met)' : '(NOT met)'}`,
    '',
    'The collector attaches a load tracker (`addMetricsTracker`), told about loads only, so a hit costs',
    'the same with it; the `events$ observed` row shows what observing every hit event costs instead.',
    '',
    '### Stampede: 10,000 concurrent callers on a cold key (loader takes 5 ms), 5 reps',
    '',
    '| cache | median wall time | loader calls per rep |',
    '|---|---:|---|',
    ...stampedeRows,
    '',
    `### Memory per cached entry at ${MEMORY_ENTRIES.toLocaleString('en')} entries, beyond the value`,
    '',
    'One shared value object for every entry, so the bytes are the cache bookkeeping plus the key it',
    'keeps. Full GC before and after the fill; median of 3 fresh instances.',
    '',
    memoryTable(await memoryRows(), 150),
  ].join('\n');
  console.log(md);
  writeSection('lazy', md);
  await bento.disconnect();
  sub.unsubscribe();
  collector.close();
  await appE.close();
  await appM.close();
  await app.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
