/**
 * bench:lazy-shared: @reservoir/lazy with a shared RedisTier next to bentocache 1.6 with its Redis
 * driver, in one plain Node process, against a private redis-server this script starts on a free
 * port (never the shared one). Run: `npm run bench:lazy-shared`.
 * - the L1 hit with the tier attached, against Reservoir's local-only hit;
 * - the L2 hit (L1 miss): Reservoir through the loader (maxEntries 1, two keys in turn, so every
 *   call misses L1 and reads L2), bentocache `getOrSet` on an L2-only store;
 * - invalidation delivery between two instances (p50/p99), Reservoir's stream bus and bentocache's
 *   pub/sub bus;
 * - a cold key read by 250 callers in each of 4 processes at once (loader calls, wall time): each
 *   process is this script forked again with BENCH_LAZY_SHARED_WORKER set (see `worker()`).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { LazyLoaderCore } from '@reservoir/lazy/lazy-loader.core';
import { RedisTier } from '@reservoir/lazy/redis';
import {
  fmtOps,
  machineLine,
  median,
  ratioTable,
  runInterleaved,
  writeSection,
  type Case,
} from './lib/harness';

type ColdKind = 'reservoir' | 'bentocache';
/** Parent → worker: read `key` with `callers` concurrent calls at `startAt` (epoch ms). */
type ColdGo = { key: string; callers: number; startAt: number };
/** Worker → parent, per round. */
type ColdDone = { key: string; loaderCalls: number; finishedAt: number; values: number };

