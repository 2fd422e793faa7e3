/**
 * `ProjectsRepository` on PostgreSQL. Tenant isolation is row-level security: every call hands
 * the organisation to the pool (`use(fn, { organisationId })`), whose `pgTenantBinding` sets
 * `app.organisation_id` on the leased session before `fn` runs and resets it on release, and the
 * policies (see postgres.database.ts) only show and accept rows of that organisation. The SQL
 * below deliberately has no `organisation_id = …` filter on reads: what a tenant sees is decided
 * by the database, and the e2e tests prove it.
 */
import type { Client } from 'pg';
import {
  type Leaser,
  type Organisation,
  type OrganisationSettings,
  type PricingRow,
  type Project,
  type ProjectRow,
  type ProjectsRepository,
  type Task,
  type TaskRow,
  toProject,
  toTask,
  withTimeout,
} from './db.types';
import { constraintKind, rethrowConstraint } from './db.errors';
import { PROVISIONED_PLAN } from './seed';

/**
 * A valid organisation id that was never seeded gets its row on its first write. Idempotent and
 * race-free: concurrent first writes of one organisation all pass (ON CONFLICT waits for the
 * other insert and then does nothing), so the write's foreign key always holds.
 */
async function provision(c: Client, organisationId: string): Promise<void> {
  await c.query(
    'INSERT INTO organisations (id, name, plan) VALUES ($1, $1, $2) ON CONFLICT (id) DO NOTHING',
    [organisationId, PROVISIONED_PLAN],
  );
}

export class PostgresProjectsRepository implements ProjectsRepository {
  readonly kind = 'postgres';

  constructor(private readonly pool: Leaser<Client>) {}

  /** Runs `fn` on a session bound to `organisationId`. */
  private tenant<R>(organisationId: string, fn: (c: Client) => Promise<R>): Promise<R> {
    return this.pool.use(fn, { organisationId });
  }

  /** `tenant()` for writes: constraint failures become 409s instead of 500s. */
  private tenantWrite<R>(organisationId: string, what: string, fn: (c: Client) => Promise<R>): Promise<R> {
    return this.tenant(organisationId, async (c) => {
      try {
        return await fn(c);
      } catch (err) {
        return rethrowConstraint(err, what);
      }
    });
  }

  /** Runs `fn` for global (non-tenant) tables. */
  private global<R>(fn: (c: Client) => Promise<R>): Promise<R> {
    return this.pool.use(fn);
  }

  organisations(): Promise<Organisation[]> {
    return this.global(
      async (c) => (await c.query<Organisation>('SELECT id, name, plan FROM organisations ORDER BY id')).rows,
    );
  }

  organisationExists(id: string): Promise<boolean> {
    return this.global(
      async (c) => (await c.query('SELECT 1 FROM organisations WHERE id = $1', [id])).rowCount === 1,
    );
  }

  listProjects(organisationId: string): Promise<Project[]> {
    return this.tenant(organisationId, async (c) =>
      (await c.query<ProjectRow>('SELECT * FROM projects ORDER BY id')).rows.map(toProject),
    );
  }

  getProject(organisationId: string, id: number): Promise<Project | undefined> {
    return this.tenant(organisationId, async (c) => {
      const r = await c.query<ProjectRow>('SELECT * FROM projects WHERE id = $1', [id]);
      return r.rows[0] && toProject(r.rows[0]);
    });
  }

  createProject(organisationId: string, name: string): Promise<Project> {
    return this.tenantWrite(organisationId, 'creating the project failed', async (c) => {
      await provision(c, organisationId);
      const r = await c.query<ProjectRow>(
        'INSERT INTO projects (organisation_id, name) VALUES ($1, $2) RETURNING *',
        [organisationId, name],
      );
      return toProject(r.rows[0]);
    });
  }

