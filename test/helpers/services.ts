/**
 * The one place integration and e2e tests learn where the real services are, and the one place that
 * turns "not reachable" into a failing suite with a message saying which service, where, and how to
 * start it. A suite that cannot reach its service fails; it never silently passes.
 */
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { Client } from 'pg';

export const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

const START_HINT = {
  postgres: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  redis:
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
};

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Connects once to PostgreSQL; throws a clear error naming the URL and the start command. */
export async function requirePostgres(url = DATABASE_URL): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${redact(url)} (${(err as Error).message}). ` +
        `Set DATABASE_URL or start it with: ${START_HINT.postgres}`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Sends PING to Redis over a raw socket; throws a clear error naming the URL and the start command. */
export async function requireRedis(url = REDIS_URL): Promise<void> {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || 6379);
  await new Promise<void>((resolve, reject) => {
    const sock = new Socket();
    const fail = (why: string) => {
      sock.destroy();
      reject(
        new Error(
          `Redis is not reachable at ${redact(url)} (${why}). Set REDIS_URL or start it with: ${START_HINT.redis}`,
        ),
      );
    };
    sock.setTimeout(3000, () => fail('timed out'));
    sock.once('error', (e) => fail(e.message));
    sock.connect(port, host, () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.end();
      if (d.toString().startsWith('+PONG')) resolve();
      else fail(`unexpected reply ${JSON.stringify(d.toString())}`);
    });
  });
}

/** A connection URL for another database on the same server. */
export function urlForDatabase(database: string, url = DATABASE_URL): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Opens an admin client on DATABASE_URL (caller ends it). */
export async function adminClient(url = DATABASE_URL): Promise<Client> {
  await requirePostgres(url);
  const c = new Client({ connectionString: url });
  await c.connect();
  return c;
}

/**
 * Creates a fresh, uniquely named database and returns its URL and a drop function that
 * terminates leftover backends and drops it. Tests call drop() in afterAll.
 */
export async function createTestDatabase(
  prefix = 'reservoir_test',
): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = await adminClient();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: urlForDatabase(name),
    drop: async () => {
      const c = await adminClient();
      try {
        await c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [name],
        );
        await c.query(`DROP DATABASE IF EXISTS ${name}`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Number of backends currently open with this application_name. */
export async function countBackends(applicationName: string): Promise<number> {
  const c = await adminClient();
  try {
    const r = await c.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    return Number(r.rows[0].n);
  } finally {
    await c.end();
  }
}

/** A unique application_name so a test can find exactly its own backends in pg_stat_activity. */
export function uniqueAppName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}