const PROCESSES = 4;
const CALLERS = 250;
const COLD_ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
/** What the loader costs: a database read, say. */
const LOAD_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function loop(ms: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) await op(n++);
  }
  return n;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'reservoir-bench-redis-'));
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
    {
      stdio: 'ignore',
    },
  );
  await sleep(300);
  const url = `redis://127.0.0.1:${port}`;
  try {
    const tierA = new RedisTier({ url, prefix: 'bench' });
    const tierB = new RedisTier({ url, prefix: 'bench' });
    if (!(await tierA.ready(5_000)) || !(await tierB.ready(5_000))) throw new Error('redis not ready');
    const local = new LazyLoaderCore({ tenantScoped: false });
    const shared = new LazyLoaderCore({ tenantScoped: false, shared: tierA });
    // maxEntries 1 and two keys read in turn: every get misses L1 (the other key evicted it) and hits L2.
    const l2 = new LazyLoaderCore({ tenantScoped: false, shared: tierA, maxEntries: 1 });
    const value = { plan: 'pro', seats: 25, features: ['a', 'b', 'c'] };
    local.register('settings', () => value);
    shared.register('settings', () => value);
    l2.register('l2-a', () => value);
    l2.register('l2-b', () => value);
    await local.get('settings');
    await shared.get('settings');
    await l2.get('l2-a');
    await l2.get('l2-b');

    const bento = new BentoCache({
      default: 'l2',
      stores: { l2: bentostore().useL2Layer(redisDriver({ connection: { host: '127.0.0.1', port } })) },
    });
    await bento.getOrSet({ key: 'settings', factory: async () => value });

    const hitCases: Case[] = [
      { name: 'LazyLoaderCore.get hit, local only', run: (ms) => loop(ms, () => local.get('settings')) },
      {
        name: 'LazyLoaderCore.get hit, shared tier attached',
        run: (ms) => loop(ms, () => shared.get('settings')),
      },
    ];
    const l2Cases: Case[] = [
      {
        name: 'Reservoir L2 hit (loader, L1 miss)',
        run: (ms) => loop(ms, (i) => l2.get(i & 1 ? 'l2-a' : 'l2-b')),
      },
      {
        name: 'bentocache 1.6 getOrSet, L2 (Redis) hit',
        run: (ms) => loop(ms, () => bento.getOrSet({ key: 'settings', factory: async () => value })),
      },
    ];
    const hits = await runInterleaved(hitCases);
    const l2s = await runInterleaved(l2Cases, { durationMs: 1000 });

    // Invalidation delivery: A invalidates, B's listener notes the arrival.
    const lat: number[] = [];
    let resolveArrival: (() => void) | undefined;
    tierB.onEvent((e) => {
      if (e.type === 'invalidate') resolveArrival?.();
    });
    for (let i = 0; i < 500; i++) {
      const arrived = new Promise<void>((r) => (resolveArrival = r));
      const t0 = performance.now();
      await tierA.invalidate({ resource: 'settings', key: `k${i}` });
      await arrived;
      lat.push(performance.now() - t0);
    }
    // The same through bentocache's bus: A deletes, B's emitter reports the bus message.
    const bentoBus = (): BentoCache<{ s: ReturnType<typeof bentostore> }> =>
      new BentoCache({
        default: 's',
        stores: {
          s: bentostore()
            .useL1Layer(memoryDriver({ maxSize: '10mb' }))
            .useL2Layer(redisDriver({ connection: { host: '127.0.0.1', port } }))
            .useBus(redisBusDriver({ connection: { host: '127.0.0.1', port } })),
        },
      });
    const bentoA = bentoBus();
    const bentoB = bentoBus();
    await bentoA.getOrSet({ key: 'warm', factory: () => 1 });
    await bentoB.getOrSet({ key: 'warm', factory: () => 1 });
    await sleep(200); // both subscribed
    const bentoLat: number[] = [];
    let bentoArrival: (() => void) | undefined;
    bentoB.on('bus:message:received', () => bentoArrival?.());
    for (let i = 0; i < 500; i++) {
      const arrived = new Promise<void>((r) => (bentoArrival = r));
      const t0 = performance.now();
      await bentoA.delete({ key: `k${i}` });
      await Promise.race([arrived, sleep(1_000)]);
      bentoLat.push(performance.now() - t0);
    }
    await bentoA.disconnect();
    await bentoB.disconnect();

    const cold = await coldKeys(url);

    lat.sort((a, b) => a - b);
    bentoLat.sort((a, b) => a - b);
    const pq = (xs: number[], q: number): string =>
      xs[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)].toFixed(2);
    const p = (q: number): string => pq(lat, q);

    const hitRatio = hits[1].median / hits[0].median;
    const l2Ratio = l2s[0].median / l2s[1].median;
    const md = [
      '## Lazy resources with the shared Redis tier (`npm run bench:lazy-shared`)',
      '',
      machineLine(),
      '',
      '### L1 hit with the tier attached (target ≥ 0.9× local only)',
      ratioTable(hits, hits[0].name),
      '',
      `Ratio: ${hitRatio.toFixed(2)}× ${hitRatio >= 0.9 ? '(target met)' : '(target missed)'}.`,
      '',
      '### L2 hit, L1 miss (target ≥ 1.0× bentocache)',
      ratioTable(l2s, l2s[1].name),
      '',
      `Ratio: ${l2Ratio.toFixed(2)}× ${l2Ratio >= 1 ? '(target met)' : '(target missed)'}.`,
      '',
      '### Invalidation delivery between two instances (500 invalidations, one process, two connections each)',
      '',
      '| case | p50 | p99 |',
      '|---|---:|---:|',
      `| Reservoir RedisTier.invalidate → other tier's listener (stream bus) | ${p(0.5)} ms | ${p(0.99)} ms |`,
      `| bentocache 1.6 delete → other instance's \`bus:message:received\` (pub/sub bus) | ${pq(bentoLat, 0.5)} ms | ${pq(bentoLat, 0.99)} ms |`,
      '',
      `### Cold key across ${PROCESSES} processes (${CALLERS} callers each, loader ${LOAD_MS} ms; target: 1 loader call, where bentocache makes ${PROCESSES})`,
      '',
      '| case | loader calls per round (median) | rounds | wall time (median) | rounds |',
      '|---|---:|---|---:|---|',
      ...cold.map(
        (c) =>
          `| ${c.name} | ${median(c.calls)} | ${c.calls.join(', ')} | ${median(c.wallMs).toFixed(0)} ms | ${c.wallMs.map((w) => w.toFixed(0)).join(', ')} |`,
      ),
      '',
      'Wall time: from the common start instant to the last of the 1,000 callers answered, over all processes.',
    ].join('\n');
    console.log(md);
    console.log(`(L1 ${fmtOps(hits[1].median)}, L2 ${fmtOps(l2s[0].median)})`);
    if (!process.env.BENCH_NO_WRITE) writeSection('lazy-shared', md);
    local.close();
    shared.close();
    l2.close();
    await bento.disconnect();
    await tierA.close();
    await tierB.close();
  } finally {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Cold keys across PROCESSES worker processes, Reservoir and bentocache rounds interleaved; a fresh
 * key per round, so every round starts cold.
 */
async function coldKeys(url: string): Promise<Array<{ name: string; calls: number[]; wallMs: number[] }>> {
  // run.js sits next to this file's source; the compiled file is dist/bench/bench/lazy-shared.bench.js.
  const runJs = join(__dirname, '..', '..', '..', 'bench', 'run.js');
  const start = async (kind: ColdKind): Promise<ChildProcess[]> => {
    const ps = Array.from({ length: PROCESSES }, () =>
      fork(runJs, ['lazy-shared'], {
        env: { ...process.env, BENCH_SKIP_BUILD: '1', BENCH_LAZY_SHARED_WORKER: kind, REDIS_URL: url },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await Promise.all(
      ps.map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`${kind} worker not ready in 20 s`)), 20_000);
            p.once('message', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    return ps;
  };
  const round = async (ps: ChildProcess[], key: string): Promise<{ calls: number; wallMs: number }> => {
    const startAt = Date.now() + 300;
    const done = ps.map(
      (p) =>
        new Promise<ColdDone>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`cold round ${key} got no answer in 30 s`)), 30_000);
          const on = (m: ColdDone): void => {
            if (m.key !== key) return;
            clearTimeout(t);
            p.off('message', on);
            resolve(m);
          };
          p.on('message', on);
        }),
    );
    for (const p of ps) p.send({ key, callers: CALLERS, startAt } satisfies ColdGo);
    const rs = await Promise.all(done);
    if (rs.some((r) => r.values !== 1)) throw new Error(`round ${key}: processes saw different values`);
    return {
      calls: rs.reduce((n, r) => n + r.loaderCalls, 0),
      wallMs: Math.max(...rs.map((r) => r.finishedAt)) - startAt,
    };
  };
  const kinds: Array<[ColdKind, string]> = [
    ['reservoir', 'Reservoir LazyLoaderCore + RedisTier (fleet lease)'],
    ['bentocache', 'bentocache 1.6 getOrSet, L1 + Redis L2 + bus'],
  ];
  const procs = new Map<ColdKind, ChildProcess[]>();
  for (const [kind] of kinds) procs.set(kind, await start(kind));
  const out = kinds.map(([, name]) => ({ name, calls: [] as number[], wallMs: [] as number[] }));
  try {
    for (let r = -1; r < COLD_ROUNDS; r++) {
      for (let i = 0; i < kinds.length; i++) {
        const res = await round(procs.get(kinds[i][0])!, `cold-${r + 1}`);
        if (r >= 0) {
          out[i].calls.push(res.calls);
          out[i].wallMs.push(res.wallMs);
        }
      }
    }
  } finally {
    for (const ps of procs.values()) for (const p of ps) p.kill('SIGKILL');
  }
  return out;
}

