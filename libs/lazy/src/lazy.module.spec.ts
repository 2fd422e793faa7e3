import { Injectable, Logger, Module, Scope, SetMetadata } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import { TenantContext, TenantModule } from '@reservoir/tenant';
import {
  LazyConfigError,
  LazyHealthIndicator,
  LazyKeyError,
  LazyLoader,
  LazyLoadError,
  LazyModule,
  LazyResource,
  type LazyModuleOptions,
} from './index';

const CUSTOM = 'test:custom';

@Injectable()
class PricingService {
  calls = 0;
  failNext = 0;

  @SetMetadata(CUSTOM, 'kept')
  @LazyResource()
  async price(sku: string, opts?: { currency: string }): Promise<string> {
    this.calls++;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('pricing down');
    }
    return `${sku}:${opts?.currency ?? 'EUR'}:${this.calls}`;
  }

  @LazyResource({ key: (id: string) => id.toLowerCase(), tenantScoped: false })
  async byId(id: string): Promise<string> {
    this.calls++;
    return `id-${id}`;
  }

  @LazyResource({ tenantScoped: false })
  async withFn(fn: () => void): Promise<string> {
    return typeof fn;
  }
}

@Injectable()
class CatalogService {
  static loads = 0;
  static fail = false;

  @LazyResource({ preload: true, tenantScoped: false })
  async catalog(): Promise<string[]> {
    CatalogService.loads++;
    if (CatalogService.fail) throw new Error('catalog down');
    return ['a', 'b'];
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequestService {
  @LazyResource()
  async thing(): Promise<number> {
    return 1;
  }
}

async function compile(
  options: LazyModuleOptions = {},
  providers: unknown[] = [PricingService],
): Promise<TestingModule> {
  const mod = await Test.createTestingModule({
    imports: [TenantModule.forRoot(), LazyModule.forRoot({ retry: { attempts: 1 }, ...options })],
    providers: providers as never[],
  }).compile();
  mod.useLogger(false);
  return mod;
}

describe('LazyModule', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('forRoot provides a validated LazyLoader with module defaults', async () => {
    const mod = await compile({ staleAfterMs: 5_000, maxEntries: 50 });
    const loader = mod.get(LazyLoader);
    expect(loader.options).toMatchObject({ staleAfterMs: 5_000, maxEntries: 50, tenantScoped: true });
    await mod.close();
  });

  it('forRootAsync with isGlobal exposes LazyLoader everywhere', async () => {
    @Injectable()
    class Consumer {
      constructor(readonly loader: LazyLoader) {}
    }
    @Module({ providers: [Consumer], exports: [Consumer] })
    class FeatureModule {}
    const mod = await Test.createTestingModule({
      imports: [
        LazyModule.forRootAsync({ isGlobal: true, useFactory: async () => ({ ttlMs: 1_000 }) }),
        FeatureModule,
      ],
    }).compile();
    expect(mod.get(Consumer).loader.options.ttlMs).toBe(1_000);
    await mod.close();
  });

  it('without TenantModule, tenant-scoped resources are shared (single-tenant app)', async () => {
    const mod = await Test.createTestingModule({ imports: [LazyModule.forRoot({})] }).compile();
    await mod.init();
    const loader = mod.get(LazyLoader);
    let loads = 0;
    loader.register('settings', async () => ({ theme: 'dark', n: ++loads }));
    expect(loader.version('settings')).toBe(0);
    expect(await loader.get('settings')).toEqual({ theme: 'dark', n: 1 });
    expect(await loader.get('settings')).toEqual({ theme: 'dark', n: 1 });
    expect(loads).toBe(1);
    expect(loader.version('settings')).toBe(1);
    expect(await loader.reload('settings')).toEqual({ theme: 'dark', n: 2 });
    expect(loader.version('settings')).toBe(2);
    expect(loader.stats('settings')).toMatchObject({ hits: 1, misses: 1, loads: 2, latestVersion: 2 });
    await mod.close();
  });

  it('with TenantModule, a tenant-scoped resource outside any tenant scope rejects', async () => {
    const mod = await compile();
    await mod.init();
    const loader = mod.get(LazyLoader);
    loader.register('settings', async () => 1);
    await expect(loader.get('settings')).rejects.toThrow(
      expect.objectContaining({ name: 'TenantRequiredError' }) as unknown as Error,
    );
    await mod.close();
  });

  it('preload without tenantScoped makes the resource global', async () => {
    const mod = await compile();
    await mod.init();
    const loader = mod.get(LazyLoader);
    loader.register('catalog', async () => ['x'], { preload: true });
    expect(loader.stats('catalog')).toMatchObject({ tenantScoped: false });
    expect(await loader.get('catalog')).toEqual(['x']);
    await mod.close();
  });

  it('an invalid option fails bootstrap with LazyConfigError', async () => {
    await expect(compile({ policy: 'fifo' as never })).rejects.toThrow(LazyConfigError);
    await expect(
      Test.createTestingModule({
        imports: [LazyModule.forRootAsync({ useFactory: () => ({ nope: 1 }) as never })],
      }).compile(),
    ).rejects.toThrow('Invalid lazy option "nope" in LazyModule.forRoot()');
  });

  describe('@LazyResource', () => {
    let mod: TestingModule;
    let svc: PricingService;
    let tenant: TenantContext;
    let loader: LazyLoader;
    beforeEach(async () => {
      mod = await compile();
      await mod.init();
      svc = mod.get(PricingService);
      tenant = mod.get(TenantContext);
      loader = mod.get(LazyLoader);
    });
    afterEach(() => mod.close());

    it('caches per argument and per tenant, with the ClassName.method(args) key', async () => {
      const a1 = await tenant.run('acme', () => svc.price('sku-1'));
      const a2 = await tenant.run('acme', () => svc.price('sku-1'));
      const b1 = await tenant.run('beta', () => svc.price('sku-1'));
      const a3 = await tenant.run('acme', () => svc.price('sku-1', { currency: 'USD' }));
      expect([a1, a2, b1, a3]).toEqual(['sku-1:EUR:1', 'sku-1:EUR:1', 'sku-1:EUR:2', 'sku-1:USD:3']);
      expect(loader.isRegistered('PricingService.price')).toBe(true);
      expect(loader.peek('PricingService.price("sku-1")', { organisationId: 'beta' })).toBe('sku-1:EUR:2');
      expect(
        loader.peek('PricingService.price("sku-1",{"currency":"USD"})', { organisationId: 'acme' }),
      ).toBe('sku-1:USD:3');
      expect(loader.stats('PricingService.price')).toMatchObject({ hits: 1, misses: 3, loads: 3 });
    });

    it('outside a tenant scope rejects with TenantRequiredError', async () => {
      await expect(svc.price('x')).rejects.toMatchObject({ name: 'TenantRequiredError' });
    });

    it('uses the key function when given', async () => {
      await svc.byId('ABC');
      await svc.byId('abc');
      expect(svc.calls).toBe(1);
      expect(loader.peek('PricingService.byId(abc)')).toBe('id-ABC');
    });

    it('names the method when arguments cannot be serialized', async () => {
      await expect(svc.withFn(() => undefined)).rejects.toThrow(LazyKeyError);
      await expect(svc.withFn(() => undefined)).rejects.toThrow(
        '@LazyResource() on PricingService.withFn: argument 0 (function (anonymous)) cannot be serialized',
      );
    });

    it('failures are retried per retry options, never cached, and wrapped in LazyLoadError', async () => {
      svc.failNext = 1;
      const err = await tenant.run('acme', () => svc.price('p')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LazyLoadError);
      expect(await tenant.run('acme', () => svc.price('p'))).toBe('p:EUR:2');
    });

    it('keeps the metadata of other decorators on the wrapped method', () => {
      const proto = PricingService.prototype;
      expect(svc.price).not.toBe(proto.price);
      expect(Reflect.getMetadata(CUSTOM, svc.price)).toBe('kept');
      expect(Reflect.getMetadata(CUSTOM, proto.price)).toBe('kept');
      expect(svc.price.name).toBe('price');
    });

    it('invalidates one tenant vs all through LazyLoader', async () => {
      await tenant.run('acme', () => svc.price('s'));
      await tenant.run('beta', () => svc.price('s'));
      expect(loader.invalidate('PricingService.price(', { organisationId: 'acme' })).toBe(1);
      expect(loader.invalidate('PricingService.price', { allTenants: true })).toBe(1);
    });
  });

  it('skips a request-scoped provider with a warning', async () => {
    const mod = await compile({}, [PerRequestService]);
    await mod.init();
    expect(mod.get(LazyLoader).isRegistered('PerRequestService.thing')).toBe(false);
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining(
        '@LazyResource() on PerRequestService.thing is ignored: PerRequestService is request-scoped',
      ),
    );
    await mod.close();
  });

  describe('preload', () => {
    beforeEach(() => {
      CatalogService.loads = 0;
      CatalogService.fail = false;
    });

    it('loads preload resources at bootstrap and becomes ready', async () => {
      const mod = await compile({}, [CatalogService]);
      const loader = mod.get(LazyLoader);
      expect(loader.ready).toBe(false);
      await mod.init();
      expect(loader.ready).toBe(true);
      expect(CatalogService.loads).toBe(1);
      expect(await mod.get(CatalogService).catalog()).toEqual(['a', 'b']);
      expect(CatalogService.loads).toBe(1);
      await mod.close();
    });

    it('an optional preload failure is logged, startup continues, and it loads lazily later', async () => {
      CatalogService.fail = true;
      const mod = await compile({}, [CatalogService]);
      await mod.init();
      expect(warn).toHaveBeenCalledWith(
        expect.stringContaining('Preload of lazy resource "CatalogService.catalog()" failed'),
      );
      CatalogService.fail = false;
      expect(await mod.get(CatalogService).catalog()).toEqual(['a', 'b']);
      await mod.close();
    });

    it('a required preload failure fails startup', async () => {
      @Injectable()
      class MustLoad {
        @LazyResource({ preload: true, required: true, tenantScoped: false })
        async data(): Promise<number> {
          throw new Error('db unreachable');
        }
      }
      const mod = await compile({}, [MustLoad]);
      await expect(mod.init()).rejects.toBeInstanceOf(LazyLoadError);
      // Nest 11's close() re-awaits the failed init and rethrows its error; that is expected here.
      await mod.close().catch(() => undefined);
    });

    it('preload on a method with parameters is a config error', async () => {
      @Injectable()
      class BadPreload {
        @LazyResource({ preload: true, tenantScoped: false })
        async data(_id: string): Promise<number> {
          return 1;
        }
      }
      const mod = await compile({}, [BadPreload]);
      await expect(mod.init()).rejects.toThrow(LazyConfigError);
      await mod.close().catch(() => undefined);
    });
  });

  describe('LazyHealthIndicator through Terminus HealthCheckService', () => {
    const hasDegraded =
      typeof (new HealthIndicatorService().check('x') as unknown as { degraded?: unknown }).degraded ===
      'function';

    async function healthApp(register: (l: LazyLoader) => void) {
      const mod = await Test.createTestingModule({
        imports: [TerminusModule.forRoot({ logger: false }), LazyModule.forRoot({ tenantScoped: false })],
        providers: [LazyHealthIndicator],
      }).compile();
      await mod.init();
      const loader = mod.get(LazyLoader);
      register(loader);
      const check = () =>
        mod
          .get(HealthCheckService)
          .check([() => mod.get(LazyHealthIndicator).isHealthy('lazy', { staleGraceMs: 0 })])
          .catch((e: { getResponse(): unknown }) => e.getResponse());
      return { mod, loader, check };
    }

    it('up when every resource is fine', async () => {
      const { mod, loader, check } = await healthApp((l) => l.register('ok', async () => 1));
      await loader.get('ok');
      expect(await check()).toMatchObject({
        status: 'ok',
        info: { lazy: { status: 'up', state: 'HEALTHY' } },
      });
      await mod.close();
    });

    it('degraded (or up with state DEGRADED on Terminus 11) when refreshes keep failing', async () => {
      let fail = false;
      const { mod, loader, check } = await healthApp((l) =>
        l.register(
          'flaky',
          async () => {
            if (fail) throw new Error('x');
            return 1;
          },
          { retry: { attempts: 1 } },
        ),
      );
      await loader.get('flaky');
      fail = true;
      await loader.reload('flaky');
      await loader.reload('flaky');
      const res = (await check()) as { status: string; info: { lazy: { status: string; state: string } } };
      expect(res.info.lazy.state).toBe('DEGRADED');
      expect(res.status).toBe(hasDegraded ? 'degraded' : 'ok');
      expect(res.info.lazy.status).toBe(hasDegraded ? 'degraded' : 'up');
      await mod.close();
    });

    it('down when a required resource has no value because loads fail', async () => {
      const { mod, loader, check } = await healthApp((l) =>
        l.register(
          'must',
          async () => {
            throw new Error('db down');
          },
          { required: true, retry: { attempts: 1 } },
        ),
      );
      await loader.get('must').catch(() => undefined);
      expect(await check()).toMatchObject({
        status: 'error',
        error: { lazy: { status: 'down', state: 'UNHEALTHY' } },
      });
      await mod.close();
    });
  });
});

