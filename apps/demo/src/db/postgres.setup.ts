/**
 * Turns "the cluster lacks what the demo needs" into the exact commands to run, instead of a raw
 * `pg` stack trace: a missing database or role, a failed password, no CREATE on schema public (the
 * default since PostgreSQL 15), a login role that may not create the demo's unprivileged role, or
 * nothing listening. main.ts runs `checkPostgresSetup` before Nest boots, prints the message of a
 * `DemoSetupError` and exits with code 1.
 */
import { ReservoirError } from '@reservoir/core';
import { PG_APP_ROLE, preparePostgres } from './postgres.database';

/** The cluster is missing something the demo needs; the message says exactly what to run. */
export class DemoSetupError extends ReservoirError {}

/** A PostgreSQL identifier as SQL: bare when it is a plain lower-case name, else double-quoted. */
export function sqlIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

interface Target {
  host: string;
  port: string;
  database: string;
  user: string;
}

function target(url: string): Target {
  const u = new URL(url);
  return {
    host: u.hostname || 'localhost',
    port: u.port || '5432',
    database:
      decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres',
    user: decodeURIComponent(u.username) || process.env.PGUSER || process.env.USER || 'postgres',
  };
}

/** `psql` as the superuser `postgres` on the same server, in `database`, running `sql`. */
const psql = (t: Target, database: string, sql: string): string =>
  `  psql -h ${t.host} -p ${t.port} -U postgres -d ${database} -c ${JSON.stringify(sql)}`;

/**
 * What to run for `err` (a failure of connecting to or preparing `url`), or undefined when it is
 * not a setup problem this function knows.
 */
export function explainPostgresSetupError(err: unknown, url: string): string | undefined {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const t = target(url);
  const db = sqlIdent(t.database);
  const user = sqlIdent(t.user);
  const head = (what: string) =>
    `The demo cannot use PostgreSQL at ${t.host}:${t.port}/${t.database} as "${t.user}": ${what}\n` +
    `(${code ? `${code} ` : ''}${message})\n`;
  const schemaGrant = [
    'PostgreSQL 15 and later no longer let every role create tables in schema public. Either make',
    `"${t.user}" own the database (it then owns schema public):`,
    psql(t, 'postgres', `ALTER DATABASE ${db} OWNER TO ${user};`),
    'or grant it CREATE on the schema:',
    psql(t, t.database, `GRANT CREATE ON SCHEMA public TO ${user};`),
  ].join('\n');

  if (code === '3D000') {
    return (
      head(`database "${t.database}" does not exist.`) +
      'Create it (as a superuser), then start the demo again:\n' +
      psql(t, 'postgres', `CREATE DATABASE ${db} OWNER ${user};`)
    );
  }
  if (code === '28000' && /role .* does not exist/i.test(message)) {
    return (
      head(`role "${t.user}" does not exist.`) +
      'Create the role (pick your own password and put it in DATABASE_URL), and a database it owns:\n' +
      psql(t, 'postgres', `CREATE ROLE ${user} LOGIN PASSWORD 'change-me';`) +
      '\n' +
      psql(t, 'postgres', `CREATE DATABASE ${db} OWNER ${user};`) +
      '\nIf the database exists already, give the role what it needs there instead:\n' +
      psql(t, t.database, `GRANT CREATE ON SCHEMA public TO ${user};`)
    );
  }
  if (code === '28P01') {
    return (
      head('password authentication failed.') +
      'Put the right password in DATABASE_URL (postgres://user:password@host:port/db), or set one:\n' +
      psql(t, 'postgres', `ALTER ROLE ${user} PASSWORD 'change-me';`)
    );
  }
  if (code === '28000') {
    return (
      head('the server refused this connection (pg_hba.conf).') +
      `Allow "${t.user}" to connect to "${t.database}" from this host in pg_hba.conf, then reload:\n` +
      psql(t, 'postgres', 'SELECT pg_reload_conf();')
    );
  }
  if (code === '42501' && /schema public/i.test(message)) {
    return head('it may not create tables in schema public.') + schemaGrant;
  }
  if (code === '42501' && /create role/i.test(message)) {
    return (
      head(
        `it bypasses row-level security, so the demo switches to the role "${PG_APP_ROLE}", but it may not create roles.`,
      ) +
      'Create that role once per cluster and let the login role use it:\n' +
      psql(t, 'postgres', `CREATE ROLE ${PG_APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;`) +
      '\n' +
      psql(t, 'postgres', `GRANT ${PG_APP_ROLE} TO ${user};`) +
      '\nor connect as a role without BYPASSRLS that owns the database.'
    );
  }
  if (code === '42501') {
    return (
      head('permission denied.') +
      `Connect as the owner of database "${t.database}", or make "${t.user}" its owner:\n` +
      psql(t, 'postgres', `ALTER DATABASE ${db} OWNER TO ${user};`)
    );
  }
  if (
    ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code) ||
    /connection timeout/i.test(message)
  ) {
    return (
      head('nothing answers there.') +
      'Start PostgreSQL, or fix host and port in DATABASE_URL. On Debian/Ubuntu:\n' +
      '  pg_ctlcluster $(ls /etc/postgresql) main start'
    );
  }
  return undefined;
}

/**
 * Prepares the database once before Nest boots (schema, policies, role, seed: idempotent, and the
 * pool's factory runs it again), so a cluster lacking something fails with the commands to run.
 */
export async function checkPostgresSetup(url: string): Promise<void> {
  try {
    await preparePostgres(url);
  } catch (err) {
    const explained = explainPostgresSetupError(err, url);
    if (explained !== undefined) throw new DemoSetupError(explained, { cause: err });
    throw err;
  }
}