/** One cold-key worker process: reads a fresh key with CALLERS concurrent calls when told to. */
async function worker(kind: ColdKind, url: string): Promise<void> {
  let loaderCalls = 0;
  const load = async (): Promise<{ v: number }> => {
    loaderCalls++;
    await sleep(LOAD_MS);
    return { v: 42 };
  };
  let read: (key: string) => Promise<unknown>;
  if (kind === 'reservoir') {
    const tier = new RedisTier({ url, prefix: 'bench-cold' });
    if (!(await tier.ready(5_000))) throw new Error('redis not ready');
    const core = new LazyLoaderCore({ tenantScoped: false, shared: tier });
    read = (key) => {
      if (!core.isRegistered(key)) core.register(key, load);
      return core.get(key);
    };
  } else {
    const { hostname, port } = new URL(url);
    const connection = { host: hostname, port: Number(port) };
    const bento = new BentoCache({
      default: 's',
      prefix: 'bench-cold',
      stores: {
        s: bentostore()
          .useL1Layer(memoryDriver({ maxSize: '10mb' }))
          .useL2Layer(redisDriver({ connection }))
          .useBus(redisBusDriver({ connection })),
      },
    });
    await bento.getOrSet({ key: 'warm', factory: () => 1 });
    read = (key) => bento.getOrSet({ key, factory: load });
  }
  process.on('message', (m: ColdGo) => {
    void (async () => {
      await sleep(Math.max(0, m.startAt - Date.now()));
      const before = loaderCalls;
      const values = await Promise.all(Array.from({ length: m.callers }, () => read(m.key)));
      const done: ColdDone = {
        key: m.key,
        loaderCalls: loaderCalls - before,
        finishedAt: Date.now(),
        values: new Set(values.map((v) => JSON.stringify(v))).size,
      };
      process.send?.(done);
    })();
  });
  process.send?.({ ready: true });
}

const role = process.env.BENCH_LAZY_SHARED_WORKER as ColdKind | undefined;
(role ? worker(role, process.env.REDIS_URL as string) : main()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
