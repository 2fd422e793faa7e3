/**
 * The RLS proof's shared pieces: the schema (a plain app role, a FORCE'd policy, seed rows for every
 * tenant), the Nest controller whose handlers read, write, fail mid-transaction and kill their own
 * backend, and the randomized workload with its ground-truth check. Used directly against PostgreSQL
 * (test/tenant-rls.e2e-spec.ts) and through PgBouncer (test/tenant-rls.pgbouncer.e2e-spec.ts).
 */
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { Controller, Get, HttpCode, Inject, Optional, Post } from '@nestjs/common';
import { InjectPool, pgClientFactory, type Pool, type ResourceFactory } from '@reservoir/pool';
import { TenantContext } from '@reservoir/tenant';
import type { Client } from 'pg';
import { adminClient, createTestDatabase } from './services';

export const RLS_TENANTS = Array.from({ length: 24 }, (_, i) => `org-${String(i + 1).padStart(2, '0')}`);
/** Seed rows per tenant. */
const SEED = 5;

/** The pool name the controller injects. */
export const RLS_POOL = 'rls';
/** Provide `true` when the binding makes every lease a transaction (`mode: 'transaction'`). */
export const RLS_LEASE_IS_TRANSACTION = 'RLS_TEST:LEASE_IS_TRANSACTION';

export interface ReadResult {
  bound: string | null;
  counts: Record<string, number>;
}

/** Every row RLS lets the current session see, counted per organisation, plus the bound setting. */
export const READ_VISIBLE = `SELECT current_setting('app.organisation_id', true) AS bound,
        coalesce((SELECT json_object_agg(organisation_id, n)
                    FROM (SELECT organisation_id, count(*)::int AS n FROM notes GROUP BY 1) s),
                 '{}'::json) AS counts`;

@Controller('notes')
export class NotesController {
  constructor(
    @InjectPool(RLS_POOL) private readonly pool: Pool<Client>,
    private readonly tenant: TenantContext,
    @Optional() @Inject(RLS_LEASE_IS_TRANSACTION) private readonly leaseIsTransaction?: boolean,
  ) {}

