/**
 * bench:lazy-shared: @reservoir/lazy with a shared RedisTier next to bentocache 1.6 with its Redis
 * driver, in one plain Node process, against a private redis-server this script starts on a free
 * port (never the shared one). Run: `npm run bench:lazy-shared`.
 * - the L1 hit with the tier attached, against Reservoir's local-only hit;
 * - the L2 hit (L1 miss): Reservoir through the loader (maxEntries 1, two keys in turn, so every
 *   call misses L1 and reads L2), bentocache `getOrSet` on an L2-only store;
 * - invalidation delivery between two instances (p50/p99).
 * Cold keys across 4 processes are measured by test/redis-tier.fleet.spec.ts (real processes).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BentoCache, bentostore } from 'bentocache';
import { redisDriver } from 'bentocache/drivers/redis';
import { LazyLoaderCore } from '@reservoir/lazy/lazy-loader.core';
import { RedisTier } from '@reservoir/lazy/redis';
import { fmtOps, machineLine, ratioTable, runInterleaved, writeSection, type Case } from './lib/harness';

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
    lat.sort((a, b) => a - b);
    const p = (q: number): string => lat[Math.min(lat.length - 1, Math.ceil(q * lat.length) - 1)].toFixed(2);

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
      `p50 ${p(0.5)} ms, p99 ${p(0.99)} ms (publish + stream read + listener).`,
      '',
      'Cold key across 4 processes: see `test/redis-tier.fleet.spec.ts` (1,000 callers, 1 loader call).',
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

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
