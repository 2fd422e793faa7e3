/**
 * The RLS proof behind a real PgBouncer in TRANSACTION pool mode (Debian package `pgbouncer`, started
 * by the test on a free port, see test/helpers/pgbouncer.ts).
 *
 * In transaction mode PgBouncer hands a server connection to a client only for one transaction, then
 * gives it to whichever client asks next. Session state (a `set_config(.., false)`) therefore stays on
 * the server connection and reaches other clients. `pgTenantBinding({ mode: 'transaction' })` binds
 * with `set_config(.., true)` inside `BEGIN`…`COMMIT`, so the setting ends with the transaction that
 * PgBouncer ends the link with.
 *
 * 1. The full randomized workload of the direct proof (test/helpers/rls.ts) through PgBouncer with
 *    the pool (max 5) multiplexed over 3 server connections, while unbound probe clients through the
 *    same PgBouncer pool check that no tenant setting and no tenant row ever reaches a client that
 *    did not bind: 0 foreign rows, 0 binding leaks.
 * 2. Side by side on a one-server-connection alias: session mode leaks the tenant to the next client
 *    (so it is unsafe there), transaction mode does not.
 */
import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getPoolToken, pgTenantBinding, PoolModule, type Pool } from '@reservoir/pool';
import { TenantModule } from '@reservoir/tenant';
import { Client } from 'pg';
import { startPgBouncer, type PgBouncerInstance } from './helpers/pgbouncer';
import {
  NotesController,
  READ_VISIBLE,
  RLS_LEASE_IS_TRANSACTION,
  RLS_POOL,
  RLS_TENANTS,
  countingPgFactory,
  createRlsDatabase,
  describeWorkload,
  expectIsolated,
  lostAcknowledgedWrites,
  runRlsWorkload,
  send,
  type ReadResult,
  type RlsDatabase,
} from './helpers/rls';
import { uniqueAppName } from './helpers/services';

const REQUESTS = Number(process.env.RLS_REQUESTS ?? 20_000);
const CONCURRENCY = 64;
const POOL_MAX = 5;
/** Fewer server connections than pool clients, so PgBouncer really multiplexes them. */
const BOUNCER_POOL = 3;
const PROBES = 2;

interface App {
  app: INestApplication;
  port: number;
  pool: Pool<Client>;
  close(): Promise<void>;
}

async function startApp(url: string, mode: 'session' | 'transaction', max: number): Promise<App> {
  const ref = await Test.createTestingModule({
    imports: [
      TenantModule.forRoot(),
      PoolModule.forRoot<Client>({
        name: RLS_POOL,
        max,
        min: 1,
        acquireTimeoutMs: 20_000,
        createRetry: { initialDelayMs: 5, maxDelayMs: 100 },
        tenantBinding: pgTenantBinding<Client>({ setting: 'app.organisation_id', mode }),
        factory: countingPgFactory(url, uniqueAppName('rlsb'), { queries: 0 }),
      }),
    ],
    controllers: [NotesController],
    providers: [{ provide: RLS_LEASE_IS_TRANSACTION, useValue: mode === 'transaction' }],
  }).compile();
  const app = ref.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  let closed = false;
  return {
    app,
    port: (app.getHttpServer().address() as AddressInfo).port,
    pool: app.get<Pool<Client>>(getPoolToken(RLS_POOL)),
    close: async () => {
      if (!closed) await app.close();
      closed = true;
    },
  };
}

/** What a client that never binds sees through PgBouncer: must be no setting and no row. */
async function probeOnce(c: Client): Promise<ReadResult> {
  return (await c.query<ReadResult>(READ_VISIBLE)).rows[0];
}

function leaked(seen: ReadResult): boolean {
  return (seen.bound ?? '') !== '' || Object.keys(seen.counts).length > 0;
}

