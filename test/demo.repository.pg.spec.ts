/**
 * The demo's PostgreSQL repository against a real database, with the write race forced
 * deterministically: a second session deletes the project and holds its transaction open while
 * createTask runs, so createTask's foreign-key check waits on that row and fails once the delete
 * commits. Before the fix that was a 23503 error (a 500); now it is "project gone" (a 404).
 */
import type { Client } from 'pg';
import { Pool, pgTenantBinding, silentPoolLogger } from '@reservoir/pool';
import {
  PG_APPLICATION_NAME,
  PG_TENANT_SETTING,
  pgFactory,
  preparePostgres,
} from '../apps/demo/src/db/postgres.database';
import { PostgresProjectsRepository } from '../apps/demo/src/db/postgres.repository';
import { adminClient, createTestDatabase } from './helpers/services';

jest.setTimeout(30_000);

describe('PostgresProjectsRepository on a real database', () => {
  let db: { name: string; url: string; drop: () => Promise<void> };
  let pool: Pool<Client>;
  let repo: PostgresProjectsRepository;

  beforeAll(async () => {
    db = await createTestDatabase('reservoir_repo');
    const role = await preparePostgres(db.url);
    pool = new Pool<Client>({
      name: 'repo-test',
      factory: pgFactory(db.url, role),
      max: 4,
      acquireTimeoutMs: 5000,
      tenantBinding: pgTenantBinding<Client>({ setting: PG_TENANT_SETTING, mode: 'session' }),
      logger: silentPoolLogger,
    });
  });
  beforeEach(() => {
    repo = new PostgresProjectsRepository(pool);
  });
  afterAll(async () => {
    await pool?.close();
    await db?.drop();
  });

  /** Waits until one of the demo's backends in this database waits on a lock. */
  async function waitForLockWait(admin: Client): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await admin.query(
        `SELECT 1 FROM pg_stat_activity
          WHERE datname = $1 AND application_name = $2 AND wait_event_type = 'Lock'`,
        [db.name, PG_APPLICATION_NAME],
      );
      if (r.rowCount) return;
      if (Date.now() > deadline) throw new Error('createTask never waited on the deleting transaction');
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  it('createTask while a concurrent DELETE of its project commits: undefined (404), not a 23503', async () => {
    const project = await repo.createProject('acme', 'doomed');
    const admin = await adminClient(db.url);
    try {
      await admin.query('BEGIN');
      expect((await admin.query('DELETE FROM projects WHERE id = $1', [project.id])).rowCount).toBe(1);
      const creating = repo.createTask('acme', project.id, 'too late');
      await waitForLockWait(admin); // the insert saw the project; its FK check waits for our delete
      await admin.query('COMMIT');
      await expect(creating).resolves.toBeUndefined();
    } finally {
      await admin.query('ROLLBACK').catch(() => undefined);
      await admin.end();
    }
    expect(await repo.listTasks('acme', project.id)).toBeUndefined();
  });

  it('a never-seeded organisation is provisioned by its first writes, concurrently and once', async () => {
    const org = `fresh-${Date.now()}`;
    const projects = await Promise.all(Array.from({ length: 8 }, (_, i) => repo.createProject(org, `p${i}`)));
    expect(projects.every((p) => p.organisationId === org)).toBe(true);
    const settings = await repo.setFlag(org, 'beta', true);
    expect(settings).toEqual({ organisationId: org, plan: 'free', flags: { beta: true } });
    const admin = await adminClient(db.url);
    try {
      const r = await admin.query('SELECT id, name, plan FROM organisations WHERE id = $1', [org]);
      expect(r.rows).toEqual([{ id: org, name: org, plan: 'free' }]);
    } finally {
      await admin.end();
    }
    expect(await repo.organisationExists(org)).toBe(true);
  });
});
