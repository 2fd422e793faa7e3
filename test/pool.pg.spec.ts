/**
 * Integration: the pool against REAL PostgreSQL, pooling `pg.Client`s. Each test uses
 * its own `application_name`, so `pg_stat_activity` shows exactly its backends.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Test } from '@nestjs/testing';
import {
  getPoolToken,
  pgClientFactory,
  Pool,
  PoolError,
  PoolModule,
  type PoolOptions,
} from '@reservoir/pool';
import type { Client, ClientConfig } from 'pg';
import { unusedPort } from './helpers/net';
import { adminClient, countBackends, DATABASE_URL, requirePostgres, uniqueAppName } from './helpers/services';

const pgUrl = new URL(DATABASE_URL);
const PG_HOST = pgUrl.hostname || '127.0.0.1';
const PG_PORT = Number(pgUrl.port || 5432);

/** Where the factory connects; tests move it to simulate the database going away and coming back. */
interface Target {
  host: string;
  port: number;
}

/** Where the target is now: a function, so the factory reads it for every new client. */
function pgTarget(target: Target): () => ClientConfig {
  // No connectionString here: pg lets it override host/port, and tests move host/port.
  return () => ({
    user: decodeURIComponent(pgUrl.username) || 'postgres',
    password: decodeURIComponent(pgUrl.password) || undefined,
    database: pgUrl.pathname.slice(1) || 'postgres',
    host: target.host,
    port: target.port,
    connectionTimeoutMillis: 2000,
  });
}

async function waitFor(
  what: string,
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function backendPids(applicationName: string): Promise<number[]> {
  const admin = await adminClient();
  try {
    const r = await admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid',
      [applicationName],
    );
    return r.rows.map((row) => row.pid);
  } finally {
    await admin.end();
  }
}

async function terminate(pids: number[]): Promise<void> {
  const admin = await adminClient();
  try {
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
  } finally {
    await admin.end();
  }
}

