/**
 * Two BUILT demo processes as a fleet: one PostgreSQL database (createTestDatabase, row-level
 * security) and one Redis (a private redis-server on a free port, and a random REDIS_PREFIX), the
 * lazy resources shared through `RedisTier`.
 * - A settings write, an invalidation or a pricing refresh on one instance shows the new version on
 *   the other, and both report the same version and value.
 * - Tenant isolation across the fleet: concurrent requests of several organisations spread over both
 *   instances, with writes and invalidations mixed in, return 0 rows or settings of another
 *   organisation, and no L2 entry in Redis holds another organisation's settings.
 * - The dashboard snapshot shows the tier (state, bus lag, fleet loads); SIGTERM closes it cleanly.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { JsonTierCodec } from '@reservoir/lazy/redis';
import { TestRedisServer } from './helpers/redis-server';
import { createTestDatabase } from './helpers/services';
import { type DemoProcess, call, startDemo, waitFor } from './demo.process';

jest.setTimeout(60_000);

const TENANTS = Array.from({ length: 6 }, (_, i) => `fleet-org-${i + 1}`);
const REQUESTS = 600;
const CONCURRENCY = 24;

describe('demo fleet: 2 processes, one PostgreSQL, one Redis (e2e, built app over HTTP)', () => {
  const redis = new TestRedisServer();
  const prefix = `demo-fleet-${randomBytes(4).toString('hex')}`;
  let pg: { url: string; drop: () => Promise<void> } | undefined;
  let a: DemoProcess | undefined;
  let b: DemoProcess | undefined;
  const both = (): [DemoProcess, DemoProcess] => [a!, b!];

  beforeAll(async () => {
    await redis.start();
    pg = await createTestDatabase('reservoir_fleet');
    const env = {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      PRICING_LOAD_MS: '100',
    };
    // One after the other: the first creates the schema and seeds the database.
    a = await startDemo(env);
    b = await startDemo(env);
  });

  afterAll(async () => {
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await pg?.drop();
    await redis.dispose();
  });

  it('both instances start on the shared tier (log line, dashboard state connected, /health ok)', async () => {
    for (const app of both()) {
      expect(app.output()).toContain(`lazy resources shared on ${redis.url} prefix "${prefix}"`);
      const snap = await call(app.url, 'GET', '/dashboard/snapshot');
      expect(snap.status).toBe(200);
      expect(snap.body.snapshot.shared).toMatchObject({ state: 'connected', queuedInvalidations: 0 });
      const health = await call(app.url, 'GET', '/health');
      expect(health.status).toBe(200);
      expect(health.body.details.lazy.status).toBe('up');
    }
  });

  it('a settings write, an invalidation and a pricing refresh on one instance show the new version on the other', async () => {
    const [A, B] = both();
    const org = 'fleet-versions';
    const first = await call(A.url, 'GET', '/settings', { org });
    expect(first.status).toBe(200);
    const v1 = first.body.version as number;
    expect(v1).toBeGreaterThanOrEqual(1);
    // B gets A's entry from L2: the same version and value.
    const onB = await call(B.url, 'GET', '/settings', { org });
    expect(onB.body).toEqual(first.body);

    // A write on A (a reload): B answers the new version and the new flag.
    const put = await call(A.url, 'PUT', '/settings/flags/beta', { org, body: { enabled: true } });
    expect(put.status).toBe(200);
    const v2 = put.body.version as number;
    expect(v2).toBeGreaterThan(v1);
    const started = Date.now();
    const seen = await waitFor(
      async () => {
        const r = await call(B.url, 'GET', '/settings', { org });
        return r.body.version === v2 ? r.body : undefined;
      },
      2_000,
      `version ${v2} on B`,
      10,
    );
    const lagMs = Date.now() - started;
    expect(seen.settings).toEqual(put.body.settings);
    expect(seen.settings.flags.beta).toBe(true);
    expect(lagMs).toBeLessThan(1_000);
    console.log(`demo fleet: a write on A seen on B after ${lagMs} ms (polled every 10 ms over HTTP)`);

    // An invalidation on B: A stops serving v2; both then agree on one newer version.
    const del = await call(B.url, 'DELETE', '/settings/cache', { org });
    expect(del.status).toBe(200);
    const onA = await waitFor(
      async () => {
        const r = await call(A.url, 'GET', '/settings', { org });
        return (r.body.version as number) > v2 ? r.body : undefined;
      },
      2_000,
      'a version above v2 on A',
      10,
    );
    expect(onA.settings.flags.beta).toBe(true);
    // B agrees (bounded: B's own invalidation is published after its response, so B may briefly load
    // before A's write of the new version reached L2).
    await waitFor(
      async () => {
        const r = await call(B.url, 'GET', '/settings', { org });
        const a2 = await call(A.url, 'GET', '/settings', { org });
        return JSON.stringify(r.body) === JSON.stringify(a2.body) && (r.body.version as number) > v2;
      },
      2_000,
      'A and B to agree after the invalidation',
      20,
    );

    // The global pricing table (preloaded by both at bootstrap): a refresh on B reaches A.
    const p0 = await call(A.url, 'GET', '/pricing', { org });
    expect((await call(B.url, 'GET', '/pricing', { org })).body.version).toBe(p0.body.version);
    const refreshed = await call(B.url, 'POST', '/pricing/refresh?bump=true', { org });
    expect(refreshed.body.version).toBeGreaterThan(p0.body.version);
    const pA = await waitFor(
      async () => {
        const r = await call(A.url, 'GET', '/pricing', { org });
        return r.body.version === refreshed.body.version ? r.body : undefined;
      },
      2_000,
      'the refreshed pricing on A',
      10,
    );
    expect(pA.revision).toBe(refreshed.body.revision);
    expect(pA.loadedAt).toBe(refreshed.body.loadedAt); // the same value, not a second load

    // The dashboards show the bus at work (the snapshot is sampled once a second): B published the
    // invalidation, A received it; B served A's first load from L2 (or joined it) instead of loading.
    const shared = () =>
      Promise.all(
        both().map(async (app) => (await call(app.url, 'GET', '/dashboard/snapshot')).body.snapshot.shared),
      );
    const [sharedA, sharedB] = await waitFor(
      async () => {
        const [sa, sb] = await shared();
        return sb.invalidationsPublished >= 1 && sa.invalidationsReceived >= 1 ? [sa, sb] : undefined;
      },
      3_000,
      'the invalidation counters on the dashboards',
    );
    for (const s of [sharedA, sharedB]) {
      expect(s.state).toBe('connected');
      expect(s.busLagMs.p99).toBeGreaterThanOrEqual(0);
      expect(s.busLagMs.p99).toBeLessThan(1_000);
    }
    expect(sharedB.l2Hits + sharedB.fleetLoadsJoined).toBeGreaterThanOrEqual(1);
  });

  it('tenant isolation across the fleet: concurrent requests of 6 organisations on both instances, 0 cross-tenant rows or entries', async () => {
    const apps = both();
    // Each organisation gets its own projects and its own flag, written through both instances.
    for (const [i, org] of TENANTS.entries()) {
      for (const [j, app] of apps.entries()) {
        const r = await call(app.url, 'POST', '/projects', { org, body: { name: `${org}:p${j}` } });
        expect(r.status).toBe(201);
      }
      const f = await call(apps[i % 2].url, 'PUT', `/settings/flags/own_${i}`, {
        org,
        body: { enabled: true },
      });
      expect(f.status).toBe(200);
    }

    const ownFlag = (org: string) => `own_${TENANTS.indexOf(org)}`;
    const stats = { requests: 0, failed: 0, crossTenant: 0, settings: 0, projects: 0, writes: 0 };
    const problems: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        const n = next++;
        const org = TENANTS[n % TENANTS.length];
        const app = apps[Math.floor(Math.random() * 2)];
        const roll = Math.random();
        stats.requests++;
        let res: { status: number; body: any };
        if (roll < 0.1) {
          stats.writes++;
          res = await call(app.url, 'PUT', `/settings/flags/${ownFlag(org)}`, {
            org,
            body: { enabled: Math.random() < 0.5 },
          });
        } else if (roll < 0.15) {
          stats.writes++;
          res = await call(app.url, 'DELETE', '/settings/cache', { org });
        } else if (roll < 0.6) {
          stats.settings++;
          res = await call(app.url, 'GET', '/settings', { org });
        } else {
          stats.projects++;
          res = await call(app.url, 'GET', '/projects', { org });
        }
        if (res.status !== 200) {
          stats.failed++;
          problems.push(`${res.status} ${JSON.stringify(res.body)}`);
          continue;
        }
        const settings = res.body?.settings;
        if (settings !== undefined) {
          const foreignFlags = Object.keys(settings.flags).filter((f) => f !== ownFlag(org));
          if (settings.organisationId !== org || foreignFlags.length > 0) {
            stats.crossTenant++;
            problems.push(`${org} got settings ${JSON.stringify(settings)}`);
          }
        } else if (Array.isArray(res.body)) {
          for (const p of res.body as Array<{ organisationId: string; name: string }>) {
            if (p.organisationId !== org || !p.name.startsWith(`${org}:`)) {
              stats.crossTenant++;
              problems.push(`${org} got project ${JSON.stringify(p)}`);
            }
          }
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    expect(problems.slice(0, 5)).toEqual([]);
    expect(stats).toMatchObject({ requests: REQUESTS, failed: 0, crossTenant: 0 });
    expect(stats.settings).toBeGreaterThan(100);
    expect(stats.projects).toBeGreaterThan(100);

    // After the storm both instances agree on every organisation's settings and version. Not at
    // once: an invalidation is published after its response, and bus delivery takes a moment.
    for (const org of TENANTS) {
      const agreed = await waitFor(
        async () => {
          const [ra, rb] = await Promise.all(apps.map((app) => call(app.url, 'GET', '/settings', { org })));
          if (JSON.stringify(ra.body) === JSON.stringify(rb.body)) return ra.body;
          throw new Error(`A ${JSON.stringify(ra.body)} B ${JSON.stringify(rb.body)}`);
        },
        3_000,
        `both instances to agree on ${org}'s settings`,
        50,
      );
      expect(agreed.settings.organisationId).toBe(org);
    }

    // Every L2 entry in Redis sits under its organisation's namespace and holds only its settings.
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    try {
      const codec = new JsonTierCodec();
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [c, batch] = await client.scan(cursor, 'MATCH', `${prefix}:*:e:*`, 'COUNT', 1000);
        cursor = c;
        keys.push(...batch);
      } while (cursor !== '0');
      let tenantEntries = 0;
      let foreign = 0;
      for (const key of keys) {
        const m = /:\{t\.([^}]+)\}:e:/.exec(key);
        if (!m) continue; // a global entry (the pricing table)
        const org = decodeURIComponent(m[1]);
        const data = await client.hget(key, 'd');
        if (data === null) continue; // expired or invalidated meanwhile
        const value = codec.decode(data) as { organisationId?: string; flags?: Record<string, boolean> };
        tenantEntries++;
        const flags = Object.keys(value.flags ?? {});
        const ownFlags = org === 'fleet-versions' ? ['beta'] : [ownFlag(org)];
        if (value.organisationId !== org || flags.some((f) => !ownFlags.includes(f))) foreign++;
      }
      expect(tenantEntries).toBeGreaterThanOrEqual(TENANTS.length);
      expect(foreign).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('SIGTERM closes the tier on shutdown: both end by the signal (not killed), without errors', async () => {
    const results = await Promise.all(both().map((app) => app.stop('SIGTERM', 15_000)));
    for (const [i, r] of results.entries()) {
      // Nest re-raises the signal after its shutdown hooks ran; SIGKILL would mean it hung.
      expect(r.code === 0 || r.signal === 'SIGTERM').toBe(true);
      const out = both()[i].output();
      expect(out).toContain('Shared tier closed (state disconnected)');
      expect(out).not.toMatch(/ERROR|Exception/);
    }
  });
});
