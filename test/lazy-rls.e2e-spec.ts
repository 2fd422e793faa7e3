/**
 * The lazy layer's isolation proof on PostgreSQL row-level security.
 *
 * A Nest app with TenantModule + PoolModule (pgTenantBinding) + LazyModule caches three kinds of
 * resources that all read RLS tables through the pool:
 * - `settings()` and `setting(name)`: tenant-scoped decorated methods (one entry per tenant, and per
 *   tenant and argument);
 * - `flags`: a registered tenant-scoped resource that admin code reads and reloads for an explicit
 *   organisation, from inside another tenant's request (allowCrossTenant) and from outside any scope;
 * - `prices()`: a global (`tenantScoped: false`) resource over a table with a tenant policy. Loaded
 *   outside any tenant scope, its lease is unbound, so RLS must return no rows: if it ran in the
 *   triggering request's scope it would cache that tenant's rows for everyone.
 * Entries go stale after 500 ms, so background refreshes run all the time, triggered by whichever
 * tenant's request touches them; invalidations are mixed in. Every loader asserts its scope (the
 * tenant it runs as must equal the organisation the pool bound on its lease, none for the global one)
 * and counts violations; every response and, at the end, every cached entry is checked for rows of
 * another tenant.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, HttpCode, Injectable, Param, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { LazyLoader, LazyModule, LazyResource } from '@reservoir/lazy';
import { InjectPool, pgClientFactory, pgTenantBinding, PoolModule, type Pool } from '@reservoir/pool';
import { TenantContext, TenantModule } from '@reservoir/tenant';
import type { Client } from 'pg';
import { adminClient, createTestDatabase, uniqueAppName } from './helpers/services';

const TENANTS = Array.from({ length: 24 }, (_, i) => `org-${String(i + 1).padStart(2, '0')}`);
const REQUESTS = Number(process.env.LAZY_RLS_REQUESTS ?? 20_000);
const CONCURRENCY = 48;
const STALE_MS = 500;
const SETTINGS = 'RlsLazyService.settings()';

/** What every loader run saw; `ranAs` is the tenant scope it ran in, `bound` what the lease was bound to. */
interface Loaded {
  ranAs: string | null;
  bound: string | null;
  orgs: string[];
  loads: number;
}

const violations = { wrongScope: 0, foreignRowsLoaded: 0, globalRowsLoaded: 0 };
const runs = { settings: 0, setting: 0, flags: 0, prices: 0 };

@Injectable()
class RlsLazyService {
  constructor(
    @InjectPool('rls') private readonly pool: Pool<Client>,
    private readonly tenant: TenantContext,
    private readonly lazy: LazyLoader,
  ) {
    lazy.register('flags', () => this.read('flags', 'SELECT organisation_id FROM org_settings'), {
      staleAfterMs: STALE_MS,
    });
  }

  /** One lease: the rows RLS lets it see, the tenant this code runs as, and the bound setting. */
  private read(kind: keyof typeof runs, query: string, params: unknown[] = []): Promise<Loaded> {
    runs[kind]++;
    const ranAs = this.tenant.organisationId ?? null;
    return this.pool.use(async (c) => {
      const { rows } = await c.query<{ organisation_id: string }>(query, params);
      const bound = (
        await c.query<{ b: string | null }>(
          `SELECT nullif(current_setting('app.organisation_id', true), '') AS b`,
        )
      ).rows[0].b;
      const orgs = [...new Set(rows.map((r) => r.organisation_id))];
      // The loader's own assertions: the pool bound exactly the scope it runs in, and RLS showed
      // nothing of another organisation.
      if (bound !== ranAs) violations.wrongScope++;
      if (kind === 'prices') {
        if (ranAs !== null) violations.wrongScope++;
        if (rows.length > 0) violations.globalRowsLoaded++;
      } else {
        if (ranAs === null) violations.wrongScope++;
        if (orgs.some((o) => o !== ranAs)) violations.foreignRowsLoaded++;
      }
      return { ranAs, bound, orgs, loads: runs[kind] };
    });
  }

  @LazyResource({ staleAfterMs: STALE_MS })
  settings(): Promise<Loaded> {
    return this.read('settings', 'SELECT organisation_id FROM org_settings');
  }

  @LazyResource({ staleAfterMs: STALE_MS })
  setting(name: string): Promise<Loaded> {
    return this.read('setting', 'SELECT organisation_id FROM org_settings WHERE name = $1', [name]);
  }

  @LazyResource({ tenantScoped: false, staleAfterMs: STALE_MS })
  prices(): Promise<Loaded> {
    return this.read('prices', 'SELECT organisation_id FROM price_list');
  }
}

@Controller()
class RlsLazyController {
  constructor(
    private readonly svc: RlsLazyService,
    private readonly lazy: LazyLoader,
  ) {}

  @Get('settings')
  settings(): Promise<Loaded> {
    return this.svc.settings();
  }

  @Get('setting/:name')
  setting(@Param('name') name: string): Promise<Loaded> {
    return this.svc.setting(name);
  }

  @Get('prices')
  prices(): Promise<Loaded> {
    return this.svc.prices();
  }

