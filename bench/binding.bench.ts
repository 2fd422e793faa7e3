/**
 * npm run bench:binding: what tenant binding costs on real PostgreSQL, side by side at 1, 5, 20
 * and 100 tenants (uniformly drawn), concurrency 32, max 10, default options (pgClientFactory):
 *
 * - no binding (the pool tags the lease, nothing is sent): the ceiling;
 * - pgTenantBinding session mode with affinity (the default);
 * - pgTenantBinding transaction mode (BEGIN + set_config(.., true) … COMMIT, the PgBouncer-safe one);
 * - a plain pg.Pool that runs set_config on every checkout: what a user writes by hand.
 *
 * Every case runs the same `SELECT current_setting(...)` per lease. One interleaved run per tenant
 * count, so compare ratios within a table. Writes the `binding` section of docs/benchmarks.md.
 */
import { Pool as PgPool, type Client } from 'pg';
import {
  Pool,
  pgClientFactory,
  pgTenantBinding,
  silentPoolLogger,
  type TenantBinding,
} from '@reservoir/pool';
import { fmtOps, machineLine, runInterleaved, writeSection, type Case, type CaseResult } from './lib/harness';

const MAX = 10;
const CONCURRENCY = Number(process.env.BENCH_BINDING_CONCURRENCY || 32);
const TENANT_COUNTS = (process.env.BENCH_BINDING_TENANTS || '1,5,20,100').split(',').map(Number);
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const SQL = "SELECT current_setting('app.organisation_id', true)";
const SET = "SELECT set_config('app.organisation_id', $1, false)";

const NO_BINDING = 'no binding (tag only, no RLS)';
const SESSION = 'pgTenantBinding session (affinity, default)';
const TRANSACTION = 'pgTenantBinding transaction (BEGIN … COMMIT)';
const BY_HAND = 'pg.Pool + set_config per checkout';

async function drive(workers: number, durationMs: number, one: () => Promise<unknown>): Promise<number> {
  const end = performance.now() + durationMs;
  let ops = 0;
  let stop = false;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!stop) {
        await one();
        if ((++ops & 15) === 0 && performance.now() >= end) stop = true;
      }
    }),
  );
  return ops;
}

async function benchAt(tenants: number): Promise<{ results: CaseResult[]; rebindsPerQuery: number }> {
  const ids = Array.from({ length: tenants }, (_, i) => `org-${i}`);
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  const mk = (name: string, binding?: TenantBinding<Client>) =>
    new Pool<Client>({
      name,
      factory: pgClientFactory(DATABASE_URL, { applicationName: 'reservoir_bench_binding' }),
      max: MAX,
      tenantBinding: binding,
      logger: silentPoolLogger,
    });
  const unbound = mk('unbound');
  // Counts the session binding's round trips (bind + rebind), to see how often affinity misses.
  const sessionBinding = pgTenantBinding<Client>();
  const trips = { binds: 0, leases: 0 };
  const counted = {
    ...sessionBinding,
    bind: (c: Client, id: string) => (trips.binds++, sessionBinding.bind(c, id)),
    rebind: (c: Client, from: string, to: string) => (trips.binds++, sessionBinding.rebind!(c, from, to)),
  };
  const session = mk('session', counted);
  const transaction = mk('transaction', pgTenantBinding<Client>({ mode: 'transaction' }));
  const pgPool = new PgPool({
    connectionString: DATABASE_URL,
    max: MAX,
    application_name: 'reservoir_bench_binding',
  });
  const use = (p: Pool<Client>) => (ms: number) =>
    drive(CONCURRENCY, ms, () => {
      if (p === session) trips.leases++;
      return p.use((c) => c.query(SQL), { organisationId: pick() });
    });
  const cases: Case[] = [
    { name: NO_BINDING, run: use(unbound) },
    { name: SESSION, run: use(session) },
    { name: TRANSACTION, run: use(transaction) },
    {
      name: BY_HAND,
      run: (ms) =>
        drive(CONCURRENCY, ms, async () => {
          const c = await pgPool.connect();
          try {
            await c.query(SET, [pick()]);
            await c.query(SQL);
          } finally {
            c.release();
          }
        }),
    },
  ];
  try {
    const results = await runInterleaved(cases);
    return { results, rebindsPerQuery: trips.binds / Math.max(1, trips.leases) };
  } finally {
    await Promise.all([unbound.close(), session.close(), transaction.close(), pgPool.end()]);
  }
}

async function main(): Promise<void> {
  const md: string[] = [
    '## Tenant binding cost (`npm run bench:binding`)',
    '',
    `Machine: ${machineLine()}. Concurrency ${CONCURRENCY}, max ${MAX}, tenants drawn uniformly, ` +
      `\`BENCH_ROUNDS=${process.env.BENCH_ROUNDS || 5}\`, medians of interleaved rounds; each case runs ` +
      '`SELECT current_setting(...)` once per lease. Targets at 20 tenants: session ≥ 0.75× no binding and ≥ 1.2× ' +
      'pg.Pool + set_config.',
    '',
    `| tenants | ${NO_BINDING} | ${SESSION} | ${TRANSACTION} | ${BY_HAND} | session / none | session / by hand | transaction / none | session binds per lease |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const t of TENANT_COUNTS) {
    const { results, rebindsPerQuery } = await benchAt(t);
    const m = (n: string) => results.find((r) => r.name === n)!.median;
    const row = `| ${t} | ${fmtOps(m(NO_BINDING))} | ${fmtOps(m(SESSION))} | ${fmtOps(m(TRANSACTION))} | ${fmtOps(m(BY_HAND))} | ${(m(SESSION) / m(NO_BINDING)).toFixed(2)}× | ${(m(SESSION) / m(BY_HAND)).toFixed(2)}× | ${(m(TRANSACTION) / m(NO_BINDING)).toFixed(2)}× | ${rebindsPerQuery.toFixed(2)} |`;
    console.log(row);
    md.push(row);
  }
  writeSection('binding', md.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
