/**
 * npm run bench:pool: our Pool against generic-pool, tarn and a minimal pool (no-op resources), then
 * against pg.Pool on real PostgreSQL, then tenant binding with and without affinity. Plain Node only
 * (see bench/run.js). Every table comes from one interleaved run, so compare ratios, not absolutes.
 */
import * as genericPool from 'generic-pool';
import { Pool as TarnPool } from 'tarn';
import { Client, Pool as PgPool } from 'pg';
import { Pool, pgTenantBinding, silentPoolLogger, type TenantBinding } from '@reservoir/pool';
import {
  machineLine,
  ratioTable,
  runInterleaved,
  writeSection,
  type Case,
  type CaseResult,
} from './lib/harness';
import { MinimalPool } from './lib/minimal-pool';
import { ReservoirMetricsCollector } from '@reservoir/metrics';
import { Registry } from 'prom-client';

const MAX = 10;
const TIMEOUT_MS = 30_000;
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

interface AnyPool {
  acquire(): Promise<object>;
  release(r: object): void;
  close(): Promise<void>;
}

/** `workers` loops of acquire+release for about `durationMs`; the clock is read once per 256 ops. */
async function drive(pool: AnyPool, workers: number, durationMs: number): Promise<number> {
  const end = performance.now() + durationMs;
  let ops = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const r = await pool.acquire();
      pool.release(r);
      if ((++ops & 255) === 0 && performance.now() >= end) stop = true;
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return ops;
}

const noop = (): object => ({});

function benchPool(extra: { maxPerTenant?: number } = {}): Pool<object> {
  return new Pool<object>({
    name: 'bench',
    factory: { create: async () => noop(), destroy: () => undefined },
    max: MAX,
    acquireTimeoutMs: TIMEOUT_MS,
    logger: silentPoolLogger,
    ...extra,
  });
}

/** Everything off: no tenant, no tracker, no subscriber. */
function oursPlain(): AnyPool {
  const pool = benchPool();
  return { acquire: () => pool.acquire(), release: (r) => pool.release(r), close: () => pool.close() };
}

/** Tenant tagging on: every lease records its organisation, per-tenant stats are kept. */
function ours(): AnyPool {
  const pool = benchPool();
  const opts = { organisationId: 'tenant-1' };
  return { acquire: () => pool.acquire(opts), release: (r) => pool.release(r), close: () => pool.close() };
}

/** Tenant-tagged over 4 tenants (round-robin per call) with maxPerTenant 5 of max 10. */
function oursCapped(): AnyPool {
  const pool = benchPool({ maxPerTenant: 5 });
  const opts = ['a', 'b', 'c', 'd'].map((organisationId) => ({ organisationId }));
  let i = 0;
  return {
    acquire: () => pool.acquire(opts[i++ & 3]),
    release: (r) => pool.release(r),
    close: () => pool.close(),
  };
}

/** Everything off, plus the metrics collector attached (histograms fed by the tracker). */
function oursWithCollector(): AnyPool {
  const pool = benchPool();
  const collector = new ReservoirMetricsCollector(
    { pools: () => [pool] },
    { registry: new Registry(), defaultMetrics: false },
  );
  return {
    acquire: () => pool.acquire(),
    release: (r) => pool.release(r),
    close: async () => {
      collector.close();
      await pool.close();
    },
  };
}

function generic(): AnyPool {
  const pool = genericPool.createPool(
    { create: async () => noop(), destroy: async () => undefined },
    { max: MAX, acquireTimeoutMillis: TIMEOUT_MS },
  );
  return {
    acquire: () => pool.acquire(),
    release: (r) => void pool.release(r),
    close: async () => {
      await pool.drain();
      await pool.clear();
    },
  };
}

function tarn(): AnyPool {
  const pool = new TarnPool<object>({
    create: async () => noop(),
    destroy: () => undefined,
    min: 0,
    max: MAX,
    acquireTimeoutMillis: TIMEOUT_MS,
  });
  return {
    acquire: () => pool.acquire().promise,
    release: (r) => void pool.release(r),
    close: async () => void (await pool.destroy()),
  };
}

