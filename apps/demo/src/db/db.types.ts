/**
 * The demo's one repository interface, implemented twice: on the embedded SQLite database
 * (tenant isolation in the query layer: every statement filters by organisation_id) and on
 * PostgreSQL (tenant isolation by row-level security, with the tenant bound to the pooled
 * session by the pool's `pgTenantBinding`).
 *
 * Every method that touches tenant data takes the `organisationId` first, so no call site can
 * forget it; the SQLite implementation uses it in every WHERE clause, the PostgreSQL one hands it
 * to the pool, which binds it to the session before the query runs.
 */
export interface Organisation {
  id: string;
  name: string;
  plan: 'free' | 'team' | 'enterprise';
}

export interface Project {
  id: number;
  organisationId: string;
  name: string;
  createdAt: string;
}

export interface Task {
  id: number;
  organisationId: string;
  projectId: number;
  title: string;
  done: boolean;
}

/**
 * A `projects` row as either driver returns it: the columns are the same in both schemas, the
 * values differ (pg: bigint ids as strings, timestamptz as Date; SQLite: numbers and ISO text).
 */
export interface ProjectRow {
  id: number | string;
  organisation_id: string;
  name: string;
  created_at: string | Date;
}

/** A `tasks` row as either driver returns it (pg: bigint ids as strings; SQLite: `done` as 0/1). */
export interface TaskRow {
  id: number | string;
  organisation_id: string;
  project_id: number | string;
  title: string;
  done: boolean | number;
}

export const toProject = (r: ProjectRow): Project => ({
  id: Number(r.id),
  organisationId: r.organisation_id,
  name: r.name,
  createdAt: r.created_at instanceof Date ? r.created_at.toISOString() : r.created_at,
});

export const toTask = (r: TaskRow): Task => ({
  id: Number(r.id),
  organisationId: r.organisation_id,
  projectId: Number(r.project_id),
  title: r.title,
  done: r.done === true || r.done === 1,
});

/** Per-tenant settings and feature flags, loaded through LazyModule. */
export interface OrganisationSettings {
  organisationId: string;
  plan: Organisation['plan'];
  flags: Record<string, boolean>;
}

export interface PricingRow {
  plan: Organisation['plan'];
  monthlyEur: number;
  maxProjects: number;
}

export interface ProjectsRepository {
  readonly kind: 'sqlite' | 'postgres';
  /** Tenant directory (not tenant data): the seeded organisations. */
  organisations(): Promise<Organisation[]>;
  organisationExists(id: string): Promise<boolean>;
  listProjects(organisationId: string): Promise<Project[]>;
  getProject(organisationId: string, id: number): Promise<Project | undefined>;
  createProject(organisationId: string, name: string): Promise<Project>;
  deleteProject(organisationId: string, id: number): Promise<boolean>;
  listTasks(organisationId: string, projectId: number): Promise<Task[] | undefined>;
  createTask(organisationId: string, projectId: number, title: string): Promise<Task | undefined>;
  setTaskDone(organisationId: string, taskId: number, done: boolean): Promise<Task | undefined>;
  settings(organisationId: string): Promise<OrganisationSettings>;
  setFlag(organisationId: string, flag: string, enabled: boolean): Promise<OrganisationSettings>;
  /** The global (not tenant-scoped) pricing table, plus its source revision. */
  pricing(): Promise<{ revision: number; rows: PricingRow[] }>;
  /** Bumps the pricing revision (the "source changed" that a refresh picks up). */
  bumpPricingRevision(): Promise<number>;
  /** `SELECT 1` through the pool, bounded by `timeoutMs` (acquire + query). */
  ping(timeoutMs: number): Promise<void>;
  /**
   * One unit of the load generator: a tenant-scoped read that holds its connection for `holdMs`
   * (a slow query), so pool utilization becomes visible.
   */
  slowRead(organisationId: string, holdMs: number, signal?: AbortSignal): Promise<number>;
}

/** DI token of the ProjectsRepository. */
export const PROJECTS_REPOSITORY = 'DEMO:PROJECTS_REPOSITORY';

/** Names of the demo's pools (PoolModule `name`, metrics `pool` label). */
export const MAIN_POOL = 'db';
export const WRITER_POOL = 'db-writer';

/** What a repository needs from a pool (a `Pool<T>` from `@reservoir/pool` is one). */
export interface Leaser<T> {
  use<R>(
    fn: (resource: T) => Promise<R>,
    opts?: { organisationId?: string; timeoutMs?: number; signal?: AbortSignal },
  ): Promise<R>;
}

/** Rejects with a clear error when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
