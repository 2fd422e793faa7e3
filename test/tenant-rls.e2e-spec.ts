/**
 * The proof: tenant isolation through the pool, checked by PostgreSQL row-level security.
 *
 * A Nest app with TenantModule + PoolModule (max 5, pgTenantBinding) serves tenant-scoped reads and
 * writes. Tens of thousands of randomized concurrent requests from many tenants run against it while
 * some handlers throw mid-transaction, some kill their own backend, and a chaos loop kills random
 * backends from outside. Every row a request can see, and every row it writes, must belong to its
 * tenant. Requests with no or a bad tenant must never reach SQL. No backend may be left behind.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, HttpCode, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InjectPool,
  getPoolToken,
  pgClientFactory,
  pgTenantBinding,
  PoolModule,
  type Pool,
  type ResourceFactory,
} from '@reservoir/pool';
import { TenantContext, TenantModule } from '@reservoir/tenant';
import { Client } from 'pg';
import { adminClient, createTestDatabase, uniqueAppName } from './helpers/services';

const TENANTS = Array.from({ length: 24 }, (_, i) => `org-${String(i + 1).padStart(2, '0')}`);
const REQUESTS = Number(process.env.RLS_REQUESTS ?? 20_000);
const CONCURRENCY = 64;
const POOL_MAX = 5;

/** Everything the app's clients send to PostgreSQL, including the binding's own statements. */
const sql = { queries: 0 };

type Op = 'read' | 'write' | 'tx-write' | 'fail-mid-tx' | 'self-kill';

interface ReadResult {
  bound: string | null;
  counts: Record<string, number>;
}

@Controller('notes')
class NotesController {
  constructor(
    @InjectPool('rls') private readonly pool: Pool<Client>,
    private readonly tenant: TenantContext,
  ) {}

  /** Every row RLS lets this session see, counted per organisation, plus the bound setting. */
  @Get()
  read(): Promise<ReadResult> {
    return this.pool.use(async (c) => {
      const { rows } = await c.query<ReadResult>(
        `SELECT current_setting('app.organisation_id', true) AS bound,
                coalesce((SELECT json_object_agg(organisation_id, n)
                            FROM (SELECT organisation_id, count(*)::int AS n FROM notes GROUP BY 1) s),
                         '{}'::json) AS counts`,
      );
      return rows[0];
    });
  }

  /** organisation_id comes from the SESSION setting, body from the request's tenant: they must agree. */
  @Post()
  @HttpCode(201)
  write(): Promise<{ organisation_id: string }> {
    const org = this.tenant.require();
    return this.pool.use(async (c) => {
      const { rows } = await c.query<{ organisation_id: string }>(
        `INSERT INTO notes (organisation_id, body) VALUES (current_setting('app.organisation_id', true), $1)
         RETURNING organisation_id`,
        [org],
      );
      return rows[0];
    });
  }

  @Post('tx')
  @HttpCode(201)
  txWrite(): Promise<{ organisation_id: string }> {
    const org = this.tenant.require();
    return this.pool.use(async (c) => {
      await c.query('BEGIN');
      const { rows } = await c.query<{ organisation_id: string }>(
        `INSERT INTO notes (organisation_id, body) VALUES (current_setting('app.organisation_id', true), $1)
         RETURNING organisation_id`,
        [org],
      );
      await c.query('COMMIT');
      return rows[0];
    });
  }

  /** Throws with a transaction open: the client must be destroyed, never handed on. */
  @Post('fail')
  fail(): Promise<never> {
    return this.pool.use(async (c) => {
      await c.query('BEGIN');
      await c.query(
        `INSERT INTO notes (organisation_id, body) VALUES (current_setting('app.organisation_id', true), 'FAILED')`,
      );
      throw new Error('handler failed mid-transaction');
    });
  }

  /** The backend dies under the handler (the app role may signal its own backends). */
  @Post('kill')
  kill(): Promise<never> {
    return this.pool.use(async (c) => {
      await c.query('SELECT pg_terminate_backend(pg_backend_pid())');
      throw new Error('unreachable: the backend should be gone');
    });
  }
}

/** The library's pg.Client factory, counting every statement sent (so "never reaches SQL" is measurable). */
function countingPgFactory(connectionString: string, applicationName: string): ResourceFactory<Client> {
  return pgClientFactory(
    { connectionString, connectionTimeoutMillis: 5000 },
    {
      applicationName,
      onConnect: (c) => {
        const query = c.query.bind(c) as (...args: unknown[]) => unknown;
        (c as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
          sql.queries++;
          return query(...args);
        };
      },
    },
  );
}

interface Reply {
  status: number;
  body: string;
}

