/**
 * e2e against the BUILT demo over HTTP, once on the embedded SQLite database and once on
 * PostgreSQL (a fresh database from createTestDatabase, with RLS): health transitions, tenant
 * isolation, lazy versions, /metrics (promtool-clean and moving under load), and SIGTERM with
 * requests in flight.
 */
import { execFileSync } from 'node:child_process';
import { adminClient, createTestDatabase } from './helpers/services';
import { type DemoProcess, call, startDemo, waitFor } from './demo.process';

jest.setTimeout(60_000);

/** The sample value of `name{labels…}` in a text exposition (labels matched as a substring set). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  if (!found) throw new Error(`no sample ${name} ${JSON.stringify(labels)} in /metrics`);
  return sum;
}

function promtool(text: string): string {
  try {
    return execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('promtool is not installed; install it with: apt-get install -y prometheus', {
        cause: err,
      });
    }
    throw new Error(`promtool check metrics failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

describe.each(['sqlite', 'postgres'] as const)('demo app on %s (e2e, built app over HTTP)', (db) => {
  let app: DemoProcess;
  let pg: { name: string; url: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    const env: Record<string, string> = { POOL_HEALTH_WINDOW_MS: '2000', PRICING_LOAD_MS: '100' };
    if (db === 'postgres') {
      pg = await createTestDatabase('reservoir_demo');
      env.DATABASE_URL = pg.url;
    }
    app = await startDemo(env);
  });

  afterAll(async () => {
    await app?.stop('SIGKILL');
    await pg?.drop();
  });

  const get = (path: string, org?: string) => call(app.url, 'GET', path, { org });

  it('reports the database it runs on', async () => {
    const res = await get('/health');
    expect(res.status).toBe(200);
    expect(res.body.details.database).toMatchObject({ status: 'up', database: db });
  });

  it('/health: ok → degraded at 70 % → 200 at 100 % (saturated is not failing; database ping skipped) → ok', async () => {
    let res = await get('/health');
    expect(res.body.status).toBe('ok');
    expect(res.body.details.pool).toMatchObject({ state: 'HEALTHY', inUse: 0, max: 10 });

    expect((await call(app.url, 'POST', '/demo/hold?n=7')).body).toEqual({ held: 7, max: 10 });
    res = await get('/health');
    expect(res.status).toBe(200);
    expect(['degraded', 'ok']).toContain(res.body.status); // 'ok' + state DEGRADED on Terminus 11
    expect(res.body.details.pool).toMatchObject({ state: 'DEGRADED', utilization: 0.7, inUse: 7 });

    expect((await call(app.url, 'POST', '/demo/hold?n=3')).body).toEqual({ held: 10, max: 10 });
    res = await get('/health');
    // Saturated but serving everyone in time: the pool entry is not down (it is not failing its callers).
    expect(res.body.details.pool).toMatchObject({ state: 'UNHEALTHY', utilization: 1, failing: false });
    expect(['degraded', 'up']).toContain(res.body.details.pool.status);
    // The ping does not queue behind a saturated pool (and so adds no timeouts to it): it is skipped
    // and reported up, so a saturated pool that serves everyone in time never answers 503.
    expect(res.body.details.database).toMatchObject({ status: 'up', skipped: true });
    expect(res.status).toBe(200);

    expect((await call(app.url, 'POST', '/demo/release')).body).toEqual({ released: 10 });
    res = await get('/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });

  it('enforces the tenant header, and data never crosses tenants', async () => {
    expect((await get('/projects')).status).toBe(400);
    expect((await get('/projects', 'bad tenant!')).status).toBe(400);
    for (const open of ['/health', '/metrics', '/dashboard']) expect((await get(open)).status).toBe(200);

    const name = `secret-${Date.now()}`;
    const created = await call(app.url, 'POST', '/projects', { org: 'acme', body: { name } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ organisationId: 'acme', name });
    const id: number = created.body.id;
    const task = await call(app.url, 'POST', `/projects/${id}/tasks`, {
      org: 'acme',
      body: { title: 'hidden' },
    });
    expect(task.status).toBe(201);

    const globex = await get('/projects', 'globex');
    expect(globex.status).toBe(200);
    expect(globex.body.length).toBeGreaterThan(0);
    expect(globex.body.every((p: { organisationId: string }) => p.organisationId === 'globex')).toBe(true);
    expect(globex.body.some((p: { name: string }) => p.name === name)).toBe(false);

    // Guessing another tenant's ids finds nothing, reading or writing.
    expect((await get(`/projects/${id}`, 'globex')).status).toBe(404);
    expect((await get(`/projects/${id}/tasks`, 'globex')).status).toBe(404);
    expect(
      (await call(app.url, 'POST', `/projects/${id}/tasks`, { org: 'globex', body: { title: 'x' } })).status,
    ).toBe(404);
    expect(
      (await call(app.url, 'PATCH', `/tasks/${task.body.id}`, { org: 'globex', body: { done: true } }))
        .status,
    ).toBe(404);
    expect((await call(app.url, 'DELETE', `/projects/${id}`, { org: 'globex' })).status).toBe(404);
    expect((await get(`/projects/${id}`, 'acme')).body).toMatchObject({ id, name });

    // Many concurrent reads from four tenants: every row belongs to whoever asked.
    const orgs = ['acme', 'globex', 'initech', 'umbrella'];
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => orgs[i % 4]).map(async (org) => ({
        org,
        res: await get('/projects', org),
      })),
    );
    let foreign = 0;
    for (const { org, res } of results) {
      expect(res.status).toBe(200);
      foreign += res.body.filter((p: { organisationId: string }) => p.organisationId !== org).length;
    }
    expect(foreign).toBe(0);
  });

  it('lazy resources: versions are visible and increase after a refresh', async () => {
    const pricing = await get('/pricing', 'acme');
    expect(pricing.status).toBe(200);
    const v: number = pricing.body.version;
    expect(v).toBeGreaterThanOrEqual(1); // preloaded at bootstrap
    expect(pricing.body.rows).toHaveLength(3);

    const refreshed = await call(app.url, 'POST', '/pricing/refresh', { org: 'acme' });
    expect(refreshed.body.version).toBe(v + 1);
    const bumped = await call(app.url, 'POST', '/pricing/refresh?bump=true', { org: 'acme' });
    expect(bumped.body).toMatchObject({ version: v + 2, revision: pricing.body.revision + 1 });
    expect((await get('/pricing', 'globex')).body.version).toBe(v + 2); // global: one value for all

    const before = await get('/settings', 'initech');
    expect(before.body.settings.flags.beta).toBeUndefined();
    const set = await call(app.url, 'PUT', '/settings/flags/beta', {
      org: 'initech',
      body: { enabled: true },
    });
    expect(set.status).toBe(200);
    // One version counter per resource (shared by its tenants' entries): greater, not necessarily +1.
    expect(set.body.version).toBeGreaterThan(before.body.version);
    expect(set.body.settings.flags.beta).toBe(true);
    expect((await get('/settings', 'initech')).body).toMatchObject({ version: set.body.version });
    // Per-tenant: another organisation's cached settings are untouched.
    const other = await get('/settings', 'umbrella');
    expect(other.body.settings).toMatchObject({ organisationId: 'umbrella' });
    expect(other.body.settings.flags.beta).toBeUndefined();
  });

  it('/metrics passes promtool, and values move under /demo/load; health recovers afterwards', async () => {
    const before = await get('/metrics');
    expect(before.status).toBe(200);
    promtool(before.body);
    for (const name of [
      'reservoir_pool_connections',
      'reservoir_pool_connections_max',
      'reservoir_pool_connections_min',
      'reservoir_pool_creates_total',
      'reservoir_pool_create_errors_total',
      'reservoir_pool_timeouts_total',
      'reservoir_pool_health_state',
    ]) {
      metric(before.body, name, { pool: 'db' });
    }
    expect(metric(before.body, 'reservoir_pool_connections_max', { pool: 'db' })).toBe(10);
    expect(
      metric(before.body, 'reservoir_lazy_version', { resource: 'PricingService.table' }),
    ).toBeGreaterThanOrEqual(1);
    const acquires0 = metric(before.body, 'reservoir_pool_acquires_total', { pool: 'db' });
    const waits0 = metric(before.body, 'reservoir_pool_acquire_seconds_count', { pool: 'db' });

    const started = await call(app.url, 'POST', '/demo/load', {
      body: { tenants: 4, concurrency: 12, durationMs: 2500, holdMs: 150 },
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ running: true, concurrency: 12, tenants: 4 });
    expect((await call(app.url, 'POST', '/demo/load', { body: {} })).status).toBe(409);
    const hot = await waitFor(
      async () => {
        const h = await get('/health');
        return h.body.details.pool.state !== 'HEALTHY' ? h : undefined;
      },
      2500,
      'the pool to leave HEALTHY under load',
      100,
    );
    expect(['DEGRADED', 'UNHEALTHY']).toContain(hot.body.details.pool.state);
    const during = (await get('/metrics')).body as string;
    expect(metric(during, 'reservoir_pool_connections', { pool: 'db', state: 'active' })).toBeGreaterThan(6);

    await waitFor(async () => !(await get('/demo/load')).body.running, 6000, 'the load run to end');
    const after = (await get('/metrics')).body as string;
    promtool(after);
    expect(metric(after, 'reservoir_pool_acquires_total', { pool: 'db' })).toBeGreaterThan(acquires0 + 20);
    expect(metric(after, 'reservoir_pool_acquire_seconds_count', { pool: 'db' })).toBeGreaterThan(waits0);
    expect(metric(after, 'reservoir_pool_usage_seconds_count', { pool: 'db' })).toBeGreaterThan(20);
    expect(
      metric(after, 'reservoir_pool_tenant_acquires_total', { pool: 'db', organisation: 'acme' }),
    ).toBeGreaterThan(0);
    expect(
      metric(after, 'reservoir_lazy_hits_total', { resource: 'TenantSettingsService.settings' }),
    ).toBeGreaterThan(0);
    expect(metric(after, 'reservoir_pool_timeouts_total', { pool: 'db' })).toBe(0);

    // Recovery: utilization drops at once; a high wait p99 from the run (slow CI) clears once the
    // pool's sample window has been quiet for POOL_HEALTH_WINDOW_MS.
    let lastHealth: unknown;
    const ok = await waitFor(
      async () => {
        const h = await get('/health');
        lastHealth = h.body;
        return h.status === 200 && h.body.status === 'ok' ? h : undefined;
      },
      15_000,
      '/health to be ok again after the load',
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last /health: ${JSON.stringify(lastHealth)}`, { cause: err });
    });
    expect(ok.body.details.pool.state).toBe('HEALTHY');
  });

  it('rejects out-of-range load parameters with a 400 that gives the allowed range', async () => {
    const cases: Array<[string, string]> = [
      [
        '{"durationMs":1e400}',
        'load parameter "durationMs" is out of range: got Infinity, allowed 500 to 60000',
      ],
      [
        '{"concurrency":-1e400}',
        'load parameter "concurrency" is out of range: got -Infinity, allowed 1 to 64',
      ],
      ['{"tenants":1000}', 'load parameter "tenants" is out of range: got 1000, allowed 1 to 20'],
      ['{"concurrency":0}', 'load parameter "concurrency" is out of range: got 0, allowed 1 to 64'],
      ['{"holdMs":99999}', 'load parameter "holdMs" is out of range: got 99999, allowed 10 to 2000'],
      ['{"tenants":2.5}', 'load parameter "tenants" must be an integer, got 2.5'],
    ];
    for (const [rawBody, message] of cases) {
      const res = await call(app.url, 'POST', '/demo/load', { rawBody });
      expect({ rawBody, status: res.status, body: res.body }).toEqual({
        rawBody,
        status: 400,
        body: { statusCode: 400, error: 'Bad Request', message },
      });
    }
    expect((await get('/demo/load')).body.running).toBe(false);
  });

  it('rejects unknown or non-numeric load parameters with a 400 that names them', async () => {
    const typo = await call(app.url, 'POST', '/demo/load', { body: { concurency: 64 } });
    expect(typo.status).toBe(400);
    expect(typo.body.message).toContain('unknown load parameter "concurency"');
    const text = await call(app.url, 'POST', '/demo/load', { body: { concurrency: 'lots' } });
    expect(text.status).toBe(400);
    expect(text.body.message).toBe('load parameter "concurrency" must be a finite number, got "lots"');
    expect((await get('/demo/load')).body.running).toBe(false);
  });

  it('rejects keys every object inherits (constructor, toString, __proto__, hasOwnProperty)', async () => {
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      // Raw JSON: an object literal would set the prototype for "__proto__" instead of a key.
      const res = await call(app.url, 'POST', '/demo/load', { rawBody: `{"${key}":5}` });
      expect({ key, status: res.status, body: res.body }).toEqual({
        key,
        status: 400,
        body: {
          statusCode: 400,
          error: 'Bad Request',
          message: `unknown load parameter "${key}"; known: tenants, concurrency, durationMs, holdMs`,
        },
      });
    }
    expect((await get('/demo/load')).body.running).toBe(false);
  });

  if (db === 'sqlite') {
    it('the dashboard stream replays only what a reconnecting client missed (Last-Event-ID)', async () => {
      const first = await readFirstEvent(app.url, undefined);
      expect(first.event).toBe('history');
      const boot: string = first.data.boot;
      const seqs = (first.data.points as Array<{ seq: number }>).map((p) => p.seq);
      expect(seqs.length).toBeGreaterThan(1);
      expect(first.id).toBe(`${boot}.${seqs[seqs.length - 1]}`);
      expect(first.retry).toBe(1000);

      const since = seqs[seqs.length - 2];
      const again = await readFirstEvent(app.url, `${boot}.${since}`);
      const replayed = (again.data.points as Array<{ seq: number }>).map((p) => p.seq);
      expect(replayed.length).toBeGreaterThan(0);
      expect(replayed.every((s) => s > since)).toBe(true);

      // An id from another server process (a restart) gets the whole history.
      const other = await readFirstEvent(app.url, `00000000.${since}`);
      expect(other.data.points.length).toBeGreaterThanOrEqual(seqs.length);
    });
  }

  it('SIGTERM: in-flight requests complete, then the pool drains (no backend left)', async () => {
    // Saturate the pool, queue requests behind it, then ask the process to stop.
    expect((await call(app.url, 'POST', '/demo/hold?n=10')).status).toBe(200);
    const inflight = ['acme', 'globex', 'initech', 'umbrella', 'acme'].map((org) => get('/projects', org));
    await new Promise((r) => setTimeout(r, 300));
    const logged = app.output().length;
    const exit = app.stop('SIGTERM');
    const responses = await Promise.all(inflight);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const ended = await exit;
    expect(ended.code === 0 || ended.signal === 'SIGTERM').toBe(true);
    expect(app.output().slice(logged)).not.toMatch(/ERROR|Exception/);
    if (pg) {
      const admin = await adminClient();
      try {
        const r = await admin.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = $1',
          [pg.name],
        );
        expect(Number(r.rows[0].n)).toBe(0);
      } finally {
        await admin.end();
      }
    }
  });
});

/** Opens the SSE stream, returns its first event, and disconnects. */
async function readFirstEvent(
  base: string,
  lastEventId: string | undefined,
): Promise<{ event: string; data: any; id?: string; retry?: number }> {
  const ac = new AbortController();
  // Bounded: no first event within 10 s aborts the fetch and the read below.
  const bound = setTimeout(() => ac.abort(new Error('no SSE event within 10 s')), 10_000);
  const res = await fetch(`${base}/dashboard/stream`, {
    headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
    signal: ac.signal,
  });
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const reader = res.body!.getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended before the first event');
      buf += Buffer.from(value).toString();
      const end = buf.indexOf('\n\n');
      if (end < 0) continue;
      const fields: Record<string, string> = {};
      for (const line of buf.slice(0, end).split('\n')) {
        const i = line.indexOf(':');
        if (i > 0) fields[line.slice(0, i)] = (fields[line.slice(0, i)] ?? '') + line.slice(i + 1).trim();
      }
      return {
        event: fields.event,
        data: JSON.parse(fields.data),
        ...(fields.id && { id: fields.id }),
        ...(fields.retry && { retry: Number(fields.retry) }),
      };
    }
  } finally {
    clearTimeout(bound);
    ac.abort();
  }
}
