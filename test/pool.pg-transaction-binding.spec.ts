/**
 * `pgTenantBinding({ mode: 'transaction' })` commits on release: `use()` must not return before that
 * COMMIT succeeded, or a caller acknowledges work that PostgreSQL rolled back. A deferred unique
 * constraint makes the COMMIT itself fail, deterministically, on real PostgreSQL.
 */
import { Pool, PoolUnbindError, pgClientFactory, pgTenantBinding, silentPoolLogger } from '@reservoir/pool';
import type { Client } from 'pg';
import { startPgBouncer, type PgBouncerInstance } from './helpers/pgbouncer';
import { adminClient, createTestDatabase } from './helpers/services';

describe('transaction-mode binding on PostgreSQL: use() resolves only after the COMMIT', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool<Client>;

  beforeAll(async () => {
    db = await createTestDatabase('reservoir_txbind');
    const admin = await adminClient(db.url);
    try {
      await admin.query(`CREATE TABLE items (
        k int NOT NULL,
        org text NOT NULL DEFAULT current_setting('app.organisation_id', true),
        CONSTRAINT items_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)`);
    } finally {
      await admin.end();
    }
    pool = new Pool<Client>({
      name: 'txbind',
      max: 2,
      factory: pgClientFactory(db.url),
      tenantBinding: pgTenantBinding<Client>({ mode: 'transaction' }),
      logger: silentPoolLogger,
    });
  }, 30_000);

  afterAll(async () => {
    await pool?.close();
    await db?.drop();
  }, 30_000);

  async function stored(): Promise<{ k: number; org: string }[]> {
    const admin = await adminClient(db.url);
    try {
      return (await admin.query<{ k: number; org: string }>('SELECT k, org FROM items ORDER BY k')).rows;
    } finally {
      await admin.end();
    }
  }

  it('a successful use() is committed under its tenant by the time it resolves', async () => {
    await pool.use((c) => c.query('INSERT INTO items (k) VALUES (1)'), { organisationId: 'org-a' });
    expect(await stored()).toEqual([{ k: 1, org: 'org-a' }]);
  });

  it('a COMMIT that fails makes use() reject with PoolUnbindError, and nothing is stored', async () => {
    const before = pool.stats().destroyed;
    // Both rows pass the INSERTs (the constraint is deferred); the COMMIT on release fails.
    const call = pool.use(
      async (c) => {
        await c.query('INSERT INTO items (k) VALUES (2), (2)');
        return 'acknowledged';
      },
      { organisationId: 'org-b' },
    );
    const err = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PoolUnbindError);
    expect((err as PoolUnbindError).organisationId).toBe('org-b');
    expect((err as Error).message).toMatch(/tenantBinding\.unbind on release failed or could not run.*may not be committed/);
    expect(String((err as Error & { cause?: unknown }).cause)).toMatch(/duplicate key/);
    expect(await stored()).toEqual([{ k: 1, org: 'org-a' }]);
    expect(pool.stats().destroyed).toBe(before + 1);
    // A statement error caught inside the callback aborts the transaction: COMMIT answers ROLLBACK.
    const caught = await pool
      .use(
        async (c) => {
          await c.query('INSERT INTO items (k) VALUES (4)');
          await c.query('SELECT 1/0').catch(() => undefined);
          return 'acknowledged';
        },
        { organisationId: 'org-d' },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(caught).toBeInstanceOf(PoolUnbindError);
    expect(String((caught as Error & { cause?: unknown }).cause)).toMatch(/answered ROLLBACK/);
    // The pool goes on serving.
    await pool.use((c) => c.query('INSERT INTO items (k) VALUES (3)'), { organisationId: 'org-c' });
    expect(await stored()).toEqual([
      { k: 1, org: 'org-a' },
      { k: 3, org: 'org-c' },
    ]);
  });
});

/**
 * The PgBouncer proof's lost acknowledged writes (docs/design.md, "RLS behind PgBouncer"): the lease's
 * backend dies after the callback's last statement succeeded but before the binding's COMMIT. When
 * pg has already reported the dead connection by then (an ErrorResponse read in the same socket read
 * as the INSERT's ReadyForQuery, or any time before release), the pool marks the leased client
 * broken; release must then still fail the call, since the transaction can no longer commit.
 * Deterministic here: the callback waits for the client's 'error'/'end' before it returns.
 */
