/**
 * The proof: tenant isolation through the pool, checked by PostgreSQL row-level security.
 *
 * A Nest app with TenantModule + PoolModule (max 5, pgTenantBinding) serves tenant-scoped reads and
 * writes. Tens of thousands of randomized concurrent requests from many tenants run against it while
 * some handlers throw mid-transaction, some kill their own backend, and a chaos loop kills random
 * backends from outside. Every row a request can see, and every row it writes, must belong to its
 * tenant. Requests with no or a bad tenant must never reach SQL. No backend may be left behind.
 * The same workload runs behind PgBouncer in test/tenant-rls.pgbouncer.e2e-spec.ts (shared pieces in
 * test/helpers/rls.ts).
 */
import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getPoolToken, pgTenantBinding, PoolModule, type Pool } from '@reservoir/pool';
import { TenantModule } from '@reservoir/tenant';
import { Client } from 'pg';
import {
  NotesController,
  RLS_POOL,
  RLS_TENANTS,
  countingPgFactory,
  createRlsDatabase,
  describeWorkload,
  expectIsolated,
  runRlsWorkload,
  send,
  type RlsDatabase,
  type SqlCounter,
} from './helpers/rls';
import { adminClient, uniqueAppName } from './helpers/services';

const REQUESTS = Number(process.env.RLS_REQUESTS ?? 20_000);
const CONCURRENCY = 64;
const POOL_MAX = 5;

describe('tenant isolation on PostgreSQL RLS (e2e)', () => {
  let db: RlsDatabase;
  let applicationName: string;
  let app: INestApplication;
  let appClosed = false;
  let port: number;
  const sql: SqlCounter = { queries: 0 };
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  beforeAll(async () => {
    db = await createRlsDatabase('reservoir_rls');
    applicationName = uniqueAppName('rls');
    const ref = await Test.createTestingModule({
      imports: [
        TenantModule.forRoot(),
        PoolModule.forRoot<Client>({
          name: RLS_POOL,
          max: POOL_MAX,
          min: 1,
          acquireTimeoutMs: 20_000,
          createRetry: { initialDelayMs: 5, maxDelayMs: 100 },
          tenantBinding: pgTenantBinding<Client>({ setting: 'app.organisation_id' }),
          factory: countingPgFactory(db.roleUrl, applicationName, sql),
        }),
      ],
      controllers: [NotesController],
    }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
  }, 30_000);

  afterAll(async () => {
    agent.destroy();
    if (app && !appClosed) await app.close();
    await db?.drop();
  }, 30_000);

  it('an unbound session of the app role sees no rows (the policy is really on)', async () => {
    const c = new Client({ connectionString: db.roleUrl });
    await c.connect();
    try {
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM notes');
      expect(rows[0].n).toBe(0);
      await expect(
        c.query(`INSERT INTO notes (organisation_id, body) VALUES ('org-01', 'x')`),
      ).rejects.toThrow(/row-level security/);
    } finally {
      await c.end();
    }
  });

  it('requests with no tenant or a bad tenant are rejected with 400 and never reach SQL', async () => {
    const pool = app.get<Pool<Client>>(getPoolToken(RLS_POOL));
    const queriesBefore = sql.queries;
    const acquiredBefore = pool.stats().acquired;
    const bad: Record<string, string | string[]>[] = [
      {},
      { 'x-organisation-id': '' },
      { 'x-organisation-id': 'org 01' },
      { 'x-organisation-id': "org-01' OR '1'='1" },
      { 'x-organisation-id': 'x'.repeat(65) },
      { 'x-organisation-id': ['org-01', 'org-02'] },
      { 'x-organisation-id': 'org-01,org-02' },
    ];
    let rejected = 0;
    for (const headers of bad) {
      for (const [method, path] of [
        ['GET', '/notes'],
        ['POST', '/notes'],
        ['POST', '/notes/fail'],
      ]) {
        const res = await send(agent, port, method, path, headers);
        expect({ headers, path, status: res.status }).toEqual({ headers, path, status: 400 });
        rejected++;
      }
    }
    expect(sql.queries).toBe(queriesBefore);
    expect(pool.stats().acquired).toBe(acquiredBefore);
    console.log(`[rls] bad-tenant requests rejected: ${rejected}, SQL statements issued for them: 0`);
  });

  it(`${REQUESTS} randomized concurrent requests from ${RLS_TENANTS.length} tenants see zero rows of another tenant`, async () => {
    const pool = app.get<Pool<Client>>(getPoolToken(RLS_POOL));
    const r = await runRlsWorkload({ agent, port, db, requests: REQUESTS, concurrency: CONCURRENCY });
    console.log(describeWorkload('rls', r, pool, `, concurrency ${CONCURRENCY}, pool max ${POOL_MAX}`));
    expectIsolated(r, REQUESTS, pool);
  }, 240_000);

  it('leaves no backend behind once the app closes', async () => {
    agent.destroy();
    await app.close();
    appClosed = true;
    const admin = await adminClient();
    try {
      const deadline = Date.now() + 5000;
      let n = -1;
      while (Date.now() < deadline) {
        n = (
          await admin.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 OR application_name = $2',
            [db.role, applicationName],
          )
        ).rows[0].n;
        if (n === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      console.log(`[rls] backends of role ${db.role} after close: ${n}`);
      expect(n).toBe(0);
    } finally {
      await admin.end();
    }
  });
});
