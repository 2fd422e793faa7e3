/**
 * The PostgreSQL path (DATABASE_URL=postgres://…): pooled `pg` clients, schema and row-level
 * security policies created on start, and the tenant bound to each leased session by the pool's
 * `pgTenantBinding` (`app.organisation_id`), which the policies read.
 *
 * RLS and who it applies to:
 * - Superusers and roles with BYPASSRLS are never subject to RLS.
 * - A table's owner is not subject to it either, unless the table has FORCE ROW LEVEL SECURITY.
 * So: every tenant table gets ENABLE + FORCE ROW LEVEL SECURITY (covers an app that connects as
 * the owning, non-superuser role), and when the connecting role is a superuser or has BYPASSRLS
 * (e.g. the stock `postgres` user of a dev machine or CI) the app creates the NOLOGIN,
 * NOBYPASSRLS role `reservoir_demo_app`, grants it the table privileges, and each pooled client
 * runs `SET ROLE reservoir_demo_app` right after connecting, so every query the app sends is
 * subject to the policies. In production, connect as a dedicated non-owner role instead.
 */
import { Client } from 'pg';
import { pgClientFactory, type ResourceFactory } from '@reservoir/pool';
import { SEED_FLAGS, SEED_ORGANISATIONS, SEED_PRICING, SEED_PROJECTS } from './seed';

/** The unprivileged role pooled clients switch to when the login role would bypass RLS. */
export const PG_APP_ROLE = 'reservoir_demo_app';
/** The GUC the policies read and `pgTenantBinding` sets. */
export const PG_TENANT_SETTING = 'app.organisation_id';
/** `application_name` of every pooled backend (visible in pg_stat_activity). */
export const PG_APPLICATION_NAME = 'reservoir-demo';

const TENANT_TABLES = ['projects', 'tasks', 'org_flags'] as const;
const POLICY = `organisation_id = current_setting('${PG_TENANT_SETTING}', true)`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS organisations (
  id   text PRIMARY KEY,
  name text NOT NULL,
  plan text NOT NULL
);
CREATE TABLE IF NOT EXISTS org_flags (
  organisation_id text NOT NULL REFERENCES organisations(id),
  flag            text NOT NULL,
  enabled         boolean NOT NULL,
  PRIMARY KEY (organisation_id, flag)
);
CREATE TABLE IF NOT EXISTS projects (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organisation_id text NOT NULL REFERENCES organisations(id),
  name            text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS projects_org ON projects(organisation_id);
CREATE TABLE IF NOT EXISTS tasks (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organisation_id text NOT NULL REFERENCES organisations(id),
  project_id      bigint NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  title           text NOT NULL,
  done            boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS tasks_org_project ON tasks(organisation_id, project_id);
CREATE TABLE IF NOT EXISTS pricing (
  plan         text PRIMARY KEY,
  monthly_eur  integer NOT NULL,
  max_projects integer NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
`;

/**
 * Creates schema, policies, the unprivileged role when needed, and seeds an empty database. Safe
 * to run concurrently from several instances (advisory lock) and on every start (idempotent).
 * Returns the role pooled clients must `SET ROLE` to, or undefined when the login role is
 * already subject to RLS.
 */
export async function preparePostgres(url: string): Promise<string | undefined> {
  const c = new Client({
    connectionString: url,
    application_name: `${PG_APPLICATION_NAME}-setup`,
    connectionTimeoutMillis: 10_000, // bounded even when the host drops packets
  });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query("SELECT pg_advisory_xact_lock(hashtext('reservoir-demo-schema'))");
    await c.query(SCHEMA);
    for (const t of TENANT_TABLES) {
      await c.query(`ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`);
      await c.query(`ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`);
      await c.query(`DROP POLICY IF EXISTS tenant_isolation ON ${t}`);
      await c.query(`CREATE POLICY tenant_isolation ON ${t} USING (${POLICY}) WITH CHECK (${POLICY})`);
    }
    const { rows } = await c.query<{ bypass: boolean }>(
      'SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user',
    );
    let role: string | undefined;
    if (rows[0]?.bypass) {
      role = PG_APP_ROLE;
      // Roles are cluster-wide: another database (or instance) may have created it already.
      await c.query(`DO $$ BEGIN
        CREATE ROLE ${PG_APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
      await c.query(`GRANT USAGE ON SCHEMA public TO ${PG_APP_ROLE}`);
      await c.query(
        // INSERT on organisations: a new tenant is provisioned on its first write.
        `GRANT SELECT ON organisations, pricing, meta TO ${PG_APP_ROLE};
         GRANT INSERT ON organisations TO ${PG_APP_ROLE};
         GRANT UPDATE ON meta TO ${PG_APP_ROLE};
         GRANT SELECT, INSERT, UPDATE, DELETE ON projects, tasks, org_flags TO ${PG_APP_ROLE}`,
      );
    }
    const seeded = await c.query<{ n: string }>('SELECT count(*)::text AS n FROM organisations');
    if (seeded.rows[0].n === '0') await seed(c);
    await c.query('COMMIT');
    return role;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await c.end();
  }
}

async function seed(c: Client): Promise<void> {
  for (const o of SEED_ORGANISATIONS) {
    await c.query('INSERT INTO organisations (id, name, plan) VALUES ($1, $2, $3)', [o.id, o.name, o.plan]);
  }
  for (const r of SEED_PRICING) {
    await c.query('INSERT INTO pricing (plan, monthly_eur, max_projects) VALUES ($1, $2, $3)', [
      r.plan,
      r.monthlyEur,
      r.maxProjects,
    ]);
  }
  await c.query("INSERT INTO meta (key, value) VALUES ('pricing_revision', '1')");
  // Tenant rows pass the policies' WITH CHECK (FORCE applies them even to the owner), so each
  // organisation's rows are written with the setting bound, transaction-locally.
  for (const o of SEED_ORGANISATIONS) {
    await c.query('SELECT set_config($1, $2, true)', [PG_TENANT_SETTING, o.id]);
    for (const [flag, enabled] of Object.entries(SEED_FLAGS[o.id] ?? {})) {
      await c.query('INSERT INTO org_flags (organisation_id, flag, enabled) VALUES ($1, $2, $3)', [
        o.id,
        flag,
        enabled,
      ]);
    }
    for (const p of SEED_PROJECTS.filter((x) => x.org === o.id)) {
      const { rows } = await c.query<{ id: string }>(
        'INSERT INTO projects (organisation_id, name) VALUES ($1, $2) RETURNING id',
        [o.id, p.name],
      );
      for (const t of p.tasks) {
        await c.query('INSERT INTO tasks (organisation_id, project_id, title) VALUES ($1, $2, $3)', [
          o.id,
          rows[0].id,
          t,
        ]);
      }
    }
  }
  await c.query('SELECT set_config($1, $2, true)', [PG_TENANT_SETTING, '']);
}

/** Pool factory of `pg` clients; `role` (from `preparePostgres`) is set on every new session. */
export function pgFactory(url: string, role: string | undefined): ResourceFactory<Client> {
  return pgClientFactory(url, {
    applicationName: PG_APPLICATION_NAME,
    onConnect: async (client) => {
      if (role) await client.query(`SET ROLE ${role}`);
    },
  });
}
