/**
 * Integration, real PostgreSQL: a client the borrower ended is never lent again; a client whose
 * backend was killed is destroyed by use() with default options (pgClientFactory's isBroken), and
 * SQL errors leave the client in the pool; queries are bounded by default.
 */
import { Pool, pgClientFactory, type PoolLogger } from '@reservoir/pool';
import type { Client } from 'pg';
import { adminClient, DATABASE_URL, requirePostgres, uniqueAppName } from './helpers/services';

jest.setTimeout(30_000);

function capture(): PoolLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: (m) => lines.push(`log ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

async function terminate(pid: number): Promise<void> {
  const admin = await adminClient();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
}

describe('pgClientFactory defects against real PostgreSQL', () => {
  const pools: Pool<Client>[] = [];
  const make = (app: string, extra: Parameters<typeof pgClientFactory>[1] = {}) => {
    const logger = capture();
    const pool = new Pool<Client>({
      name: app,
      factory: pgClientFactory(DATABASE_URL, { applicationName: app, ...extra }),
      max: 1,
      logger,
    });
    pools.push(pool);
    return { pool, logger };
  };

  beforeAll(() => requirePostgres());
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  it('never lends again a client its borrower ended', async () => {
    const { pool } = make(uniqueAppName('pool_ended'));
    const c = await pool.acquire();
    void c.end(); // pg marks the client ending synchronously; 'end' arrives later
    pool.release(c);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0 });
    await expect(pool.use((x) => x.query('SELECT 1 AS one'))).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it('use() with default options destroys a client whose backend was killed, before its error event', async () => {
    const { pool, logger } = make(uniqueAppName('pool_killed'));
    let first: Client | undefined;
    let killing: Promise<void> | undefined;
    await expect(
      pool.use(async (c) => {
        first = c;
        const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // Killed mid-query: the query fails with 57P01 before the socket's 'error'/'end' arrive.
        const sleeping = c.query('SELECT pg_sleep(5)');
        killing = terminate(rows[0].pid);
        await sleeping;
      }),
    ).rejects.toMatchObject({ code: '57P01' });
    expect(pool.stats()).toMatchObject({ destroyed: 1, idle: 0 });
    await killing;
    const second = await pool.acquire();
    expect(second).not.toBe(first);
    await expect(second.query('SELECT 1')).resolves.toBeDefined();
    pool.release(second);
    // A "was removed" warning only ever describes a client that is gone.
    for (const line of logger.lines.filter((l) => l.includes('was removed'))) expect(line).toMatch(/^warn/);
  });

  it('use() with default options keeps the client after a SQL error', async () => {
    const { pool } = make(uniqueAppName('pool_sqlerr'));
    let first: Client | undefined;
    await expect(
      pool.use(async (c) => {
        first = c;
        await c.query('SELECT * FROM a_table_that_does_not_exist');
      }),
    ).rejects.toThrow(/does not exist/);
    expect(pool.stats()).toMatchObject({ destroyed: 0, size: 1, idle: 1 });
    await pool.use((c) => expect(c).toBe(first));
  });

  it('bounds queries by default (queryTimeoutMs) and treats a timed-out client as broken', async () => {
    const { pool } = make(uniqueAppName('pool_qto'), { queryTimeoutMs: 300 });
    const t0 = Date.now();
    await expect(pool.use((c) => c.query('SELECT pg_sleep(5)'))).rejects.toThrow(/timeout/i);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(pool.stats().destroyed).toBe(1);
    await expect(pool.use((c) => c.query('SELECT 1'))).resolves.toBeDefined();
  });

  it('defaults: query timeout and TCP keepalive on, overridable', async () => {
    type Internals = {
      connectionParameters: { query_timeout?: number };
      connection: { _keepAlive: boolean };
    };
    const { pool } = make(uniqueAppName('pool_defaults'));
    await pool.use((c) => {
      const i = c as unknown as Internals;
      expect(i.connectionParameters.query_timeout).toBe(30_000);
      expect(i.connection._keepAlive).toBe(true);
    });
    const custom = make(uniqueAppName('pool_custom'), { queryTimeoutMs: 0, keepAlive: false }).pool;
    await custom.use((c) => {
      const i = c as unknown as Internals;
      expect(i.connectionParameters.query_timeout).toBeFalsy();
      expect(i.connection._keepAlive).toBe(false);
    });
  });
});
