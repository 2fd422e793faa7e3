/**
 * Plain Node, no NestJS installed: pools pg clients with `@reservoir/pool/core`, binds each lease to
 * its tenant for row-level security, takes the tenant from a `@reservoir/tenant/core` scope, caches a
 * per-tenant value with `@reservoir/lazy/core`, and prints one JSON report line (the harness reads
 * the last line).
 *
 * It creates its own database (APP_DATABASE) through ADMIN_DATABASE_URL and drops it again, pass or
 * fail; the pool connects as APP_ROLE, an ordinary role, so the RLS policy applies.
 */
import path from 'node:path';
import { Client } from 'pg';
import { LazyLoaderCore } from '@reservoir/lazy/core';
import { Pool, PoolTimeoutError, pgClientFactory, pgTenantBinding } from '@reservoir/pool/core';
import { TenantContext } from '@reservoir/tenant/core';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

async function asAdmin(url: string, fn: (c: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

interface Report {
  ok: boolean;
  rowsSeen: Record<string, string[]>;
  /** Per organisation: what a tenant scope (no explicit organisationId) saw, and the cached count. */
  inScope: Record<string, { rows: string[]; cached: number[] }>;
  lazyLoads?: number;
  withoutTenant?: string;
  whenSaturated?: string;
  sizeAfterClose?: number;
  nestModulesLoaded: string[];
  nestInstalled: boolean;
  failures: string[];
}

async function exercise(adminUrl: string, database: string, report: Report): Promise<void> {
  await asAdmin(withDatabase(adminUrl, database), (c) =>
    c.query(`
      CREATE TABLE notes (id serial PRIMARY KEY, organisation_id text NOT NULL, body text NOT NULL);
      GRANT SELECT, INSERT ON notes TO ${ident(env('APP_ROLE'))};
      GRANT USAGE ON SEQUENCE notes_id_seq TO ${ident(env('APP_ROLE'))};
      ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
      ALTER TABLE notes FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON notes
        USING (organisation_id = NULLIF(current_setting('app.organisation_id', true), ''))
        WITH CHECK (organisation_id = NULLIF(current_setting('app.organisation_id', true), ''));
    `),
  );

  const appUrl = new URL(withDatabase(adminUrl, database));
  appUrl.username = env('APP_ROLE');
  appUrl.password = env('APP_PASSWORD');
  const tenant = new TenantContext();
  const pool = new Pool<Client>({
    // Outside Nest nothing wires the tenant in: an acquire without organisationId asks this.
    tenantResolver: () => tenant.organisationId,
    name: 'plain',
    min: 1,
    max: 2,
    acquireTimeoutMs: 5_000,
    requireTenant: true,
    factory: pgClientFactory(appUrl.toString(), { applicationName: 'reservoir-consumer-plain-node' }),
    tenantBinding: pgTenantBinding({ setting: 'app.organisation_id' }),
  });
  await pool.start();
  try {
    const orgs = ['acme', 'globex'];
    for (const org of orgs) {
      await pool.use(
        (c) => c.query('INSERT INTO notes (organisation_id, body) VALUES ($1, $2)', [org, `hi ${org}`]),
        {
          organisationId: org,
        },
      );
    }
    for (const org of orgs) {
      const rows = await pool.use(
        async (c) => (await c.query<{ organisation_id: string }>('SELECT organisation_id FROM notes')).rows,
        { organisationId: org },
      );
      report.rowsSeen[org] = rows.map((r) => r.organisation_id);
      if (rows.length !== 1 || rows[0].organisation_id !== org)
        report.failures.push(`${org} saw ${JSON.stringify(rows)}`);
    }

    // Inside a tenant scope the pool and the lazy loader find the tenant themselves.
    const lazy = new LazyLoaderCore({ maxEntries: 100 }, { tenantResolver: () => tenant.organisationId });
    let loads = 0;
    lazy.register('noteCount', () => {
      loads += 1;
      return pool.use(async (c) => (await c.query('SELECT id FROM notes')).rowCount ?? -1);
    });
    for (const org of orgs) {
      await tenant.run(org, async () => {
        const rows = await pool.use(
          async (c) => (await c.query<{ organisation_id: string }>('SELECT organisation_id FROM notes')).rows,
        );
        const cached = [await lazy.get<number>('noteCount'), await lazy.get<number>('noteCount')];
        report.inScope[org] = { rows: rows.map((r) => r.organisation_id), cached };
        if (rows.length !== 1 || rows[0].organisation_id !== org)
          report.failures.push(`in ${org}'s scope: ${JSON.stringify(rows)}`);
        if (cached[0] !== 1 || cached[1] !== 1)
          report.failures.push(`lazy noteCount for ${org}: ${JSON.stringify(cached)}`);
      });
    }
    report.lazyLoads = loads;
    if (loads !== orgs.length)
      report.failures.push(`lazy loaded ${loads} times for ${orgs.length} organisations`);
    lazy.close();

    try {
      await pool.acquire();
      report.failures.push('acquire() without a tenant succeeded although requireTenant is set');
    } catch (err) {
      report.withoutTenant = (err as Error).name;
      if (report.withoutTenant !== 'TenantRequiredError')
        report.failures.push(`without a tenant: ${String(err)}`);
    }

    // Every wait is bounded: with both clients leased, a third acquire times out.
    const held = [
      await pool.acquire({ organisationId: 'acme' }),
      await pool.acquire({ organisationId: 'acme' }),
    ];
    try {
      await pool.acquire({ organisationId: 'globex', timeoutMs: 200 });
      report.failures.push('a third acquire on a pool of 2 succeeded');
    } catch (err) {
      report.whenSaturated = (err as Error).name;
      if (!(err instanceof PoolTimeoutError)) report.failures.push(`when saturated: ${String(err)}`);
    }
    for (const c of held) pool.release(c);
  } finally {
    await pool.close();
  }
  report.sizeAfterClose = pool.stats().size;
  if (report.sizeAfterClose !== 0) report.failures.push(`size ${report.sizeAfterClose} after close()`);
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function main(): Promise<void> {
  const adminUrl = env('ADMIN_DATABASE_URL');
  const database = env('APP_DATABASE');
  const report: Report = {
    ok: false,
    rowsSeen: {},
    inScope: {},
    nestModulesLoaded: [],
    nestInstalled: false,
    failures: [],
  };
  await asAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${ident(database)}`));
  try {
    await exercise(adminUrl, database, report);
  } catch (err) {
    report.failures.push(err instanceof Error ? (err.stack ?? err.message) : String(err));
  } finally {
    await asAdmin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`));
  }
  const nestDir = `${path.sep}@nestjs${path.sep}`;
  report.nestModulesLoaded = Object.keys(require.cache).filter((file) => file.includes(nestDir));
  try {
    require.resolve('@nestjs/common');
    report.nestInstalled = true;
  } catch {
    report.nestInstalled = false;
  }
  if (report.nestInstalled) report.failures.push('@nestjs/common is resolvable: it should not be installed');
  report.ok = report.failures.length === 0;
  console.log(JSON.stringify(report));
  process.exitCode = report.ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