function minimal(): AnyPool {
  const pool = new MinimalPool<object>(noop, MAX);
  return { acquire: () => pool.acquire(), release: (r) => pool.release(r), close: async () => undefined };
}

function poolCases(workers: number): { cases: Case[]; pools: AnyPool[] } {
  const pools: AnyPool[] = [];
  const mk = (name: string, factory: () => AnyPool): Case => {
    const p = factory();
    pools.push(p);
    return { name, run: (ms) => drive(p, workers, ms) };
  };
  return {
    pools,
    cases: [
      mk('reservoir Pool (everything off)', oursPlain),
      mk('reservoir Pool', ours),
      mk('reservoir Pool (with ReservoirMetricsCollector attached)', oursWithCollector),
      mk('reservoir Pool (tenant-tagged with maxPerTenant)', oursCapped),
      mk('generic-pool 3.9 (+acquireTimeoutMillis)', generic),
      mk('tarn 3.1', tarn),
      mk('minimal', minimal),
    ],
  };
}

// ------------------------------------------------------------------ PostgreSQL

async function pgReachable(): Promise<string | undefined> {
  const c = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end().catch(() => undefined);
  }
}

function pgFactory() {
  return {
    create: async () => {
      const c = new Client({ connectionString: DATABASE_URL, application_name: 'reservoir_bench' });
      await c.connect();
      return c;
    },
    destroy: (c: Client) => c.end(),
  };
}

async function driveQueries(
  workers: number,
  durationMs: number,
  one: (i: number) => Promise<unknown>,
): Promise<number> {
  const end = performance.now() + durationMs;
  let ops = 0;
  let stop = false;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (!stop) {
        await one(w + ops);
        if ((++ops & 15) === 0 && performance.now() >= end) stop = true;
      }
    }),
  );
  return ops;
}

async function pgBench(): Promise<{ results: CaseResult[]; close: () => Promise<void> }> {
  const ourPool = new Pool<Client>({
    name: 'pg-bench',
    factory: pgFactory(),
    max: MAX,
    logger: silentPoolLogger,
  });
  const pgPool = new PgPool({
    connectionString: DATABASE_URL,
    max: MAX,
    application_name: 'reservoir_bench',
  });
  const opts = { organisationId: 'tenant-1' };
  const cases: Case[] = [
    {
      name: 'reservoir Pool (acquire, query, release)',
      run: (ms) =>
        driveQueries(32, ms, async () => {
          const c = await ourPool.acquire(opts);
          try {
            await c.query('SELECT 1');
          } finally {
            ourPool.release(c);
          }
        }),
    },
    {
      name: 'pg.Pool (connect, query, release)',
      run: (ms) =>
        driveQueries(32, ms, async () => {
          const c = await pgPool.connect();
          try {
            await c.query('SELECT 1');
          } finally {
            c.release();
          }
        }),
    },
    { name: 'pg.Pool.query', run: (ms) => driveQueries(32, ms, () => pgPool.query('SELECT 1')) },
  ];
  const results = await runInterleaved(cases);
  return { results, close: async () => void (await Promise.all([ourPool.close(), pgPool.end()])) };
}

async function tenantBench(): Promise<{
  results: CaseResult[];
  concurrency: number;
  close: () => Promise<void>;
}> {
  const TENANTS = Array.from({ length: 20 }, (_, i) => `org-${i}`);
  const affine = pgTenantBinding<Client>();
  // The same SQL, but unbound on every release: every acquire pays bind (+ the unbind on release).
  const eager: TenantBinding<Client> = { bind: affine.bind, unbind: affine.unbind, unbindOnRelease: true };
  const concurrency = Number(process.env.BENCH_TENANT_CONCURRENCY || 8);
  const mk = (name: string, binding: TenantBinding<Client> | undefined) =>
    new Pool<Client>({
      name,
      factory: pgFactory(),
      max: MAX,
      tenantBinding: binding,
      logger: silentPoolLogger,
    });
  const withAffinity = mk('affine', affine);
  const without = mk('eager', eager);
  const unbound = mk('unbound', undefined);
  const sql = "SELECT current_setting('app.organisation_id', true)";
  // Tenants drawn with a skew (a few busy tenants, a long tail), as SaaS traffic usually is.
  const pickTenant = (i: number): string => TENANTS[Math.floor(Math.pow((i * 7919) % 1000, 2) / 50_000) % 20];
  const run = (pool: Pool<Client>) => (ms: number) =>
    driveQueries(concurrency, ms, (i) => pool.use((c) => c.query(sql), { organisationId: pickTenant(i) }));
  const cases: Case[] = [
    { name: 'pgTenantBinding with affinity (session)', run: run(withAffinity) },
    { name: 'pgTenantBinding without affinity (unbind on release)', run: run(without) },
    { name: 'no binding (tag only, no RLS)', run: run(unbound) },
  ];
  const results = await runInterleaved(cases);
  return {
    results,
    concurrency,
    close: async () => void (await Promise.all([withAffinity.close(), without.close(), unbound.close()])),
  };
}

