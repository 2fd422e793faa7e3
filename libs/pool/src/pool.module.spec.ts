import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TenantContext, TenantModule, TenantRequiredError } from '@reservoir/tenant';
import { Pool } from './pool';
import { getPoolToken } from './pool.constants';
import { InjectPool } from './pool.decorators';
import { PoolConfigError } from './pool.errors';
import { PoolModule } from './pool.module';
import { PoolRegistry } from './pool.registry';
import type { ResourceFactory } from './pool.types';

interface Res {
  id: number;
}

/** In-memory factory that counts what the pool does with it. */
function countingFactory() {
  const counts = { created: 0, destroyed: 0 };
  const factory: ResourceFactory<Res> = {
    create: async () => ({ id: ++counts.created }),
    destroy: () => {
      counts.destroyed++;
    },
  };
  return { counts, factory };
}

async function compile(imports: unknown[], providers: unknown[] = []): Promise<TestingModule> {
  const ref = await Test.createTestingModule({
    imports: imports as never[],
    providers: providers as never[],
  }).compile();
  await ref.init();
  return ref;
}

describe('PoolModule', () => {
  let ref: TestingModule | undefined;
  afterEach(async () => {
    await ref?.close();
    ref = undefined;
  });

  it('forRoot provides a started pool under the default token and closes it on shutdown', async () => {
    const { counts, factory } = countingFactory();
    ref = await compile([PoolModule.forRoot({ factory, min: 2, max: 4 })]);
    const pool = ref.get<Pool<Res>>(getPoolToken());
    expect(pool).toBeInstanceOf(Pool);
    expect(pool.name).toBe('default');
    expect(getPoolToken()).toBe('RESERVOIR:POOL:default');
    expect(counts.created).toBe(2); // start() prefilled min in onModuleInit
    expect(pool.stats()).toMatchObject({ size: 2, idle: 2, inUse: 0 });

    await ref.close();
    ref = undefined;
    expect(pool.stats().closed).toBe(true);
    expect(counts.destroyed).toBe(counts.created);
  });

  it('forRootAsync resolves options from an imported provider', async () => {
    const { counts, factory } = countingFactory();
    @Module({ providers: [{ provide: 'CONFIG', useValue: { min: 1, max: 3 } }], exports: ['CONFIG'] })
    class ConfigModule {}

    ref = await compile([
      PoolModule.forRootAsync({
        imports: [ConfigModule],
        inject: ['CONFIG'],
        useFactory: async (config: { min: number; max: number }) => ({ factory, ...config }),
      }),
    ]);
    const pool = ref.get<Pool<Res>>(getPoolToken());
    expect(pool.stats()).toMatchObject({ size: 1, max: 3 });
    expect(counts.created).toBe(1);
  });

  it('forRootAsync accepts useClass (a factory class with create())', async () => {
    const { counts, factory } = countingFactory();
    @Injectable()
    class PoolConfig {
      create() {
        return { factory, min: 2, max: 4 };
      }
    }
    ref = await compile([PoolModule.forRootAsync({ name: 'cls', useClass: PoolConfig })]);
    expect(ref.get<Pool<Res>>(getPoolToken('cls')).stats()).toMatchObject({ size: 2, max: 4 });
    expect(counts.created).toBe(2);
  });

  it('registers several named pools, each under its own token, all listed by one PoolRegistry', async () => {
    const a = countingFactory();
    const b = countingFactory();
    const c = countingFactory();
    ref = await compile([
      PoolModule.forRoot({ name: 'a', factory: a.factory, min: 1, max: 2 }),
      PoolModule.forRoot({ name: 'b', factory: b.factory, min: 2, max: 5 }),
      PoolModule.forRootAsync({ name: 'c', useFactory: () => ({ factory: c.factory, max: 7 }) }),
    ]);
    const poolA = ref.get<Pool<Res>>(getPoolToken('a'));
    const poolB = ref.get<Pool<Res>>(getPoolToken('b'));
    const poolC = ref.get<Pool<Res>>(getPoolToken('c'));
    expect([poolA.name, poolB.name, poolC.name]).toEqual(['a', 'b', 'c']);
    expect(poolA).not.toBe(poolB);
    expect([poolA.stats().max, poolB.stats().max, poolC.stats().max]).toEqual([2, 5, 7]);
    expect([a.counts.created, b.counts.created, c.counts.created]).toEqual([1, 2, 0]);

    const registry = ref.get(PoolRegistry);
    expect(registry.names()).toEqual(['a', 'b', 'c']);
    expect(registry.all()).toEqual([poolA, poolB, poolC]);
    expect(registry.get('b')).toBe(poolB);
    expect(registry.get('nope')).toBeUndefined();
    expect(() => ref!.get(getPoolToken())).toThrow(); // no default pool registered
  });

  it('@InjectPool(name) injects the named pool into an importing module', async () => {
    @Injectable()
    class Repo {
      constructor(
        @InjectPool() readonly main: Pool<Res>,
        @InjectPool('reports') readonly reports: Pool<Res>,
      ) {}
    }
    ref = await compile(
      [
        PoolModule.forRoot({ factory: countingFactory().factory }),
        PoolModule.forRoot({ name: 'reports', factory: countingFactory().factory }),
      ],
      [Repo],
    );
    const repo = ref.get(Repo);
    expect(repo.main.name).toBe('default');
    expect(repo.reports.name).toBe('reports');
    const r = await repo.reports.use(async (res) => res.id);
    expect(r).toBe(1);
  });

  describe('isGlobal', () => {
    @Injectable()
    class Consumer {
      constructor(@InjectPool('g') readonly pool: Pool<Res>) {}
    }
    @Module({ providers: [Consumer], exports: [Consumer] })
    class FeatureModule {}

    it('makes the pool injectable in modules that do not import PoolModule', async () => {
      ref = await compile([
        PoolModule.forRoot({ name: 'g', isGlobal: true, factory: countingFactory().factory }),
        FeatureModule,
      ]);
      expect(ref.get(Consumer).pool.name).toBe('g');
    });

    it('without it, a sibling module cannot resolve the pool', async () => {
      await expect(
        Test.createTestingModule({
          imports: [PoolModule.forRoot({ name: 'g', factory: countingFactory().factory }), FeatureModule],
        }).compile(),
      ).rejects.toThrow(/RESERVOIR:POOL:g/);
    });

    it('rejects a non-boolean isGlobal', () => {
      expect(() =>
        PoolModule.forRoot({ isGlobal: 'yes' as never, factory: countingFactory().factory }),
      ).toThrow(PoolConfigError);
    });
  });

  describe('bootstrap validation', () => {
    it('fails compile() with PoolConfigError for invalid pool options (the core validator)', async () => {
      await expect(
        Test.createTestingModule({
          imports: [PoolModule.forRoot({ factory: countingFactory().factory, min: 5, max: 2 })],
        }).compile(),
      ).rejects.toBeInstanceOf(PoolConfigError);
    });

    it('rejects unknown option keys', async () => {
      await expect(
        Test.createTestingModule({
          imports: [PoolModule.forRoot({ factory: countingFactory().factory, maxx: 3 } as never)],
        }).compile(),
      ).rejects.toThrow(/maxx/);
    });

    it('rejects two pools with the same name, naming it and the fix', async () => {
      await expect(
        Test.createTestingModule({
          imports: [
            PoolModule.forRoot({ name: 'dup', factory: countingFactory().factory }),
            PoolModule.forRootAsync({
              name: 'dup',
              useFactory: () => ({ factory: countingFactory().factory }),
            }),
          ],
        }).compile(),
      ).rejects.toThrow(
        'PoolModule: two pools are registered with the name "dup". Give each PoolModule.forRoot()/forRootAsync() call its own `name`.',
      );
    });

    it('rejects a forRootAsync factory that returns a different name', async () => {
      await expect(
        Test.createTestingModule({
          imports: [
            PoolModule.forRootAsync({
              name: 'x',
              useFactory: () => ({ name: 'y', factory: countingFactory().factory }),
            }),
          ],
        }).compile(),
      ).rejects.toThrow(/registered as "x", but its factory returned name "y"/);
    });

    it('rejects a non-boolean tenantAware', async () => {
      await expect(
        Test.createTestingModule({
          imports: [PoolModule.forRoot({ factory: countingFactory().factory, tenantAware: 1 as never })],
        }).compile(),
      ).rejects.toThrow('PoolModule: invalid option "tenantAware": given 1, expected true or false.');
    });
  });

  it('keeps the registry per application: two apps in one process do not share pools', async () => {
    const one = await compile([PoolModule.forRoot({ name: 'p', factory: countingFactory().factory })]);
    const two = await compile([PoolModule.forRoot({ name: 'p', factory: countingFactory().factory })]);
    try {
      expect(one.get(PoolRegistry)).not.toBe(two.get(PoolRegistry));
      expect(one.get(PoolRegistry).get('p')).toBe(one.get(getPoolToken('p')));
      expect(two.get(PoolRegistry).get('p')).toBe(two.get(getPoolToken('p')));
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('infers the resource type in forRoot (compile-time check)', () => {
    const mod = PoolModule.forRoot({
      factory: { create: async () => ({ id: 1 }), destroy: (r) => void r.id },
    });
    expect(mod.module).toBe(PoolModule);
  });
  describe('with TenantModule (optional injection of TenantContext)', () => {
    async function tenantApp(options: Record<string, unknown>, withTenantModule = true) {
      const imports: unknown[] = [
        PoolModule.forRoot({ factory: countingFactory().factory, max: 3, ...options }),
      ];
      if (withTenantModule) imports.unshift(TenantModule.forRoot());
      ref = await compile(imports, withTenantModule ? [] : [TenantContext]);
      return { pool: ref.get<Pool<Res>>(getPoolToken()), tenant: ref.get(TenantContext) };
    }

    async function leaseTenant(pool: Pool<Res>, tenant: TenantContext, org?: string) {
      const res = await (org ? tenant.run(org, () => pool.acquire()) : pool.acquire());
      const info = pool.leaseInfo(res);
      pool.release(res);
      return info?.organisationId;
    }

    it('a pool with requireTenant gets its tenant from TenantContext', async () => {
      const { pool, tenant } = await tenantApp({ requireTenant: true });
      expect(await leaseTenant(pool, tenant, 'acme')).toBe('acme');
      await expect(pool.acquire()).rejects.toBeInstanceOf(TenantRequiredError);
      // an explicit organisationId wins over the scope
      const r = await tenant.run('acme', () => pool.acquire({ organisationId: 'globex' }));
      expect(pool.leaseInfo(r)?.organisationId).toBe('globex');
      pool.release(r);
    });

    it('a pool with maxPerTenant is tenant-aware too', async () => {
      const { pool, tenant } = await tenantApp({ maxPerTenant: 2 });
      expect(await leaseTenant(pool, tenant, 'acme')).toBe('acme');
    });

    it('with TenantModule, a plain pool tags leases with the scope tenant', async () => {
      const { pool, tenant } = await tenantApp({});
      expect(await leaseTenant(pool, tenant, 'acme')).toBe('acme');
      // outside a tenant scope the lease is untagged (no requireTenant)
      const r = await pool.acquire();
      expect(pool.leaseInfo(r)?.organisationId).toBeUndefined();
      pool.release(r);
    });

    it('tenantAware: true is accepted with TenantModule; tenantAware: false opts a pool out', async () => {
      const on = await tenantApp({ tenantAware: true });
      expect(await leaseTenant(on.pool, on.tenant, 'acme')).toBe('acme');
      await ref!.close();
      ref = undefined;
      const off = await tenantApp({ tenantAware: false, maxPerTenant: 2 });
      expect(await leaseTenant(off.pool, off.tenant, 'acme')).toBeUndefined();
    });

    it('an explicit tenantResolver wins over TenantContext', async () => {
      const { pool, tenant } = await tenantApp({ requireTenant: true, tenantResolver: () => 'fixed' });
      expect(await leaseTenant(pool, tenant, 'acme')).toBe('fixed');
    });

    it('without TenantModule, a tenant pool works with explicit organisationId only', async () => {
      // TenantContext is provided here (not through TenantModule) only so the test can open a scope;
      // PoolModule must not see it, because it is not global.
      const { pool, tenant } = await tenantApp({ requireTenant: true }, false);
      await expect(tenant.run('acme', () => pool.acquire())).rejects.toBeInstanceOf(TenantRequiredError);
      const r = await pool.acquire({ organisationId: 'acme' });
      expect(pool.leaseInfo(r)?.organisationId).toBe('acme');
      pool.release(r);
    });

    it('tenantAware: true without TenantModule fails at bootstrap, saying how to fix it', async () => {
      await expect(
        Test.createTestingModule({
          imports: [PoolModule.forRoot({ name: 't', factory: countingFactory().factory, tenantAware: true })],
        }).compile(),
      ).rejects.toThrow(
        'PoolModule: pool "t" sets tenantAware: true, but no TenantContext is available. Import TenantModule.forRoot() ' +
          'in the application module, or drop tenantAware and pass `organisationId` to acquire() yourself.',
      );
    });
  });
});