describe('tenant isolation on PostgreSQL RLS behind PgBouncer in transaction mode (e2e)', () => {
  let db: RlsDatabase;
  let bouncer: PgBouncerInstance;
  /** One alias per mode, each its own one-connection PgBouncer pool: one case cannot taint the other's backend. */
  const singleAlias = (mode: string) => `${db.name}_${mode}`;

  beforeAll(async () => {
    db = await createRlsDatabase('reservoir_rlsb');
    bouncer = await startPgBouncer({
      poolMode: 'transaction',
      users: [db.role],
      databases: [
        { alias: db.name, dbname: db.name, poolSize: BOUNCER_POOL },
        { alias: `${db.name}_session`, dbname: db.name, poolSize: 1 },
        { alias: `${db.name}_transaction`, dbname: db.name, poolSize: 1 },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await bouncer?.stop();
    await db?.drop();
  }, 30_000);

  it('really is PgBouncer in transaction mode: consecutive statements of one client may run on different backends', async () => {
    const clients = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const c = new Client({ connectionString: bouncer.url(db.role, db.name) });
        await c.connect();
        return c;
      }),
    );
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 20; i++) {
        const all = await Promise.all(
          clients.map((c) => c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.005)')),
        );
        for (const r of all) pids.add(r.rows[0].pid);
      }
      // 4 clients over 3 server connections: more than one backend, never more than the pool size.
      expect(pids.size).toBeGreaterThan(1);
      expect(pids.size).toBeLessThanOrEqual(BOUNCER_POOL);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it(`transaction mode: ${REQUESTS} randomized requests from ${RLS_TENANTS.length} tenants through PgBouncer, 0 foreign rows, 0 binding leaks`, async () => {
    const a = await startApp(bouncer.url(db.role, db.name), 'transaction', POOL_MAX);
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const probe = { runs: 0, leaks: 0, errors: 0, sample: '' };
    let stopProbes = false;
    // Unbound clients on the same PgBouncer pool: they get whichever server connection the app's
    // clients just left, so any tenant state that outlived its transaction shows up here.
    const probeLoop = async () => {
      let c: Client | null = null;
      while (!stopProbes) {
        try {
          if (!c) {
            c = new Client({ connectionString: bouncer.url(db.role, db.name), query_timeout: 10_000 });
            c.on('error', () => undefined);
            await c.connect();
          }
          const seen = await probeOnce(c);
          probe.runs++;
          if (leaked(seen)) {
            probe.leaks++;
            probe.sample ||= JSON.stringify(seen);
          }
        } catch {
          // The chaos loop kills server connections of this role too; reconnect.
          probe.errors++;
          await c?.end().catch(() => undefined);
          c = null;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await c?.end().catch(() => undefined);
    };
    const probes = Array.from({ length: PROBES }, probeLoop);
    try {
      const r = await runRlsWorkload({
        agent,
        port: a.port,
        db,
        requests: REQUESTS,
        concurrency: CONCURRENCY,
      });
      stopProbes = true;
      await Promise.all(probes);
      console.log(
        describeWorkload(
          'rls-pgbouncer',
          r,
          a.pool,
          `, concurrency ${CONCURRENCY}, pool max ${POOL_MAX}, PgBouncer transaction mode, ${BOUNCER_POOL} server connections`,
        ) +
          `\n[rls-pgbouncer] unbound probes ${probe.runs}, BINDING LEAKS ${probe.leaks}${probe.sample ? ` e.g. ${probe.sample}` : ''}, probe errors ${probe.errors}` +
          `\n[rls-pgbouncer] acknowledged writes not stored ${lostAcknowledgedWrites(r)} of ${r.writesOk}`,
      );
      expectIsolated(r, REQUESTS, a.pool);
      expect(probe.runs).toBeGreaterThan(1000);
      expect(probe.leaks).toBe(0);
    } finally {
      stopProbes = true;
      await Promise.all(probes);
      agent.destroy();
      await a.close();
    }
  }, 300_000);

  it.each([
    ['session', true],
    ['transaction', false],
  ] as const)(
    '%s mode behind transaction-mode PgBouncer: the tenant reaches the next client = %s',
    async (mode, leaks) => {
      // One server connection: the probe is guaranteed the backend the app's client just used.
      const a = await startApp(bouncer.url(db.role, singleAlias(mode)), mode, 1);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const probe = new Client({ connectionString: bouncer.url(db.role, singleAlias(mode)) });
      await probe.connect();
      try {
        const own = await send(agent, a.port, 'GET', '/notes', { 'x-organisation-id': 'org-07' });
        expect(own.status).toBe(200);
        expect(Object.keys((JSON.parse(own.body) as ReadResult).counts)).toEqual(['org-07']);

        const seen = await probeOnce(probe);
        console.log(
          `[rls-pgbouncer] ${mode} mode, next client on the same backend sees ${JSON.stringify(seen)}`,
        );
        if (leaks) {
          // The unbound client reads org-07's setting and rows: session binding is unsafe here.
          expect(seen.bound).toBe('org-07');
          expect(seen.counts['org-07']).toBeGreaterThan(0);
        } else {
          expect(leaked(seen)).toBe(false);
        }
      } finally {
        await probe.end();
        agent.destroy();
        await a.close();
      }
    },
    30_000,
  );
});
