/**
 * Tenant isolation of @LazyResource() through a real Nest HTTP app: TenantModule (header
 * x-organisation-id, TenantInterceptor) + LazyModule + a decorated service, driven by supertest.
 */
import { Controller, Delete, Get, Injectable, type INestApplication, Param, Query } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TenantContext, TenantModule } from '@reservoir/tenant';
import { LazyLoader, LazyModule, LazyResource } from '@reservoir/lazy';
import request from 'supertest';

@Injectable()
class SettingsService {
  loads = 0;

  constructor(private readonly tenant: TenantContext) {}

  /** Identical arguments for every tenant; the value depends on the tenant it was loaded for. */
  @LazyResource({ staleAfterMs: 60_000 })
  async settings(name: string): Promise<{ org: string; name: string; load: number }> {
    this.loads++;
    return { org: this.tenant.require(), name, load: this.loads };
  }
}

@Controller('settings')
class SettingsController {
  constructor(
    private readonly settings: SettingsService,
    private readonly lazy: LazyLoader,
  ) {}

  @Get(':name')
  get(@Param('name') name: string) {
    return this.settings.settings(name);
  }

  @Delete()
  invalidate(@Query('all') all?: string) {
    const removed = this.lazy.invalidate('SettingsService.settings', all ? { allTenants: true } : {});
    return { removed };
  }
}

describe('LazyModule + TenantModule over HTTP', () => {
  let app: INestApplication;
  let svc: SettingsService;

  beforeAll(async () => {
    const mod = await Test.createTestingModule({
      imports: [TenantModule.forRoot(), LazyModule.forRoot({ isGlobal: true })],
      controllers: [SettingsController],
      providers: [SettingsService],
    }).compile();
    app = mod.createNestApplication({ logger: false });
    await app.init();
    svc = app.get(SettingsService);
  });
  afterAll(() => app.close());

  const get = (org: string, name = 'theme') =>
    request(app.getHttpServer()).get(`/settings/${name}`).set('x-organisation-id', org).expect(200);

  it('tenant A never receives tenant B value for identical arguments', async () => {
    const [a, b] = await Promise.all([get('acme'), get('beta')]);
    expect(a.body).toMatchObject({ org: 'acme', name: 'theme' });
    expect(b.body).toMatchObject({ org: 'beta', name: 'theme' });
    // cached per tenant: repeated calls return each tenant's own entry, no new loads
    const before = svc.loads;
    for (let i = 0; i < 5; i++) {
      const [a2, b2] = await Promise.all([get('acme'), get('beta')]);
      expect(a2.body).toEqual(a.body);
      expect(b2.body).toEqual(b.body);
    }
    expect(svc.loads).toBe(before);
  });

  it('concurrent requests of one tenant share one load', async () => {
    const before = svc.loads;
    const res = await Promise.all(Array.from({ length: 20 }, () => get('gamma', 'fonts')));
    expect(new Set(res.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(svc.loads).toBe(before + 1);
  });

  it('invalidate within one tenant leaves the others cached; allTenants clears everyone', async () => {
    const a = (await get('acme')).body;
    const b = (await get('beta')).body;
    const del = await request(app.getHttpServer())
      .delete('/settings')
      .set('x-organisation-id', 'acme')
      .expect(200);
    expect(del.body.removed).toBe(1);
    const a2 = (await get('acme')).body;
    expect(a2.org).toBe('acme');
    expect(a2.load).not.toBe(a.load);
    expect((await get('beta')).body).toEqual(b);

    const all = await request(app.getHttpServer())
      .delete('/settings?all=1')
      .set('x-organisation-id', 'acme')
      .expect(200);
    expect(all.body.removed).toBeGreaterThanOrEqual(3);
    const b2 = (await get('beta')).body;
    expect(b2.org).toBe('beta');
    expect(b2.load).not.toBe(b.load);
  });

  it('a request without a tenant is rejected by the tenant layer, never served a cached value', async () => {
    const res = await request(app.getHttpServer()).get('/settings/theme');
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain('"org"');
  });
});