describe.each(['direct', 'pgbouncer'] as const)(
  'transaction-mode binding (%s): a backend killed between the INSERT and the COMMIT never acknowledges the write',
  (route) => {
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    let bouncer: PgBouncerInstance | undefined;
    let pool: Pool<Client>;
    let admin: Client;
    let next = 0;

    beforeAll(async () => {
      db = await createTestDatabase('reservoir_txkill');
      admin = await adminClient(db.url);
      await admin.query(`CREATE TABLE items (
        k int PRIMARY KEY,
        org text NOT NULL DEFAULT current_setting('app.organisation_id', true))`);
      let url = db.url;
      if (route === 'pgbouncer') {
        const u = new URL(db.url);
        const user = decodeURIComponent(u.username) || 'postgres';
        bouncer = await startPgBouncer({
          poolMode: 'transaction',
          users: [user],
          databases: [{ alias: db.name, dbname: db.name, poolSize: 2 }],
        });
        url = bouncer.url(user, db.name);
      }
      pool = new Pool<Client>({
        name: `txkill-${route}`,
        max: 2,
        factory: pgClientFactory({ connectionString: url, connectionTimeoutMillis: 5000 }),
        tenantBinding: pgTenantBinding<Client>({ mode: 'transaction' }),
        logger: silentPoolLogger,
      });
    }, 60_000);

    afterAll(async () => {
      await pool?.close();
      await admin?.end();
      await bouncer?.stop();
      await db?.drop();
    }, 30_000);

    async function isStored(k: number): Promise<boolean> {
      return (await admin.query('SELECT 1 FROM items WHERE k = $1', [k])).rowCount === 1;
    }

    /** INSERT k, then kill the lease's backend from outside; `settle` decides what fn waits for before returning. */
    function insertThenKill(k: number, settle: (c: Client) => Promise<void>): Promise<string> {
      return pool.use(
        async (c) => {
          const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
          await c.query('INSERT INTO items (k) VALUES ($1)', [k]);
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
          await settle(c);
          return 'acknowledged';
        },
        { organisationId: 'org-k' },
      );
    }

    it('the client reports the dead connection before release: use() rejects, nothing is stored', async () => {
      const k = ++next;
      const dead = (c: Client) =>
        new Promise<void>((resolve) => {
          c.once('error', () => resolve());
          c.once('end', () => resolve());
        });
      const err = await insertThenKill(k, dead).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(await isStored(k)).toBe(false);
      expect(err).toBeInstanceOf(PoolUnbindError);
      expect((err as PoolUnbindError).organisationId).toBe('org-k');
      // The pool goes on serving, and commits.
      const ok = ++next;
      await pool.use((c) => c.query('INSERT INTO items (k) VALUES ($1)', [ok]), { organisationId: 'org-k' });
      expect(await isStored(ok)).toBe(true);
    }, 30_000);

    it('whatever the timing of the kill, use() resolves only when the row is stored', async () => {
      const outcomes = { resolvedStored: 0, rejectedAbsent: 0, resolvedAbsent: 0, rejectedStored: 0 };
      for (let i = 0; i < 30; i++) {
        const k = ++next;
        const wait = i % 3; // 0: straight on to the COMMIT; 1: one macrotask; 2: a few ms
        const resolved = await insertThenKill(k, () =>
          wait === 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, wait === 1 ? 0 : 5)),
        ).then(
          () => true,
          () => false,
        );
        const stored = await isStored(k);
        if (resolved) outcomes[stored ? 'resolvedStored' : 'resolvedAbsent']++;
        else outcomes[stored ? 'rejectedStored' : 'rejectedAbsent']++;
      }
      expect(outcomes.resolvedAbsent).toBe(0);
      // A rejected call whose row is stored would be safe (the caller retries), but the kill always
      // comes before the COMMIT here, so it does not happen either.
      expect(outcomes.rejectedStored).toBe(0);
    }, 60_000);
  },
);
