/**
 * The demo's "tried as a new user would" defects, against the BUILT demo over HTTP, on the embedded
 * SQLite database and on PostgreSQL: new tenants, saturation (503), write races, a slow tenant,
 * huge ids, the load run's listener build-up, and a PostgreSQL cluster lacking what the demo needs.
 */
import { randomBytes } from 'node:crypto';
import { adminClient, createTestDatabase, urlForDatabase } from './helpers/services';
import { type DemoProcess, call, startDemo, waitFor } from './demo.process';

jest.setTimeout(90_000);

const suffix = () => randomBytes(4).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['sqlite', 'postgres'] as const)('demo defects on %s (built app over HTTP)', (db) => {
  let app: DemoProcess;
  let pg: { name: string; url: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    const env: Record<string, string> = {
      POOL_HEALTH_WINDOW_MS: '2000',
      PRICING_LOAD_MS: '50',
      DB_ACQUIRE_TIMEOUT_MS: '2000',
    };
    if (db === 'postgres') {
      pg = await createTestDatabase('reservoir_defects');
      env.DATABASE_URL = pg.url;
    }
    app = await startDemo(env);
  });

  afterAll(async () => {
    await app?.stop('SIGKILL');
    await pg?.drop();
  });

  const req = (method: string, path: string, org?: string, body?: unknown) =>
    call(app.url, method, path, { org, body });
  const loadIdle = () =>
    waitFor(async () => !(await req('GET', '/demo/load')).body.running, 20_000, 'the load run to end');

  it('a valid, never-seeded organisation can write at once (provisioned on first write, race-free)', async () => {
    const org = `new-${suffix()}`;
    // Ten first writes at the same time: all succeed, the organisation row is created once.
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) => req('POST', '/projects', org, { name: `p${i}` })),
    );
    expect(created.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(created.every((r) => r.body.organisationId === org)).toBe(true);
    const task = await req('POST', `/projects/${created[0].body.id}/tasks`, org, { title: 't' });
    expect(task.status).toBe(201);
    const flag = await req('PUT', '/settings/flags/beta', `other-${suffix()}`, { enabled: true });
    expect(flag.status).toBe(200);
    expect(flag.body.settings.flags).toEqual({ beta: true });
    const list = await req('GET', '/projects', org);
    expect(list.body.map((p: { name: string }) => p.name).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `p${i}`),
    );
    // A new organisation sees nothing of the seeded ones.
    expect((await req('GET', '/projects', `fresh-${suffix()}`)).body).toEqual([]);
  });

  it('out-of-range and non-integer ids are 404, never 500', async () => {
    const ids = [
      '99999999999999999999',
      '9223372036854775808',
      '9007199254740993',
      '1.5',
      '1e3',
      'abc',
      '-1',
      '0',
    ];
    for (const id of ids) {
      for (const [method, path, body] of [
        ['GET', `/projects/${id}`, undefined],
        ['GET', `/projects/${id}/tasks`, undefined],
        ['DELETE', `/projects/${id}`, undefined],
        ['POST', `/projects/${id}/tasks`, { title: 'x' }],
        ['PATCH', `/tasks/${id}`, { done: true }],
      ] as const) {
        const res = await req(method, path, 'acme', body);
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
        expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
      }
    }
  });

  it('creating tasks while the project is deleted answers 201 or 404, never 500', async () => {
    const org = 'globex';
    const statuses: Record<string, number> = {};
    const count = (s: number) => (statuses[s] = (statuses[s] ?? 0) + 1);
    for (let round = 0; round < 8; round++) {
      const projects = await Promise.all(
        Array.from({ length: 6 }, (_, i) => req('POST', '/projects', org, { name: `race-${round}-${i}` })),
      );
      await Promise.all(
        projects.flatMap(({ body: p }) => [
          ...Array.from({ length: 4 }, () =>
            req('POST', `/projects/${p.id}/tasks`, org, { title: 'racing' }).then((r) => count(r.status)),
          ),
          // A little later: a DELETE has no body to parse, so sent together it would always win.
          sleep(2 + Math.random() * 20)
            .then(() => req('DELETE', `/projects/${p.id}`, org))
            .then((r) => count(r.status)),
          ...Array.from({ length: 4 }, () =>
            req('POST', `/projects/${p.id}/tasks`, org, { title: 'late' }).then((r) => count(r.status)),
          ),
        ]),
      );
    }
    expect(Object.keys(statuses).sort()).toEqual(expect.arrayContaining(['201', '204']));
    const unexpected = Object.keys(statuses).filter((s) => !['201', '204', '404', '409'].includes(s));
    expect({ unexpected, statuses }).toEqual({ unexpected: [], statuses });
    expect(app.output()).not.toMatch(/FOREIGN KEY|foreign key/);
  });

  it('a saturated pool answers 503 with Retry-After naming the pool, logged as one WARN line', async () => {
    expect((await req('POST', '/demo/hold?n=10')).status).toBe(200);
    const logged = app.output().length;
    try {
      const res = await req('GET', '/projects', 'acme');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', pool: 'db' });
      expect(res.body.message).toContain('Pool "db": acquire timed out after 2000 ms');
    } finally {
      expect((await req('POST', '/demo/release')).status).toBe(200);
    }
    const log = app.output().slice(logged);
    expect(log).toMatch(
      /WARN \[PoolExceptionFilter\] 503 for GET \/projects \(Retry-After: 1 s\): PoolTimeoutError/,
    );
    expect(log).not.toMatch(/ERROR|\n\s+at /);
    const head = await fetch(`${app.url}/projects`, { headers: { 'x-organisation-id': 'acme' } });
    expect(head.status).toBe(200);
  });

  it('one slow tenant cannot take the whole pool (maxPerTenant): others are still served', async () => {
    const started = await req('POST', '/demo/load', undefined, {
      tenants: 1,
      concurrency: 12,
      durationMs: 4000,
      holdMs: 1500,
    });
    expect(started.status).toBe(202);
    try {
      const health = await waitFor(
        async () => {
          const h = await req('GET', '/health');
          return h.body.details.pool.inUse >= 5 ? h : undefined;
        },
        3000,
        'the slow tenant to fill its share',
        50,
      );
      // The load's only tenant (acme) holds at most its cap; the rest of the pool stays available.
      expect(health.body.details.pool.inUse).toBe(5);
      expect(health.body.details.pool.max).toBe(10);
      // The dashboard shows the cap next to the per-organisation shares.
      const dash = await req('GET', '/dashboard/snapshot');
      expect(dash.body.snapshot.main).toMatchObject({ maxPerTenant: 5, max: 10 });
      for (const org of ['globex', 'initech', 'umbrella']) {
        const t0 = Date.now();
        const res = await req('GET', '/projects', org);
        expect(res.status).toBe(200);
        expect(Date.now() - t0).toBeLessThan(750); // without the cap: a wait of up to holdMs (1500 ms)
      }
    } finally {
      await req('DELETE', '/demo/load');
    }
  });

  it('a default load run prints no MaxListenersExceededWarning', async () => {
    const logged = app.output().length;
    const started = await req('POST', '/demo/load', undefined, { durationMs: 2500 });
    expect(started.status).toBe(202);
    await loadIdle();
    const status = (await req('GET', '/demo/load')).body;
    expect(status.completed).toBeGreaterThan(20);
    expect(app.output().slice(logged)).not.toMatch(/MaxListenersExceeded|memory leak/);
  });
});