/** A TCP proxy to PostgreSQL listening on `port`: the "database comes back" stub. */
async function startProxy(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    const up = connect(PG_PORT, PG_HOST);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

jest.setTimeout(30_000);

describe('Pool with pg.Client against real PostgreSQL', () => {
  const pools: Pool<Client>[] = [];
  const make = (opts: Omit<PoolOptions<Client>, 'factory'>, app: string, target: Target) => {
    const pool = new Pool<Client>({
      ...opts,
      factory: pgClientFactory(pgTarget(target), { applicationName: app }),
    });
    pools.push(pool);
    return pool;
  };

  beforeAll(() => requirePostgres());
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  it('prefill opens exactly `min` backends, and close() leaves zero', async () => {
    const app = uniqueAppName('pool_prefill');
    const pool = make({ name: 'prefill', min: 3, max: 10 }, app, { host: PG_HOST, port: PG_PORT });
    await pool.start();
    expect(pool.stats()).toMatchObject({ size: 3, idle: 3, created: 3 });
    expect(await countBackends(app)).toBe(3);

    const rows = await pool.use(async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows);
    expect(rows).toEqual([{ one: 1 }]);
    expect(await countBackends(app)).toBe(3); // reused, not a 4th

    await pool.close();
    await waitFor('backends to exit', async () => (await countBackends(app)) === 0, 3000);
    expect(pool.stats()).toMatchObject({ size: 0, closed: true });
  });

  it('detects a backend killed with pg_terminate_backend and replaces it, with no crash', async () => {
    const app = uniqueAppName('pool_kill');
    const pool = make({ name: 'kill', min: 2, max: 4 }, app, { host: PG_HOST, port: PG_PORT });
    await pool.start();
    const before = await backendPids(app);
    expect(before).toHaveLength(2);

    await terminate([before[0]]);
    await waitFor('the dead client to be destroyed', () => pool.stats().destroyed >= 1);
    await waitFor('min to be restored', async () => {
      const pids = await backendPids(app);
      return pids.length === 2 && !pids.includes(before[0]);
    });

    // Every client handed out now works.
    const a = await pool.acquire();
    const b = await pool.acquire();
    try {
      await expect(a.query('SELECT 1')).resolves.toBeDefined();
      await expect(b.query('SELECT 1')).resolves.toBeDefined();
    } finally {
      pool.release(a);
      pool.release(b);
    }

    // A leased client killed mid-use: use() with isBroken destroys it instead of returning it.
    const [victim] = await backendPids(app);
    const destroyedBefore = pool.stats().destroyed;
    await expect(
      pool.use(
        async (c) => {
          const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await terminate([rows[0].pid]);
          await c.query('SELECT 1');
        },
        { isBroken: () => true },
      ),
    ).rejects.toThrow();
    expect(victim).toBeDefined();
    await waitFor('the broken lease to be destroyed', () => pool.stats().destroyed > destroyedBefore);
    await expect(pool.use((c) => c.query('SELECT 1'))).resolves.toBeDefined();
    const t0 = Date.now();
    await pool.close();
    expect(Date.now() - t0).toBeLessThan(2000); // no create or destroy left hanging
  });

  describe('database unreachable', () => {
    it('gives waiters a clear error within acquireTimeoutMs and recovers when pointed back', async () => {
      const app = uniqueAppName('pool_down');
      const target = { host: '127.0.0.1', port: await unusedPort() };
      const pool = make(
        {
          name: 'down',
          min: 0,
          max: 3,
          acquireTimeoutMs: 800,
          createRetry: { initialDelayMs: 10, maxDelayMs: 100 },
        },
        app,
        target,
      );
      await pool.start();

      const t0 = Date.now();
      const results = await Promise.allSettled([pool.acquire(), pool.acquire(), pool.acquire()]);
      const elapsed = Date.now() - t0;
      expect(elapsed).toBeLessThan(800 + 500);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        const err = (r as PromiseRejectedResult).reason as Error;
        expect(err).toBeInstanceOf(PoolError);
        expect(err.message).toContain('down');
        expect(err.message).toMatch(/800/);
        expect(String((err.cause as Error | undefined)?.message)).toMatch(/ECONNREFUSED/);
      }
      expect(pool.health().state).toBe('UNHEALTHY');

      target.port = PG_PORT;
      target.host = PG_HOST;
      const client = await pool.acquire({ timeoutMs: 5000 });
      try {
        await expect(client.query('SELECT 1')).resolves.toBeDefined();
      } finally {
        pool.release(client);
      }
      expect(await countBackends(app)).toBeGreaterThanOrEqual(1);
    });

    it('recovers once a stub TCP server starts listening on the port', async () => {
      const app = uniqueAppName('pool_stub');
      const port = await unusedPort();
      const pool = make(
        {
          name: 'stub',
          min: 1,
          max: 2,
          acquireTimeoutMs: 600,
          createRetry: { initialDelayMs: 10, maxDelayMs: 100 },
        },
        app,
        { host: '127.0.0.1', port },
      );
      await pool.start().catch(() => undefined); // prefill may fail while the port is closed
      const t0 = Date.now();
      await expect(pool.acquire()).rejects.toBeInstanceOf(PoolError);
      expect(Date.now() - t0).toBeLessThan(600 + 500);

      const proxy = await startProxy(port);
      try {
        const rows = await pool.use(async (c) => (await c.query<{ n: number }>('SELECT 2 AS n')).rows, {
          timeoutMs: 5000,
        });
        expect(rows).toEqual([{ n: 2 }]);
        await waitFor('min to be prefilled through the proxy', async () => (await countBackends(app)) >= 1);
        await pool.close();
        await waitFor('backends to exit', async () => (await countBackends(app)) === 0, 3000);
      } finally {
        await proxy.close();
      }
    });
  });

  it('through PoolModule.forRootAsync: prefill on init, zero backends after app close', async () => {
    const app = uniqueAppName('pool_nest');
    const ref = await Test.createTestingModule({
      imports: [
        PoolModule.forRootAsync({
          name: 'pg',
          useFactory: () => ({
            factory: pgClientFactory(pgTarget({ host: PG_HOST, port: PG_PORT }), { applicationName: app }),
            min: 2,
            max: 5,
          }),
        }),
      ],
    }).compile();
    await ref.init();
    try {
      expect(await countBackends(app)).toBe(2);
      const pool = ref.get<Pool<Client>>(getPoolToken('pg'));
      await expect(pool.use((c) => c.query('SELECT 1'))).resolves.toBeDefined();
    } finally {
      await ref.close();
    }
    await waitFor('backends to exit', async () => (await countBackends(app)) === 0, 3000);
  });
});