describe('LazyModule with TenantModule: scopes, shape, lifecycle', () => {
  @Injectable()
  class ScopeProbe {
    constructor(readonly tenant: TenantContext) {}
    seen: Array<string | undefined> = [];

    @LazyResource()
    async perTenant(): Promise<string | undefined> {
      this.seen.push(this.tenant.organisationId);
      return this.tenant.organisationId;
    }

    @LazyResource({ tenantScoped: false })
    async shared(): Promise<string> {
      this.seen.push(this.tenant.organisationId);
      return 'shared';
    }
  }

  async function boot(): Promise<TestingModule> {
    const mod = await Test.createTestingModule({
      imports: [TenantModule.forRoot(), LazyModule.forRoot({ retry: { attempts: 1 } })],
      providers: [ScopeProbe],
    }).compile();
    mod.useLogger(false);
    await mod.init();
    return mod;
  }

  it('wires runAs to TenantContext: a global method sees no tenant, a reload for X loads as X', async () => {
    const mod = await boot();
    const probe = mod.get(ScopeProbe);
    const tenant = mod.get(TenantContext);
    const loader = mod.get(LazyLoader);
    await tenant.run('acme', () => probe.shared());
    await tenant.run('acme', () =>
      loader.reload('ScopeProbe.perTenant()', { organisationId: 'beta', allowCrossTenant: true }),
    );
    expect(probe.seen).toEqual([undefined, 'beta']);
    expect(await tenant.run('beta', () => probe.perTenant())).toBe('beta');
    await mod.close();
  });

  it('LazyLoader wraps the core: no call, registerMethod or ResourceState on its API', async () => {
    const mod = await boot();
    const loader = mod.get(LazyLoader) as unknown as Record<string, unknown>;
    for (const name of ['call', 'registerMethod', 'resources', 'inflight', 'store']) {
      expect(name in loader).toBe(false);
    }
    expect(typeof loader.get).toBe('function');
    await mod.close();
  });

  it('after the module closes, decorated methods and get reject with LazyClosedError', async () => {
    const mod = await boot();
    const probe = mod.get(ScopeProbe);
    const loader = mod.get(LazyLoader);
    await mod.close();
    await expect(probe.shared()).rejects.toMatchObject({ name: 'LazyClosedError' });
    await expect(loader.get('ScopeProbe.shared')).rejects.toMatchObject({ name: 'LazyClosedError' });
  });
});