describe('demo on a PostgreSQL cluster that lacks what it needs: prints what to run', () => {
  const admin = () => adminClient();

  /** Starts the demo expecting it to exit at startup; returns everything it printed. */
  async function failedStart(url: string): Promise<string> {
    const err = await startDemo({ DATABASE_URL: url }, 20_000).then(
      async (app) => {
        await app.stop('SIGKILL');
        throw new Error('the demo started although the cluster lacks what it needs');
      },
      (e: Error) => e,
    );
    expect(err.message).toMatch(/demo exited during startup \(code 1/);
    expect(err.message).not.toMatch(/\n\s+at /); // no raw stack trace
    return err.message;
  }

  it('a missing database: the CREATE DATABASE to run', async () => {
    const name = `reservoir_missing_${suffix()}`;
    const out = await failedStart(urlForDatabase(name));
    expect(out).toContain(`database "${name}" does not exist`);
    expect(out).toContain(`CREATE DATABASE ${name} OWNER postgres;`);
  });

  it('a missing role, and a role without CREATE on schema public (PostgreSQL 15): the SQL to run', async () => {
    const role = `reservoir_role_${suffix()}`;
    const db = await createTestDatabase('reservoir_grants');
    const url = new URL(db.url);
    url.username = role;
    try {
      const missing = await failedStart(url.toString());
      expect(missing).toContain(`role "${role}" does not exist`);
      expect(missing).toContain(`CREATE ROLE ${role} LOGIN PASSWORD`);

      const c = await admin();
      try {
        await c.query(`CREATE ROLE ${role} LOGIN`);
      } finally {
        await c.end();
      }
      // PostgreSQL 15's default, made explicit in the test's own database (older servers grant it).
      const inDb = await adminClient(db.url);
      try {
        await inDb.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
      } finally {
        await inDb.end();
      }
      const noGrant = await failedStart(url.toString());
      expect(noGrant).toContain('permission denied for schema public');
      expect(noGrant).toContain(`GRANT CREATE ON SCHEMA public TO ${role};`);
    } finally {
      await db.drop();
      const c = await admin();
      try {
        await c.query(`DROP ROLE IF EXISTS ${role}`);
      } finally {
        await c.end();
      }
    }
  });
});