  deleteProject(organisationId: string, id: number): Promise<boolean> {
    return this.tenantWrite(organisationId, `deleting project ${id} failed`, async (c) => {
      const r = await c.query('DELETE FROM projects WHERE id = $1', [id]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  listTasks(organisationId: string, projectId: number): Promise<Task[] | undefined> {
    return this.tenant(organisationId, async (c) => {
      const p = await c.query('SELECT 1 FROM projects WHERE id = $1', [projectId]);
      if (p.rowCount === 0) return undefined;
      const r = await c.query<TaskRow>('SELECT * FROM tasks WHERE project_id = $1 ORDER BY id', [projectId]);
      return r.rows.map(toTask);
    });
  }

  createTask(organisationId: string, projectId: number, title: string): Promise<Task | undefined> {
    return this.tenantWrite(organisationId, `creating a task in project ${projectId} failed`, async (c) => {
      // The SELECT from projects is filtered by RLS, so another tenant's project id inserts nothing.
      try {
        const r = await c.query<TaskRow>(
          `INSERT INTO tasks (organisation_id, project_id, title)
           SELECT organisation_id, id, $2 FROM projects WHERE id = $1 RETURNING *`,
          [projectId, title],
        );
        return r.rows[0] && toTask(r.rows[0]);
      } catch (err) {
        // A concurrent DELETE removed the project after the SELECT saw it: the foreign-key check
        // (which waits for that DELETE to commit) fails. The project is gone: same answer as absent.
        if (constraintKind(err) === 'foreign-key') return undefined;
        throw err;
      }
    });
  }

  setTaskDone(organisationId: string, taskId: number, done: boolean): Promise<Task | undefined> {
    return this.tenantWrite(organisationId, `updating task ${taskId} failed`, async (c) => {
      const r = await c.query<TaskRow>('UPDATE tasks SET done = $2 WHERE id = $1 RETURNING *', [
        taskId,
        done,
      ]);
      return r.rows[0] && toTask(r.rows[0]);
    });
  }

  settings(organisationId: string): Promise<OrganisationSettings> {
    return this.tenant(organisationId, (c) => readSettings(c, organisationId));
  }

  setFlag(organisationId: string, flag: string, enabled: boolean): Promise<OrganisationSettings> {
    return this.tenantWrite(organisationId, `setting flag ${flag} failed`, async (c) => {
      await provision(c, organisationId);
      await c.query(
        `INSERT INTO org_flags (organisation_id, flag, enabled) VALUES ($1, $2, $3)
         ON CONFLICT (organisation_id, flag) DO UPDATE SET enabled = excluded.enabled`,
        [organisationId, flag, enabled],
      );
      return readSettings(c, organisationId);
    });
  }

  pricing(): Promise<{ revision: number; rows: PricingRow[] }> {
    return this.global(async (c) => {
      const rev = await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'pricing_revision'");
      const rows = await c.query<PricingRow>(
        'SELECT plan, monthly_eur AS "monthlyEur", max_projects AS "maxProjects" FROM pricing ORDER BY monthly_eur',
      );
      return { revision: Number(rev.rows[0].value), rows: rows.rows };
    });
  }

  bumpPricingRevision(): Promise<number> {
    return this.global(async (c) => {
      const r = await c.query<{ value: string }>(
        "UPDATE meta SET value = (value::int + 1)::text WHERE key = 'pricing_revision' RETURNING value",
      );
      return Number(r.rows[0].value);
    });
  }

  ping(timeoutMs: number): Promise<void> {
    return withTimeout(
      this.pool.use(
        async (c) => {
          await c.query('SELECT 1');
        },
        { timeoutMs },
      ),
      timeoutMs,
      'PostgreSQL ping',
    );
  }

  slowRead(organisationId: string, holdMs: number, signal?: AbortSignal): Promise<number> {
    return this.pool.use(
      async (c) => {
        const r = await c.query<{ n: string }>(
          'SELECT (SELECT count(*) FROM projects)::text AS n, pg_sleep($1::float8 / 1000)',
          [holdMs],
        );
        return Number(r.rows[0]?.n ?? 0);
      },
      { organisationId, ...(signal && { signal }) },
    );
  }
}

async function readSettings(c: Client, organisationId: string): Promise<OrganisationSettings> {
  const org = await c.query<{ plan: Organisation['plan'] }>('SELECT plan FROM organisations WHERE id = $1', [
    organisationId,
  ]);
  const flags: Record<string, boolean> = {};
  for (const r of (
    await c.query<{ flag: string; enabled: boolean }>('SELECT flag, enabled FROM org_flags ORDER BY flag')
  ).rows) {
    flags[r.flag] = r.enabled;
  }
  return { organisationId, plan: org.rows[0]?.plan ?? 'free', flags };
}