  /** Admin code inside the caller's tenant scope, reading another organisation on purpose. */
  @Get('admin/flags/:org')
  adminFlags(@Param('org') org: string): Promise<Loaded> {
    return this.lazy.get<Loaded>('flags', { organisationId: org, allowCrossTenant: true });
  }

  /** The same without allowCrossTenant: must be refused (and reach no SQL). */
  @Get('sneaky/flags/:org')
  async sneaky(@Param('org') org: string): Promise<{ refused: string }> {
    try {
      await this.lazy.get<Loaded>('flags', { organisationId: org });
      return { refused: 'no' };
    } catch (err) {
      return { refused: (err as Error).name };
    }
  }

  @Post('invalidate')
  @HttpCode(200)
  invalidate(): { removed: number } {
    return { removed: this.lazy.invalidate('RlsLazyService.') + this.lazy.invalidate('flags') };
  }
}

function send(agent: Agent, port: number, method: string, path: string, org: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { 'x-organisation-id': org },
        agent,
        timeout: 20_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('lazy resources on PostgreSQL RLS (e2e)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let role: string;
  let app: INestApplication;
  let port: number;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  beforeAll(async () => {
    db = await createTestDatabase('reservoir_lazy_rls');
    role = `reservoir_lazy_rls_${randomBytes(4).toString('hex')}`;
    const admin = await adminClient(db.url);
    try {
      // A plain role (no superuser, no BYPASSRLS, not the owner) and FORCE RLS: see tenant-rls.e2e-spec.ts.
      await admin.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE`);
      await admin.query(`
        CREATE TABLE org_settings (organisation_id text NOT NULL, name text NOT NULL, value text NOT NULL);
        CREATE TABLE price_list (organisation_id text NOT NULL, sku text NOT NULL, cents int NOT NULL);
        ALTER TABLE org_settings ENABLE ROW LEVEL SECURITY;
        ALTER TABLE org_settings FORCE ROW LEVEL SECURITY;
        ALTER TABLE price_list ENABLE ROW LEVEL SECURITY;
        ALTER TABLE price_list FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON org_settings USING (organisation_id = current_setting('app.organisation_id', true));
        CREATE POLICY tenant_isolation ON price_list USING (organisation_id = current_setting('app.organisation_id', true));
        GRANT SELECT ON org_settings, price_list TO ${role};
      `);
      await admin.query(
        `INSERT INTO org_settings SELECT t, n, t || ':' || n FROM unnest($1::text[]) t, unnest(ARRAY['theme','locale','plan']) n`,
        [TENANTS],
      );
      await admin.query(
        `INSERT INTO price_list SELECT t, 'sku-' || i, i * 100 FROM unnest($1::text[]) t, generate_series(1, 3) i`,
        [TENANTS],
      );
    } finally {
      await admin.end();
    }
    const roleUrl = new URL(db.url);
    roleUrl.username = role;
    const ref = await Test.createTestingModule({
      imports: [
        TenantModule.forRoot(),
        PoolModule.forRoot<Client>({
          name: 'rls',
          max: 5,
          acquireTimeoutMs: 20_000,
          tenantBinding: pgTenantBinding<Client>({ setting: 'app.organisation_id' }),
          factory: pgClientFactory(
            { connectionString: roleUrl.toString(), connectionTimeoutMillis: 5000 },
            { applicationName: uniqueAppName('lazy_rls') },
          ),
        }),
        LazyModule.forRoot({ retry: { attempts: 2, initialDelayMs: 5 } }),
      ],
      providers: [RlsLazyService],
      controllers: [RlsLazyController],
    }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
  }, 30_000);

  afterAll(async () => {
    agent.destroy();
    await app?.close();
    await db?.drop();
    if (role) {
      const admin = await adminClient();
      try {
        await admin.query(`DROP ROLE IF EXISTS ${role}`);
      } finally {
        await admin.end();
      }
    }
  }, 30_000);

  it(`${REQUESTS} concurrent requests from ${TENANTS.length} tenants: 0 cross-tenant entries, 0 wrong-scope loads`, async () => {
    const lazy = app.get(LazyLoader);
    const tenant = app.get(TenantContext);
    const counts = {
      requests: 0,
      byKind: {} as Record<string, number>,
      failed: 0,
      foreignInResponses: 0,
      globalRowsServed: 0,
      adminWrongTenant: 0,
      sneakyAllowed: 0,
      outOfScopeAdminReloads: 0,
    };
    const kinds: [string, number][] = [
      ['settings', 40],
      ['setting', 20],
      ['prices', 20],
      ['admin', 10],
      ['sneaky', 3],
      ['invalidate', 1],
      ['admin-reload', 2],
    ];
    const total = kinds.reduce((s, [, w]) => s + w, 0);
    const pick = () => {
      let x = Math.random() * total;
      for (const [k, w] of kinds) if ((x -= w) < 0) return k;
      return 'settings';
    };
    const names = ['theme', 'locale', 'plan'];
    const t0 = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) {
        next++;
        const org = TENANTS[Math.floor(Math.random() * TENANTS.length)];
        const other = TENANTS[Math.floor(Math.random() * TENANTS.length)];
        const kind = pick();
        counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1;
        counts.requests++;
        if (kind === 'admin-reload') {
          // An admin job outside any request: explicit organisation, no tenant scope.
          const v = await lazy.reload<Loaded>('flags', { organisationId: other });
          counts.outOfScopeAdminReloads++;
          if (v.ranAs !== other || v.orgs.some((o) => o !== other)) counts.adminWrongTenant++;
          continue;
        }
        const path = {
          settings: '/settings',
          setting: `/setting/${names[Math.floor(Math.random() * names.length)]}`,
          prices: '/prices',
          admin: `/admin/flags/${other}`,
          sneaky: `/sneaky/flags/${other}`,
          invalidate: '/invalidate',
        }[kind] as string;
        const res = await send(agent, port, kind === 'invalidate' ? 'POST' : 'GET', path, org);
        if (res.status !== 200) {
          counts.failed++;
          continue;
        }
        const body = JSON.parse(res.body) as Loaded & { refused?: string };
        if (kind === 'settings' || kind === 'setting') {
          if (body.ranAs !== org || body.orgs.some((o) => o !== org)) counts.foreignInResponses++;
        } else if (kind === 'prices') {
          if (body.orgs.length > 0 || body.ranAs !== null) counts.globalRowsServed++;
        } else if (kind === 'admin') {
          if (body.ranAs !== other || body.orgs.some((o) => o !== other)) counts.adminWrongTenant++;
        } else if (kind === 'sneaky') {
          if (org !== other && body.refused !== 'LazyCrossTenantError') counts.sneakyAllowed++;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    // Let background refreshes that are still running settle before the entries are read.
    await new Promise((r) => setTimeout(r, 200));
    const elapsedMs = Date.now() - t0;

    // Every cached entry, read as the admin (outside any scope): it must hold only its own tenant's rows.
    let entries = 0;
    let crossTenantEntries = 0;
    for (const org of TENANTS) {
      const keys = [SETTINGS, ...names.map((n) => `RlsLazyService.setting(${JSON.stringify(n)})`), 'flags'];
      for (const key of keys) {
        const e = lazy.peek<Loaded>(key, { organisationId: org });
        if (e === undefined) continue;
        entries++;
        if (e.ranAs !== org || e.bound !== org || e.orgs.some((o) => o !== org)) crossTenantEntries++;
      }
    }
    const price = lazy.peek<Loaded>('RlsLazyService.prices()');
    if (price !== undefined) {
      entries++;
      if (price.orgs.length > 0 || price.ranAs !== null || price.bound !== null) crossTenantEntries++;
    }
    // Inside a tenant scope, peeking another organisation without allowCrossTenant is refused too.
    expect(() => tenant.run('org-01', () => lazy.peek(SETTINGS, { organisationId: 'org-02' }))).toThrow(
      'reaching across tenants is refused by default',
    );

    const stats = lazy.stats();
    const loads = runs.settings + runs.setting + runs.flags + runs.prices;
    const background = stats.total.staleServed;
    console.log(
      `[lazy-rls] ${counts.requests} requests from ${TENANTS.length} tenants in ${elapsedMs} ms, by kind ${JSON.stringify(counts.byKind)}\n` +
        `[lazy-rls] loader runs ${loads} ${JSON.stringify(runs)}, stale served (background refreshes) ${background}, ` +
        `invalidations ${stats.total.invalidations}, hits ${stats.total.hits}, misses ${stats.total.misses}\n` +
        `[lazy-rls] WRONG-SCOPE LOADS ${violations.wrongScope}, foreign rows loaded ${violations.foreignRowsLoaded}, ` +
        `global rows loaded ${violations.globalRowsLoaded}; responses with foreign rows ${counts.foreignInResponses}, ` +
        `global rows served ${counts.globalRowsServed}, admin reads of the wrong tenant ${counts.adminWrongTenant}, ` +
        `cross-tenant reads allowed without the option ${counts.sneakyAllowed}\n` +
        `[lazy-rls] cached entries checked ${entries}, CROSS-TENANT ENTRIES ${crossTenantEntries}; failed requests ${counts.failed}`,
    );

    expect(counts.requests).toBe(REQUESTS);
    expect(counts.failed).toBe(0);
    expect(violations).toEqual({ wrongScope: 0, foreignRowsLoaded: 0, globalRowsLoaded: 0 });
    expect(crossTenantEntries).toBe(0);
    expect(entries).toBeGreaterThan(TENANTS.length);
    expect(counts.foreignInResponses).toBe(0);
    expect(counts.globalRowsServed).toBe(0);
    expect(counts.adminWrongTenant).toBe(0);
    expect(counts.sneakyAllowed).toBe(0);
    // The mix really happened: background refreshes, invalidations and explicit-organisation reads.
    expect(background).toBeGreaterThan(100);
    expect(stats.total.invalidations).toBeGreaterThan(0);
    expect(runs.prices).toBeGreaterThan(1);
    expect(counts.byKind.admin).toBeGreaterThan(REQUESTS * 0.05);
    expect(counts.outOfScopeAdminReloads).toBeGreaterThan(0);
  }, 600_000);
});