  @Get()
  read(): Promise<ReadResult> {
    return this.pool.use(async (c) => (await c.query<ReadResult>(READ_VISIBLE)).rows[0]);
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

  /**
   * A handler's own transaction. When the binding already made the lease a transaction
   * (transaction mode), a nested BEGIN/COMMIT would end the binding's transaction early, so it uses
   * a savepoint there.
   */
  @Post('tx')
  @HttpCode(201)
  txWrite(): Promise<{ organisation_id: string }> {
    const org = this.tenant.require();
    const nested = this.leaseIsTransaction === true;
    return this.pool.use(async (c) => {
      await c.query(nested ? 'SAVEPOINT tx_write' : 'BEGIN');
      const { rows } = await c.query<{ organisation_id: string }>(
        `INSERT INTO notes (organisation_id, body) VALUES (current_setting('app.organisation_id', true), $1)
         RETURNING organisation_id`,
        [org],
      );
      await c.query(nested ? 'RELEASE SAVEPOINT tx_write' : 'COMMIT');
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

/** Statements the app's clients send, including the binding's own (so "never reaches SQL" is measurable). */
export interface SqlCounter {
  queries: number;
}

/** The library's pg.Client factory, counting every statement sent. */
export function countingPgFactory(
  connectionString: string,
  applicationName: string,
  counter: SqlCounter,
): ResourceFactory<Client> {
  return pgClientFactory(
    { connectionString, connectionTimeoutMillis: 5000 },
    {
      applicationName,
      onConnect: (c) => {
        const query = c.query.bind(c) as (...args: unknown[]) => unknown;
        (c as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
          counter.queries++;
          return query(...args);
        };
      },
    },
  );
}

export interface RlsDatabase {
  /** The test database's name and superuser URL. */
  name: string;
  url: string;
  /** A NOSUPERUSER NOBYPASSRLS role that does not own the table. */
  role: string;
  /** `url` with the app role as user. */
  roleUrl: string;
  drop(): Promise<void>;
}

/**
 * A fresh database with the notes table under RLS, seeded for every tenant, and the app role.
 *
 * Why a separate, plain role: superusers and roles with BYPASSRLS always bypass RLS, and the table's
 * owner bypasses it too unless the table has FORCE ROW LEVEL SECURITY. An app that connects as
 * `postgres` (or as the owner) would pass the proof with RLS doing nothing. So the pool connects as a
 * role that does not own the table, and RLS is FORCE'd as well so even an owner-connected app stays filtered.
 */
export async function createRlsDatabase(prefix = 'reservoir_rls'): Promise<RlsDatabase> {
  const db = await createTestDatabase(prefix);
  const role = `${prefix}_app_${randomBytes(4).toString('hex')}`;
  const admin = await adminClient(db.url);
  try {
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
      `INSERT INTO notes (organisation_id, body) SELECT t, t FROM unnest($1::text[]) t, generate_series(1, ${SEED})`,
      [RLS_TENANTS],
    );
    const r = await admin.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1',
      [role],
    );
    if (r.rows[0]?.rolsuper !== false || r.rows[0]?.rolbypassrls !== false) {
      throw new Error(`role ${role} must be NOSUPERUSER NOBYPASSRLS, is ${JSON.stringify(r.rows[0])}`);
    }
  } finally {
    await admin.end();
  }
  const u = new URL(db.url);
  u.username = role;
  u.password = '';
  return {
    name: db.name,
    url: db.url,
    role,
    roleUrl: u.toString(),
    drop: async () => {
      await db.drop();
      const c = await adminClient();
      try {
        await c.query(`DROP ROLE IF EXISTS ${role}`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface Reply {
  status: number;
  body: string;
}

export function send(
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

type Op = 'read' | 'write' | 'tx-write' | 'fail-mid-tx' | 'self-kill';
const OPS: [Op, number][] = [
  ['read', 50],
  ['write', 30],
  ['tx-write', 10],
  ['fail-mid-tx', 7],
  ['self-kill', 3],
];
const PATHS: Record<Op, [string, string]> = {
  read: ['GET', '/notes'],
  write: ['POST', '/notes'],
  'tx-write': ['POST', '/notes/tx'],
  'fail-mid-tx': ['POST', '/notes/fail'],
  'self-kill': ['POST', '/notes/kill'],
};

export interface RlsWorkloadResult {
  requests: number;
  elapsedMs: number;
  byOp: Record<string, number>;
  byStatus: Record<string, number>;
  readsOk: number;
  rowsSeen: number;
  foreignRowsSeen: number;
  bindingMismatches: number;
  writesOk: number;
  foreignWrites: number;
  chaosKills: number;
  /** Stored rows whose organisation differs from the tenant the request carried (ground truth). */
  mislabelled: number;
  /** Rows written inside a failed transaction that survived it. */
  failedSurvivors: number;
  writesOkByTenant: Map<string, number>;
  writeAttemptsByTenant: Map<string, number>;
  storedByTenant: Map<string, number>;
}

/**
 * `requests` randomized requests from `concurrency` workers over RLS_TENANTS, while a chaos loop
 * kills a random backend of the app role every 75 ms.
 */
export async function runRlsWorkload(input: {
  agent: Agent;
  port: number;
  db: RlsDatabase;
  requests: number;
  concurrency: number;
}): Promise<RlsWorkloadResult> {
  const { agent, port, db, requests, concurrency } = input;
  const totalWeight = OPS.reduce((s, [, w]) => s + w, 0);
  const pick = (): Op => {
    let x = Math.random() * totalWeight;
    for (const [op, w] of OPS) if ((x -= w) < 0) return op;
    return 'read';
  };
  const r: RlsWorkloadResult = {
    requests: 0,
    elapsedMs: 0,
    byOp: {},
    byStatus: {},
    readsOk: 0,
    rowsSeen: 0,
    foreignRowsSeen: 0,
    bindingMismatches: 0,
    writesOk: 0,
    foreignWrites: 0,
    chaosKills: 0,
    mislabelled: -1,
    failedSurvivors: -1,
    writesOkByTenant: new Map(),
    writeAttemptsByTenant: new Map(),
    storedByTenant: new Map(),
  };

  // Chaos: kill a random backend of the app role every few ms, busy or idle. By role rather than
  // application_name, so it also finds PgBouncer's server connections.
  const chaos = await adminClient();
  let stopChaos = false;
  const chaosLoop = (async () => {
    while (!stopChaos) {
      const k = await chaos.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
          WHERE usename = $1 AND datname = $2 ORDER BY random() LIMIT 1`,
        [db.role, db.name],
      );
      if (k.rows[0]?.killed) r.chaosKills++;
      await new Promise((res) => setTimeout(res, 75));
    }
  })();

  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      next++;
      const tenant = RLS_TENANTS[Math.floor(Math.random() * RLS_TENANTS.length)];
      const op = pick();
      const [method, path] = PATHS[op];
      if (op === 'write' || op === 'tx-write') {
        r.writeAttemptsByTenant.set(tenant, (r.writeAttemptsByTenant.get(tenant) ?? 0) + 1);
      }
      const res = await send(agent, port, method, path, { 'x-organisation-id': tenant });
      r.requests++;
      r.byOp[op] = (r.byOp[op] ?? 0) + 1;
      r.byStatus[res.status] = (r.byStatus[res.status] ?? 0) + 1;
      if (op === 'read' && res.status === 200) {
        const body = JSON.parse(res.body) as ReadResult;
        r.readsOk++;
        if (body.bound !== tenant) r.bindingMismatches++;
        for (const [org, n] of Object.entries(body.counts)) {
          r.rowsSeen += n;
          if (org !== tenant) r.foreignRowsSeen += n;
        }
      } else if ((op === 'write' || op === 'tx-write') && res.status === 201) {
        r.writesOk++;
        r.writesOkByTenant.set(tenant, (r.writesOkByTenant.get(tenant) ?? 0) + 1);
        if ((JSON.parse(res.body) as { organisation_id: string }).organisation_id !== tenant) {
          r.foreignWrites++;
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    stopChaos = true;
    await chaosLoop;
    await chaos.end();
  }
  r.elapsedMs = Date.now() - t0;

  // Ground truth as the superuser (bypasses RLS): every stored row's session tenant must equal the
  // tenant the request carried, and nothing written in a failed transaction may survive.
  const admin = await adminClient(db.url);
  try {
    r.mislabelled = (
      await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM notes WHERE organisation_id <> body')
    ).rows[0].n;
    r.failedSurvivors = (
      await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM notes WHERE body = 'FAILED'`)
    ).rows[0].n;
    const g = await admin.query<{ org: string; n: number }>(
      `SELECT organisation_id AS org, count(*)::int - ${SEED} AS n FROM notes GROUP BY 1`,
    );
    for (const row of g.rows) r.storedByTenant.set(row.org, row.n);
  } finally {
    await admin.end();
  }
  return r;
}

/** One log block for a workload run. */
export function describeWorkload(tag: string, r: RlsWorkloadResult, pool: Pool<Client>, extra = ''): string {
  const stats = pool.stats();
  return (
    `[${tag}] ${r.requests} requests from ${RLS_TENANTS.length} tenants in ${r.elapsedMs} ms ` +
    `(${Math.round((r.requests / r.elapsedMs) * 1000)} req/s${extra})\n` +
    `[${tag}] by op ${JSON.stringify(r.byOp)}, by status ${JSON.stringify(r.byStatus)}\n` +
    `[${tag}] reads ok ${r.readsOk}, rows seen ${r.rowsSeen}, FOREIGN ROWS SEEN ${r.foreignRowsSeen}, ` +
    `binding mismatches ${r.bindingMismatches}\n` +
    `[${tag}] writes ok ${r.writesOk}, foreign writes ${r.foreignWrites}, mislabelled rows ${r.mislabelled}, ` +
    `rows surviving failed transactions ${r.failedSurvivors}\n` +
    `[${tag}] backends killed by chaos ${r.chaosKills}; pool created ${stats.created}, destroyed ${stats.destroyed}, ` +
    `acquired ${stats.acquired}, timeouts ${stats.timeouts}; hold p50/p99 ${stats.holdMs.p50.toFixed(1)}/` +
    `${stats.holdMs.p99.toFixed(1)} ms, acquire wait p50/p99 ${stats.acquireWaitMs.p50.toFixed(1)}/` +
    `${stats.acquireWaitMs.p99.toFixed(1)} ms`
  );
}

/** Acknowledged (201) writes of a tenant that are not stored, summed over tenants. */
export function lostAcknowledgedWrites(r: RlsWorkloadResult): number {
  let lost = 0;
  for (const [org, ok] of r.writesOkByTenant) lost += Math.max(0, ok - (r.storedByTenant.get(org) ?? 0));
  return lost;
}

/**
 * The proof's assertions: zero foreign rows, zero binding mismatches, zero acknowledged writes that
 * are not stored, and only injected faults fail.
 */
export function expectIsolated(r: RlsWorkloadResult, requested: number, pool: Pool<Client>): void {
  expect(r.requests).toBe(requested);
  expect(new Set(r.writeAttemptsByTenant.keys()).size).toBeGreaterThanOrEqual(20);
  expect(r.foreignRowsSeen).toBe(0);
  expect(r.bindingMismatches).toBe(0);
  expect(r.foreignWrites).toBe(0);
  expect(r.mislabelled).toBe(0);
  expect(r.failedSurvivors).toBe(0);
  // Only the faults we inject may fail: mid-transaction throws, self-kills and chaos kills.
  const injected = (r.byOp['fail-mid-tx'] ?? 0) + (r.byOp['self-kill'] ?? 0) + r.chaosKills;
  expect(r.requests - (r.byStatus['200'] ?? 0) - (r.byStatus['201'] ?? 0)).toBeLessThanOrEqual(injected);
  expect(r.readsOk).toBeGreaterThan(requested * 0.3);
  expect(r.rowsSeen).toBeGreaterThan(0);
  // Every acknowledged write is stored under its tenant (a write killed after COMMIT may exist unacknowledged).
  expect(lostAcknowledgedWrites(r)).toBe(0);
  for (const [org] of r.writesOkByTenant) {
    expect(r.storedByTenant.get(org) ?? 0).toBeLessThanOrEqual(r.writeAttemptsByTenant.get(org) ?? 0);
  }
  expect(pool.stats().timeouts).toBe(0);
}
