/**
 * `pgTenantBinding({ mode: 'transaction' })` commits on release: `use()` must not return before that
 * COMMIT succeeded, or a caller acknowledges work that PostgreSQL rolled back. A deferred unique
 * constraint makes the COMMIT itself fail, deterministically, on real PostgreSQL.
 */
import { Pool, PoolUnbindError, pgClientFactory, pgTenantBinding, silentPoolLogger } from '@reservoir/pool';
import type { Client } from 'pg';
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
    expect((err as Error).message).toMatch(/tenantBinding\.unbind on release failed.*may not be committed/);
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