function send(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  headers: Record<string, string | string[]> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tenant isolation on PostgreSQL RLS (e2e)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let role: string;
  let applicationName: string;
  let app: INestApplication;
  let appClosed = false;
  let port: number;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  beforeAll(async () => {
    db = await createTestDatabase('reservoir_rls');
    role = `reservoir_rls_app_${randomBytes(4).toString('hex')}`;
    applicationName = uniqueAppName('rls');

    // Setup as the superuser, in the test database. The superuser owns the table.
    const admin = await adminClient(db.url);
    try {
      // Why a separate, plain role: superusers and roles with BYPASSRLS always bypass RLS, and the
      // table's owner bypasses it too unless the table has FORCE ROW LEVEL SECURITY. An app that
      // connects as `postgres` (or as the owner) would pass this test with RLS doing nothing. So the
      // pool connects as a NOSUPERUSER NOBYPASSRLS role that does not own the table, and we FORCE RLS
      // as well so even an owner-connected app would stay filtered.
      await admin.query(
        `CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '${randomBytes(8).toString('hex')}'`,
      );
      await admin.query(`
        CREATE TABLE notes (
          id bigserial PRIMARY KEY,
          organisation_id text NOT NULL,
          body text NOT NULL
        );
        CREATE INDEX notes_org ON notes (organisation_id);
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        ALTER TABLE notes FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON notes
          USING (organisation_id = current_setting('app.organisation_id', true))
          WITH CHECK (organisation_id = current_setting('app.organisation_id', true));
        GRANT SELECT, INSERT ON notes TO ${role};
        GRANT USAGE ON SEQUENCE notes_id_seq TO ${role};
      `);
      // Seed rows for every tenant so an unfiltered read would see foreign rows at once.
      await admin.query(
        `INSERT INTO notes (organisation_id, body) SELECT t, t FROM unnest($1::text[]) t, generate_series(1, 5)`,
        [TENANTS],
      );
      const r = await admin.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
        'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1',
        [role],
      );
      expect(r.rows[0]).toEqual({ rolsuper: false, rolbypassrls: false });
    } finally {
      await admin.end();
    }

    const roleUrl = new URL(db.url);
    roleUrl.username = role;
    roleUrl.password = '';
    const connectionString = roleUrl.toString();

    const ref = await Test.createTestingModule({
      imports: [
        TenantModule.forRoot(),
        PoolModule.forRoot<Client>({
          name: 'rls',
          max: POOL_MAX,
          min: 1,
          acquireTimeoutMs: 20_000,
          createRetry: { initialDelayMs: 5, maxDelayMs: 100 },
          tenantBinding: pgTenantBinding<Client>({ setting: 'app.organisation_id' }),
          factory: countingPgFactory(connectionString, applicationName),
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
    if (role) {
      const admin = await adminClient();
      try {
        await admin.query(`DROP ROLE IF EXISTS ${role}`);
      } finally {
        await admin.end();
      }
    }
  }, 30_000);

  it('an unbound session of the app role sees no rows (the policy is really on)', async () => {
    const roleUrl = new URL(db.url);
    roleUrl.username = role;
    const c = new Client({ connectionString: roleUrl.toString() });
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
    const pool = app.get<Pool<Client>>(getPoolToken('rls'));
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

  it(`${REQUESTS} randomized concurrent requests from ${TENANTS.length} tenants see zero rows of another tenant`, async () => {
    const pool = app.get<Pool<Client>>(getPoolToken('rls'));
    const ops: [Op, number][] = [
      ['read', 50],
      ['write', 30],
      ['tx-write', 10],
      ['fail-mid-tx', 7],
      ['self-kill', 3],
    ];
    const totalWeight = ops.reduce((s, [, w]) => s + w, 0);
    const pick = (): Op => {
      let x = Math.random() * totalWeight;
      for (const [op, w] of ops) if ((x -= w) < 0) return op;
      return 'read';
    };
    const paths: Record<Op, [string, string]> = {
      read: ['GET', '/notes'],
      write: ['POST', '/notes'],
      'tx-write': ['POST', '/notes/tx'],
      'fail-mid-tx': ['POST', '/notes/fail'],
      'self-kill': ['POST', '/notes/kill'],
    };

    const counts = {
      requests: 0,
      byOp: {} as Record<string, number>,
      byStatus: {} as Record<string, number>,
      readsOk: 0,
      rowsSeen: 0,
      foreignRowsSeen: 0,
      bindingMismatches: 0,
      writesOk: 0,
      foreignWrites: 0,
      chaosKills: 0,
    };
    const writesOkByTenant = new Map<string, number>();
    const writeAttemptsByTenant = new Map<string, number>();

    // Chaos: kill a random backend of the app every few ms, busy or idle.
    const chaos = await adminClient();
    let stopChaos = false;
    const chaosLoop = (async () => {
      while (!stopChaos) {
        const r = await chaos.query<{ killed: boolean }>(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
            WHERE application_name = $1 ORDER BY random() LIMIT 1`,
          [applicationName],
        );
        if (r.rows[0]?.killed) counts.chaosKills++;
        await new Promise((res) => setTimeout(res, 75));
      }
    })();

    const t0 = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) {
        next++;
        const tenant = TENANTS[Math.floor(Math.random() * TENANTS.length)];
        const op = pick();
        const [method, path] = paths[op];
        if (op === 'write' || op === 'tx-write') {
          writeAttemptsByTenant.set(tenant, (writeAttemptsByTenant.get(tenant) ?? 0) + 1);
        }
        const res = await send(agent, port, method, path, { 'x-organisation-id': tenant });
        counts.requests++;
        counts.byOp[op] = (counts.byOp[op] ?? 0) + 1;
        counts.byStatus[res.status] = (counts.byStatus[res.status] ?? 0) + 1;
        if (op === 'read' && res.status === 200) {
          const body = JSON.parse(res.body) as ReadResult;
          counts.readsOk++;
          if (body.bound !== tenant) counts.bindingMismatches++;
          for (const [org, n] of Object.entries(body.counts)) {
            counts.rowsSeen += n;
            if (org !== tenant) counts.foreignRowsSeen += n;
          }
        } else if ((op === 'write' || op === 'tx-write') && res.status === 201) {
          counts.writesOk++;
          writesOkByTenant.set(tenant, (writesOkByTenant.get(tenant) ?? 0) + 1);
          if ((JSON.parse(res.body) as { organisation_id: string }).organisation_id !== tenant) {
            counts.foreignWrites++;
          }
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      stopChaos = true;
      await chaosLoop;
      await chaos.end();
    }
    const elapsedMs = Date.now() - t0;

    // Ground truth as the superuser (bypasses RLS): every stored row's session tenant must equal the
    // tenant the request carried, and nothing written in a failed transaction may survive.
    const admin = await adminClient(db.url);
    let mislabelled: number;
    let failedSurvivors: number;
    const storedByTenant = new Map<string, number>();
    try {
      mislabelled = (
        await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM notes WHERE organisation_id <> body')
      ).rows[0].n;
      failedSurvivors = (
        await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM notes WHERE body = 'FAILED'`)
      ).rows[0].n;
      const r = await admin.query<{ org: string; n: number }>(
        'SELECT organisation_id AS org, count(*)::int - 5 AS n FROM notes GROUP BY 1',
      );
      for (const row of r.rows) storedByTenant.set(row.org, row.n);
    } finally {
      await admin.end();
    }

    const stats = pool.stats();
    console.log(
      `[rls] ${counts.requests} requests from ${TENANTS.length} tenants in ${elapsedMs} ms ` +
        `(${Math.round((counts.requests / elapsedMs) * 1000)} req/s, concurrency ${CONCURRENCY}, pool max ${POOL_MAX})\n` +
        `[rls] by op ${JSON.stringify(counts.byOp)}, by status ${JSON.stringify(counts.byStatus)}\n` +
        `[rls] reads ok ${counts.readsOk}, rows seen ${counts.rowsSeen}, FOREIGN ROWS SEEN ${counts.foreignRowsSeen}, ` +
        `binding mismatches ${counts.bindingMismatches}\n` +
        `[rls] writes ok ${counts.writesOk}, foreign writes ${counts.foreignWrites}, mislabelled rows ${mislabelled}, ` +
        `rows surviving failed transactions ${failedSurvivors}\n` +
        `[rls] backends killed by chaos ${counts.chaosKills}; pool created ${stats.created}, destroyed ${stats.destroyed}, ` +
        `acquired ${stats.acquired}, timeouts ${stats.timeouts}; hold p50/p99 ${stats.holdMs.p50.toFixed(1)}/` +
        `${stats.holdMs.p99.toFixed(1)} ms, acquire wait p50/p99 ${stats.acquireWaitMs.p50.toFixed(1)}/` +
        `${stats.acquireWaitMs.p99.toFixed(1)} ms`,
    );

    expect(counts.requests).toBe(REQUESTS);
    expect(new Set(writeAttemptsByTenant.keys()).size).toBeGreaterThanOrEqual(20);
    expect(counts.foreignRowsSeen).toBe(0);
    expect(counts.bindingMismatches).toBe(0);
    expect(counts.foreignWrites).toBe(0);
    expect(mislabelled).toBe(0);
    expect(failedSurvivors).toBe(0);
    // Only the faults we inject may fail: mid-transaction throws, self-kills and chaos kills.
    const injected = (counts.byOp['fail-mid-tx'] ?? 0) + (counts.byOp['self-kill'] ?? 0) + counts.chaosKills;
    expect(
      counts.requests - (counts.byStatus['200'] ?? 0) - (counts.byStatus['201'] ?? 0),
    ).toBeLessThanOrEqual(injected);
    expect(counts.readsOk).toBeGreaterThan(REQUESTS * 0.3);
    expect(counts.rowsSeen).toBeGreaterThan(0);
    // Every acknowledged write is stored under its tenant (a write killed after COMMIT may exist unacknowledged).
    for (const [org, ok] of writesOkByTenant) {
      expect({ org, stored: (storedByTenant.get(org) ?? 0) >= ok }).toEqual({ org, stored: true });
      expect(storedByTenant.get(org) ?? 0).toBeLessThanOrEqual(writeAttemptsByTenant.get(org) ?? 0);
    }
    expect(stats.timeouts).toBe(0);
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
            [role, applicationName],
          )
        ).rows[0].n;
        if (n === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      console.log(`[rls] backends of role ${role} after close: ${n}`);
      expect(n).toBe(0);
    } finally {
      await admin.end();
    }
  });
});
