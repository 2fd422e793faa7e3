import { setTimeout as sleep } from 'node:timers/promises';
import { TenantContext } from '@reservoir/tenant';
import type { LazyEvent } from './lazy.events';
import { LazyLoaderCore, registerLazyMethod, type LazyLoaderCoreDeps } from './lazy-loader.core';
import { LazyClosedError, LazyCrossTenantError, LazyLoadError } from './lazy.errors';
import { evaluateLazyHealth } from './lazy.health';
import type { LazyModuleOptions } from './lazy.options';
import { MemoryVersionSource } from './lazy-versions';

/*
 * Tenant scope of loaders, the cross-tenant rule, the closed lifecycle, single-flight reloads and
 * the one owner of versions. The tenant scope is the real TenantContext (AsyncLocalStorage), wired
 * the way LazyLoader wires it.
 */

const tenant = new TenantContext();

function logger() {
  return { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
}

function scoped(options: LazyModuleOptions = {}, deps: LazyLoaderCoreDeps = {}) {
  const log = logger();
  const loader = new LazyLoaderCore(options, {
    tenantResolver: () => tenant.organisationId,
    runAs: (org, fn) => (org === undefined ? tenant.runOutside(fn) : tenant.run(org, fn)),
    logger: log,
    random: () => 1,
    ...deps,
  });
  return { loader, log };
}

describe('lazy: the loader runs in the scope of the entry it fills', () => {
  it('reload with an explicit organisation loads as that organisation and stores its data under it', async () => {
    const { loader } = scoped();
    const seen: Array<string | undefined> = [];
    loader.register(
      'settings',
      async () => {
        await sleep(1);
        seen.push(tenant.organisationId);
        return `settings of ${tenant.organisationId}`;
      },
      { allowCrossTenant: true },
    );
    const v = await tenant.run('acme', () => loader.reload('settings', { organisationId: 'beta' }));
    expect(v).toBe('settings of beta');
    expect(seen).toEqual(['beta']);
    expect(await tenant.run('beta', () => loader.get('settings'))).toBe('settings of beta');
    expect(await tenant.run('acme', () => loader.get('settings', { organisationId: 'beta' }))).toBe(
      'settings of beta',
    );
    expect(await tenant.run('acme', () => loader.get('settings'))).toBe('settings of acme');
    expect(seen).toEqual(['beta', 'acme']);
  });

  it('a global resource loads outside any tenant scope on a miss, in the background and in preload', async () => {
    const { loader } = scoped({ staleAfterMs: 20, tenantScoped: false });
    const seen: Array<string | undefined> = [];
    loader.register('pricing', async () => {
      seen.push(tenant.organisationId);
      await sleep(1);
      seen.push(tenant.organisationId);
      return seen.length;
    });
    loader.register(
      'plans',
      async () => {
        seen.push(`preload:${tenant.organisationId}`);
        return 1;
      },
      { preload: true },
    );
    await tenant.run('acme', () => loader.get('pricing'));
    await sleep(25);
    await tenant.run('beta', () => loader.get('pricing')); // stale: served, refreshed in the background
    await sleep(10);
    await tenant.run('gamma', () => loader.preload());
    expect(seen).toEqual([undefined, undefined, undefined, undefined, 'preload:undefined']);
    expect(loader.stats('pricing').loads).toBe(2);
  });

  it('a tenant entry refreshed in the background loads as its own tenant', async () => {
    const { loader } = scoped({ staleAfterMs: 20 });
    const seen: Array<string | undefined> = [];
    loader.register('flags', async () => {
      await sleep(1);
      seen.push(tenant.organisationId);
      return tenant.organisationId;
    });
    await tenant.run('acme', () => loader.get('flags'));
    await sleep(25);
    expect(await tenant.run('acme', () => loader.get('flags'))).toBe('acme');
    await sleep(10);
    expect(seen).toEqual(['acme', 'acme']);
  });

  it('decorated methods run as the entry tenant too', async () => {
    const { loader } = scoped();
    const seen: Array<string | undefined> = [];
    const call = registerLazyMethod(
      loader,
      'Svc.global',
      { tenantScoped: false },
      async () => seen.push(tenant.organisationId),
      undefined,
    );
    await tenant.run('acme', () => call('Svc.global()', []));
    expect(seen).toEqual([undefined]);
  });
});

describe('lazy: cross-tenant reach', () => {
  function settings(options = {}) {
    const { loader } = scoped();
    const loads = jest.fn(async () => `data of ${tenant.organisationId}`);
    loader.register('settings', loads, options);
    return { loader, loads };
  }

  it('is refused by default for get, reload, peek, version and isStale, before anything loads', async () => {
    const { loader, loads } = settings();
    await tenant.run('beta', () => loader.get('settings'));
    await tenant.run('acme', async () => {
      await expect(loader.get('settings', { organisationId: 'beta' })).rejects.toBeInstanceOf(
        LazyCrossTenantError,
      );
      await expect(loader.reload('settings', { organisationId: 'beta' })).rejects.toBeInstanceOf(
        LazyCrossTenantError,
      );
      expect(() => loader.peek('settings', { organisationId: 'beta' })).toThrow(LazyCrossTenantError);
      expect(() => loader.version('settings', { organisationId: 'beta' })).toThrow(LazyCrossTenantError);
      expect(() => loader.isStale('settings', { organisationId: 'beta' })).toThrow(LazyCrossTenantError);
    });
    expect(loads).toHaveBeenCalledTimes(1);
    expect(loader.peek('settings', { organisationId: 'beta' })).toBe('data of beta');
  });

  it('is allowed with allowCrossTenant per call, per resource, for the own organisation and outside a scope', async () => {
    const { loader } = settings();
    await tenant.run('acme', async () => {
      expect(await loader.get('settings', { organisationId: 'acme' })).toBe('data of acme');
      expect(await loader.reload('settings', { organisationId: 'beta', allowCrossTenant: true })).toBe(
        'data of beta',
      );
    });
    expect(await loader.get('settings', { organisationId: 'gamma' })).toBe('data of gamma');
    expect(await loader.reload('settings', { organisationId: 'gamma' })).toBe('data of gamma');

    const trusted = settings({ allowCrossTenant: true }).loader;
    expect(await tenant.run('acme', () => trusted.get('settings', { organisationId: 'beta' }))).toBe(
      'data of beta',
    );
  });
});

describe('lazy: lifecycle after close()', () => {
  it('get, reload and decorated calls reject with LazyClosedError', async () => {
    const { loader } = scoped({ tenantScoped: false });
    loader.register('k', async () => 1);
    const call = registerLazyMethod(loader, 'Svc.m', {}, async (id: number) => id, undefined);
    await loader.get('k');
    loader.close();
    await expect(loader.get('k')).rejects.toBeInstanceOf(LazyClosedError);
    await expect(loader.reload('k')).rejects.toBeInstanceOf(LazyClosedError);
    await expect(call('Svc.m(1)', [1])).rejects.toThrow(
      'LazyLoader is closed (the application is shutting down); "Svc.m(1)" was not loaded.',
    );
  });

  it('a load in flight settles for its callers but is not cached', async () => {
    const { loader } = scoped({ tenantScoped: false });
    loader.register('slow', async () => {
      await sleep(10);
      return 'late';
    });
    const p = loader.get('slow');
    loader.close();
    expect(await p).toBe('late');
    expect(loader.peek('slow')).toBeUndefined();
    expect(loader.stats('slow').entries).toBe(0);
  });

  it('leaves no timer behind: a pending retry gives up at once', async () => {
    jest.useFakeTimers();
    try {
      const { loader } = scoped({ tenantScoped: false, retry: { attempts: 5, initialDelayMs: 60_000 } });
      loader.register('down', async () => {
        throw new Error('db down');
      });
      const p = loader.get('down').catch((e: unknown) => e);
      await jest.advanceTimersByTimeAsync(0);
      expect(jest.getTimerCount()).toBe(1);
      loader.close();
      expect(await p).toBeInstanceOf(LazyLoadError);
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('lazy: reload is single-flight', () => {
  it('concurrent reloads make one loader call, and a get during the reload joins it', async () => {
    const { loader } = scoped({ tenantScoped: false });
    let n = 0;
    const fn = jest.fn(async () => {
      await sleep(10);
      return ++n;
    });
    loader.register('flag', fn);
    await loader.get('flag');
    const all = await Promise.all([
      loader.reload('flag'),
      loader.reload('flag'),
      loader.get('flag'),
      loader.reload('flag'),
      loader.reload('flag'),
    ]);
    // the get arrived during the reload, so it joined it instead of hitting the old value
    expect(all).toEqual([2, 2, 2, 2, 2]);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('reloads during an ordinary load wait for it, then share one more load', async () => {
    const { loader } = scoped({ tenantScoped: false });
    let n = 0;
    const fn = jest.fn(async () => {
      await sleep(10);
      return ++n;
    });
    loader.register('flag', fn);
    const first = loader.get('flag');
    const reloads = await Promise.all([loader.reload('flag'), loader.reload('flag'), loader.reload('flag')]);
    expect(await first).toBe(1);
    expect(reloads).toEqual([2, 2, 2]);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('per tenant: reloads of different organisations do not join each other', async () => {
    const { loader } = scoped();
    const fn = jest.fn(async () => {
      await sleep(5);
      return tenant.organisationId;
    });
    loader.register('s', fn);
    const r = await Promise.all([
      tenant.run('a', () => loader.reload('s')),
      tenant.run('b', () => loader.reload('s')),
      tenant.run('a', () => loader.reload('s')),
    ]);
    expect(r).toEqual(['a', 'b', 'a']);
    expect(fn).toHaveBeenCalledTimes(2);
  });
});

describe('lazy: versions have one owner', () => {
  it('a key never goes backward across invalidate, eviction, expiry and reload', async () => {
    jest.useFakeTimers();
    try {
      const { loader } = scoped({ tenantScoped: false, maxEntries: 1, ttlMs: 1_000 });
      loader.register('a', async () => 'A');
      loader.register('b', async () => 'B');
      const seen: number[] = [];
      const step = async (what: () => unknown) => {
        await what();
        seen.push(loader.version('a'));
      };
      await step(() => loader.get('a')); // first load
      await step(() => loader.reload('a'));
      loader.invalidate('a');
      await step(() => loader.get('a')); // after invalidate
      await loader.get('b'); // evicts a (maxEntries 1)
      expect(loader.peek('a')).toBeUndefined();
      await step(() => loader.get('a')); // after eviction
      await jest.advanceTimersByTimeAsync(1_000);
      await step(() => loader.get('a')); // after expiry
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
      expect(loader.stats('a').latestVersion).toBe(seen[seen.length - 1]);
      expect(evaluateLazyHealth(loader).versions.a).toBe(seen[seen.length - 1]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('events, stats and health read the replaceable VersionSource', async () => {
    class FromHundred extends MemoryVersionSource {
      override next(resource: string): number {
        return super.next(resource) + 100;
      }
      override latest(resource: string): number {
        return super.latest(resource) + 100;
      }
    }
    const { loader } = scoped({ tenantScoped: false, versionSource: new FromHundred() });
    const events: LazyEvent[] = [];
    loader.events$.subscribe((e) => events.push(e));
    loader.register('k', async () => 1);
    await loader.get('k');
    await loader.get('k');
    expect(loader.version('k')).toBe(101);
    expect(loader.stats('k').latestVersion).toBe(101);
    expect(evaluateLazyHealth(loader).versions).toEqual({ k: 101 });
    expect(
      events.filter((e) => e.type === 'load' || e.type === 'hit').map((e) => [e.type, e.version]),
    ).toEqual([
      ['load', 101],
      ['hit', 101],
    ]);
  });

  it('an asynchronous VersionSource (a shared counter) is awaited before the entry is stored', async () => {
    let counter = 0;
    const remote = {
      next: async () => {
        await sleep(1);
        return ++counter;
      },
      latest: () => counter,
      seen: () => undefined,
    };
    const { loader } = scoped({ tenantScoped: false, versionSource: remote });
    loader.register('k', async () => 'v');
    expect(await loader.get('k')).toBe('v');
    expect(loader.version('k')).toBe(1);
    await loader.reload('k');
    expect(loader.version('k')).toBe(2);
  });
});

describe('lazy: stale-while-revalidate is not a warning', () => {
  it('serving a stale value logs at debug level; a failed refresh still warns', async () => {
    const { loader, log } = scoped({ tenantScoped: false, staleAfterMs: 10, retry: { attempts: 1 } });
    let fail = false;
    loader.register('k', async () => {
      if (fail) throw new Error('source down');
      return 1;
    });
    await loader.get('k');
    for (let i = 0; i < 3; i++) {
      await sleep(15);
      await loader.get('k');
      await sleep(1);
    }
    expect(loader.stats('k').staleServed).toBe(3);
    expect(log.warn).not.toHaveBeenCalled();
    expect(log.debug).toHaveBeenCalledTimes(3);
    expect(log.debug.mock.calls[0][0]).toMatch(/^Served a stale value of "k"/);
    fail = true;
    await sleep(15);
    await loader.get('k');
    await sleep(5);
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(log.warn.mock.calls[0][0]).toMatch(/^Refresh of "k" failed after 1 attempt/);
  });
});
