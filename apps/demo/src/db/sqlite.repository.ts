/**
 * `ProjectsRepository` on the embedded SQLite database. SQLite has no row-level security, so
 * tenant isolation lives here, in the query layer: every statement on tenant data has
 * `organisation_id = ?` bound to the caller's organisation, including the ones that look rows up
 * by id (so guessing another tenant's id finds nothing), and writes check that a parent row
 * belongs to the same organisation.
 */
import type { Statement } from 'better-sqlite3';
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
import { PROVISIONED_PLAN, sleep } from './seed';
import type { Sqlite } from './sqlite.database';

/** Prepared statements cached per connection (a statement belongs to one connection). */
const statements = new WeakMap<Sqlite, Map<string, Statement>>();
function stmt(db: Sqlite, sql: string): Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let s = cache.get(sql);
  if (!s) cache.set(sql, (s = db.prepare(sql)));
  return s;
}

export class SqliteProjectsRepository implements ProjectsRepository {
  readonly kind = 'sqlite';

  constructor(
    private readonly readers: Leaser<Sqlite>,
    private readonly writer: Leaser<Sqlite>,
  ) {}

  private read<R>(organisationId: string | undefined, fn: (db: Sqlite) => R): Promise<R> {
    return this.readers.use(async (db) => fn(db), organisationId ? { organisationId } : undefined);
  }

  /** One IMMEDIATE transaction on the single writer; constraint failures become 409s. */
  private write<R>(organisationId: string | undefined, fn: (db: Sqlite) => R, what: string): Promise<R> {
    return this.writer.use(
      async (db) => {
        try {
          return db.transaction(() => fn(db)).immediate();
        } catch (err) {
          return rethrowConstraint(err, what);
        }
      },
      organisationId ? { organisationId } : undefined,
    );
  }

  /**
   * A valid organisation id that was never seeded gets its row on its first write (in the write's
   * transaction, so the foreign keys hold). Idempotent, and race-free: one writer, and the
   * statement does nothing when the row exists.
   */
  private provision(db: Sqlite, organisationId: string): void {
    stmt(db, 'INSERT INTO organisations (id, name, plan) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING').run(
      organisationId,
      organisationId,
      PROVISIONED_PLAN,
    );
  }

  organisations(): Promise<Organisation[]> {
    return this.read(
      undefined,
      (db) => stmt(db, 'SELECT id, name, plan FROM organisations ORDER BY id').all() as Organisation[],
    );
  }

  organisationExists(id: string): Promise<boolean> {
    return this.read(undefined, (db) => !!stmt(db, 'SELECT 1 FROM organisations WHERE id = ?').get(id));
  }

  listProjects(organisationId: string): Promise<Project[]> {
    return this.read(organisationId, (db) =>
      (
        stmt(db, 'SELECT * FROM projects WHERE organisation_id = ? ORDER BY id').all(
          organisationId,
        ) as ProjectRow[]
      ).map(toProject),
    );
  }

  getProject(organisationId: string, id: number): Promise<Project | undefined> {
    return this.read(organisationId, (db) => {
      const row = stmt(db, 'SELECT * FROM projects WHERE organisation_id = ? AND id = ?').get(
        organisationId,
        id,
      ) as ProjectRow | undefined;
      return row && toProject(row);
    });
  }

  createProject(organisationId: string, name: string): Promise<Project> {
    return this.write(
      organisationId,
      (db) => {
        this.provision(db, organisationId);
        const row = stmt(db, 'INSERT INTO projects (organisation_id, name) VALUES (?, ?) RETURNING *').get(
          organisationId,
          name,
        ) as ProjectRow;
        return toProject(row);
      },
      'creating the project failed',
    );
  }

  deleteProject(organisationId: string, id: number): Promise<boolean> {
    return this.write(
      organisationId,
      (db) => {
        stmt(db, 'DELETE FROM tasks WHERE organisation_id = ? AND project_id = ?').run(organisationId, id);
        const r = stmt(db, 'DELETE FROM projects WHERE organisation_id = ? AND id = ?').run(
          organisationId,
          id,
        );
        return r.changes > 0;
      },
      `deleting project ${id} failed`,
    );
  }

  listTasks(organisationId: string, projectId: number): Promise<Task[] | undefined> {
    return this.read(organisationId, (db) => {
      const project = stmt(db, 'SELECT 1 FROM projects WHERE organisation_id = ? AND id = ?').get(
        organisationId,
        projectId,
      );
      if (!project) return undefined;
      return (
        stmt(db, 'SELECT * FROM tasks WHERE organisation_id = ? AND project_id = ? ORDER BY id').all(
          organisationId,
          projectId,
        ) as TaskRow[]
      ).map(toTask);
    });
  }