// ------------------------------------------------------------------ main

function ratioLine(results: CaseResult[], a: string, b: string): string {
  const x = results.find((r) => r.name === a)!;
  const y = results.find((r) => r.name === b)!;
  return `${a} / ${b} = ${(x.median / y.median).toFixed(2)}×`;
}

async function main(): Promise<void> {
  const md: string[] = [
    '## Pool',
    '',
    `Machine: ${machineLine()}. \`BENCH_ROUNDS=${process.env.BENCH_ROUNDS || 5}\`, medians of interleaved rounds.`,
    '',
  ];
  const summary: string[] = [];
  for (const [label, workers] of [
    ['uncontended (1 worker)', 1],
    ['contended (100 workers on 10 resources)', 100],
  ] as const) {
    console.log(`\n== no-op resources, max ${MAX}, ${label}`);
    const { cases, pools } = poolCases(workers);
    const results = await runInterleaved(cases);
    await Promise.all(pools.map((p) => p.close()));
    const table = ratioTable(results, 'minimal');
    console.log(table);
    md.push(`### No-op resources, max ${MAX}, ${label}`, '', table, '');
    for (const other of ['minimal', 'generic-pool 3.9 (+acquireTimeoutMillis)', 'tarn 3.1']) {
      const line = `${label}: ${ratioLine(results, 'reservoir Pool', other)}`;
      console.log(line);
      summary.push(line);
    }
    for (const ours of [
      'reservoir Pool (everything off)',
      'reservoir Pool (with ReservoirMetricsCollector attached)',
      'reservoir Pool (tenant-tagged with maxPerTenant)',
    ]) {
      const line = `${label}: ${ratioLine(results, ours, 'minimal')}`;
      console.log(line);
      summary.push(line);
    }
  }

  const pgDown = await pgReachable();
  if (pgDown !== undefined) {
    const note = `PostgreSQL benchmarks skipped: not reachable at ${DATABASE_URL} (${pgDown}).`;
    console.log(note);
    md.push(note, '');
  } else {
    console.log('\n== PostgreSQL SELECT 1, concurrency 32, max 10');
    const pg = await pgBench();
    await pg.close();
    const table = ratioTable(pg.results, 'pg.Pool (connect, query, release)', 'queries/s');
    console.log(table);
    md.push('### PostgreSQL `SELECT 1`, concurrency 32, max 10', '', table, '');
    summary.push(
      `PostgreSQL: ${ratioLine(pg.results, 'reservoir Pool (acquire, query, release)', 'pg.Pool (connect, query, release)')}`,
    );

    console.log('\n== Tenant binding, 20 tenants, max 10');
    const t = await tenantBench();
    await t.close();
    const ttable = ratioTable(t.results, 'pgTenantBinding without affinity (unbind on release)', 'queries/s');
    console.log(ttable);
    md.push(
      `### Tenant binding (\`pgTenantBinding\`), 20 tenants (skewed), \`SELECT current_setting(...)\`, concurrency ${t.concurrency}, max 10`,
      '',
      ttable,
      '',
    );
    summary.push(
      `Tenant binding: ${ratioLine(t.results, 'pgTenantBinding with affinity (session)', 'pgTenantBinding without affinity (unbind on release)')}`,
    );
  }
  md.push('Summary:', '', ...summary.map((s) => `- ${s}`));
  console.log('\n' + summary.join('\n'));
  writeSection('pool', md.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