  createTask(organisationId: string, projectId: number, title: string): Promise<Task | undefined> {
    return this.write(
      organisationId,
      (db) => {
        // The parent must belong to the same organisation: a foreign key alone would accept
        // another tenant's project id.
        try {
          const row = stmt(
            db,
            `INSERT INTO tasks (organisation_id, project_id, title)
             SELECT organisation_id, id, ? FROM projects WHERE organisation_id = ? AND id = ?
             RETURNING *`,
          ).get(title, organisationId, projectId) as TaskRow | undefined;
          return row && toTask(row);
        } catch (err) {
          // The project went away between the SELECT and the insert: the same answer as "absent".
          // (One writer makes this unreachable today; kept so the two repositories agree.)
          if (constraintKind(err) === 'foreign-key') return undefined;
          throw err;
        }
      },
      `creating a task in project ${projectId} failed`,
    );
  }

  setTaskDone(organisationId: string, taskId: number, done: boolean): Promise<Task | undefined> {
    return this.write(
      organisationId,
      (db) => {
        const row = stmt(
          db,
          'UPDATE tasks SET done = ? WHERE organisation_id = ? AND id = ? RETURNING *',
        ).get(done ? 1 : 0, organisationId, taskId) as TaskRow | undefined;
        return row && toTask(row);
      },
      `updating task ${taskId} failed`,
    );
  }

  settings(organisationId: string): Promise<OrganisationSettings> {
    return this.read(organisationId, (db) => readSettings(db, organisationId));
  }

  setFlag(organisationId: string, flag: string, enabled: boolean): Promise<OrganisationSettings> {
    return this.write(
      organisationId,
      (db) => {
        this.provision(db, organisationId);
        stmt(
          db,
          `INSERT INTO org_flags (organisation_id, flag, enabled) VALUES (?, ?, ?)
           ON CONFLICT (organisation_id, flag) DO UPDATE SET enabled = excluded.enabled`,
        ).run(organisationId, flag, enabled ? 1 : 0);
        return readSettings(db, organisationId);
      },
      `setting flag ${flag} failed`,
    );
  }

  pricing(): Promise<{ revision: number; rows: PricingRow[] }> {
    return this.read(undefined, (db) => ({
      revision: Number(
        (stmt(db, "SELECT value FROM meta WHERE key = 'pricing_revision'").get() as { value: string }).value,
      ),
      rows: stmt(
        db,
        'SELECT plan, monthly_eur AS monthlyEur, max_projects AS maxProjects FROM pricing ORDER BY monthly_eur',
      ).all() as PricingRow[],
    }));
  }

  bumpPricingRevision(): Promise<number> {
    return this.write(
      undefined,
      (db) => {
        const row = stmt(
          db,
          "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'pricing_revision' RETURNING value",
        ).get() as { value: string | number };
        return Number(row.value);
      },
      'bumping the pricing revision failed',
    );
  }

  ping(timeoutMs: number): Promise<void> {
    return withTimeout(
      this.readers.use(
        async (db) => {
          stmt(db, 'SELECT 1').get();
        },
        { timeoutMs },
      ),
      timeoutMs,
      'SQLite ping',
    );
  }

  slowRead(organisationId: string, holdMs: number, signal?: AbortSignal): Promise<number> {
    return this.readers.use(
      async (db) => {
        const { n } = stmt(db, 'SELECT count(*) AS n FROM projects WHERE organisation_id = ?').get(
          organisationId,
        ) as { n: number };
        await sleep(holdMs, signal);
        return n;
      },
      { organisationId, ...(signal && { signal }) },
    );
  }
}

function readSettings(db: Sqlite, organisationId: string): OrganisationSettings {
  const org = stmt(db, 'SELECT plan FROM organisations WHERE id = ?').get(organisationId) as
    { plan: Organisation['plan'] } | undefined;
  const flags: Record<string, boolean> = {};
  for (const r of stmt(db, 'SELECT flag, enabled FROM org_flags WHERE organisation_id = ? ORDER BY flag').all(
    organisationId,
  ) as Array<{ flag: string; enabled: number }>) {
    flags[r.flag] = r.enabled === 1;
  }
  return { organisationId, plan: org?.plan ?? 'free', flags };
}
