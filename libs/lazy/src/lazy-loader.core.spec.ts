import { TenantRequiredError } from '@reservoir/tenant/tenant.errors';
import type { LazyEvent } from './lazy.events';
import { LazyLoaderCore, registerLazyMethod, type LazyLoaderCoreDeps } from './lazy-loader.core';
import { LazyConfigError, LazyKeyError, LazyLoadError, LazyTimeoutError } from './lazy.errors';
import type { LazyModuleOptions } from './lazy.options';

const GLOBAL = { tenantScoped: false } as const;

function silentLogger() {
  return { log: jest.fn(), warn: jest.fn(), error: jest.fn() };
}

function make(options: LazyModuleOptions = {}, deps: LazyLoaderCoreDeps = {}) {
  const logger = silentLogger();
  const loader = new LazyLoaderCore(
    { tenantScoped: false, ...options },
    { logger, random: () => 1, ...deps },
  );
  const events: LazyEvent[] = [];
  loader.events$.subscribe((e) => events.push(e));
  return { loader, events, logger };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LazyLoaderCore', () => {
  afterEach(() => jest.useRealTimers());

  describe('QA-441 creation, configuration, registration, readiness', () => {
    it('creates with defaults, registers, and is ready without preloads', () => {
      const loader = new LazyLoaderCore();
      expect(loader.options).toMatchObject({
        ttlMs: Infinity,
        staleAfterMs: Infinity,
        refresh: 'background',
        serveStaleOnError: true,
        tenantScoped: true,
        maxEntries: 10_000,
        policy: 'lru',
        preloadConcurrency: 4,
        retry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 2000, factor: 2, jitter: 0.2 },
      });
      expect(loader.isRegistered('cfg')).toBe(false);
      loader.register('cfg', async () => 1, GLOBAL);
      expect(loader.isRegistered('cfg')).toBe(true);
      expect(loader.ready).toBe(true);
      expect(loader.version('cfg')).toBe(0);
      expect(loader.peek('cfg')).toBeUndefined();
    });

    it('is not ready until registered preloads have run', async () => {
      const { loader } = make();
      loader.register('a', async () => 'A', { preload: true });
      expect(loader.ready).toBe(false);
      await loader.preload();
      expect(loader.ready).toBe(true);
      expect(loader.peek('a')).toBe('A');
      expect(loader.stats('a').preload).toBe('done');
    });

    it('rejects a duplicate key and an unknown key', async () => {
      const { loader } = make();
      loader.register('a', async () => 1);
      expect(() => loader.register('a', async () => 2)).toThrow(LazyConfigError);
      await expect(loader.get('nope')).rejects.toBeInstanceOf(LazyKeyError);
    });
  });

  describe('QA-442 caching', () => {
    it('loads once for two accesses, then again on a forced reload, with correct data', async () => {
      const { loader } = make();
      let n = 0;
      const fn = jest.fn(async () => ({ n: ++n }));
      loader.register('cfg', fn);
      expect(await loader.get('cfg')).toEqual({ n: 1 });
      expect(await loader.get('cfg')).toEqual({ n: 1 });
      expect(fn).toHaveBeenCalledTimes(1);
      expect(await loader.reload('cfg')).toEqual({ n: 2 });
      expect(await loader.get('cfg')).toEqual({ n: 2 });
      expect(fn).toHaveBeenCalledTimes(2);
      expect(loader.version('cfg')).toBe(2);
      const s = loader.stats('cfg');
      expect(s).toMatchObject({ hits: 2, misses: 1, loads: 2, errors: 0 });
      expect(s.hitRatio).toBeCloseTo(2 / 3);
    });

    it('a hit returns a resolved promise without calling the loader and caches undefined values too', async () => {
      const { loader } = make();
      const fn = jest.fn(async () => undefined);
      loader.register('u', fn);
      await loader.get('u');
      await loader.get('u');
      expect(fn).toHaveBeenCalledTimes(1);
      expect(loader.version('u')).toBe(1);
    });

    it('a forced reload waits for an in-flight load, then loads again', async () => {
      const { loader } = make();
      let n = 0;
      loader.register('k', async () => {
        await sleep(5);
        return ++n;
      });
      const first = loader.get('k');
      const second = loader.reload('k');
      expect(await first).toBe(1);
      expect(await second).toBe(2);
    });
  });

  describe('single-flight', () => {
    it('10,000 concurrent callers on a cold key make exactly 1 loader call', async () => {
      const { loader } = make();
      const fn = jest.fn(async () => {
        await sleep(10);
        return 'v';
      });
      loader.register('cold', fn);
      const all = await Promise.all(Array.from({ length: 10_000 }, () => loader.get('cold')));
      expect(fn).toHaveBeenCalledTimes(1);
      expect(new Set(all)).toEqual(new Set(['v']));
      expect(loader.stats('cold')).toMatchObject({ misses: 10_000, coalesced: 9_999, loads: 1 });
    });
  });

  describe('QA-443 retry', () => {
    it('makes 3 attempts with backoff, then rejects with LazyLoadError and counts errors; nothing cached', async () => {
      jest.useFakeTimers();
      const { loader, events } = make({ retry: { initialDelayMs: 100, factor: 2, jitter: 0 } });
      const cause = new Error('db down');
      const fn = jest.fn(async () => {
        throw cause;
      });
      loader.register('cfg', fn);
      const p = loader.get('cfg');
      const caught = p.catch((e: unknown) => e);
      await jest.advanceTimersByTimeAsync(99);
      expect(fn).toHaveBeenCalledTimes(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(fn).toHaveBeenCalledTimes(2);
      await jest.advanceTimersByTimeAsync(200);
      const err = (await caught) as LazyLoadError;
      expect(fn).toHaveBeenCalledTimes(3);
      expect(err).toBeInstanceOf(LazyLoadError);
      expect(err.attempts).toBe(3);
      expect(err.cause).toBe(cause);
      expect(err.message).toContain('failed after 3 attempt(s); last error: Error: db down');
      expect(loader.stats('cfg')).toMatchObject({ errors: 3, retries: 2, failures: 1, loads: 0, entries: 0 });
      expect(loader.stats().total).toMatchObject({ errors: 3, retries: 2, failures: 1 });
      expect(events.filter((e) => e.type === 'retry').map((e) => (e as { delayMs: number }).delayMs)).toEqual(
        [100, 200],
      );
      expect(loader.version('cfg')).toBe(0);
      // not cached: the next call loads again
      fn.mockResolvedValueOnce(undefined as never);
      await expect(loader.get('cfg')).resolves.toBeUndefined();
      expect(fn).toHaveBeenCalledTimes(4);
    });

    it('bounds every loader call with loadTimeoutMs: a hung loader fails, is retried, and callers settle', async () => {
      jest.useFakeTimers();
      const { loader } = make({ loadTimeoutMs: 1_000, retry: { attempts: 2, initialDelayMs: 10 } });
      let calls = 0;
      loader.register('hung', () => {
        calls++;
        return new Promise<number>(() => undefined); // never settles
      });
      const callers = Array.from({ length: 3 }, () => loader.get<number>('hung').catch((e: unknown) => e));
      await jest.advanceTimersByTimeAsync(2_100);
      const errors = (await Promise.all(callers)) as LazyLoadError[];
      expect(calls).toBe(2);
      for (const err of errors) {
        expect(err).toBeInstanceOf(LazyLoadError);
        expect(err.attempts).toBe(2);
        expect(err.cause).toBeInstanceOf(LazyTimeoutError);
        expect((err.cause as Error).message).toContain('did not settle within 1000 ms (attempt 2)');
      }
      expect(loader.stats('hung')).toMatchObject({ errors: 2, loads: 0 });
    });

    it('applies jitter through backoffDelay and stops when retryIf says no', async () => {
      jest.useFakeTimers();
      const { loader, events } = make(
        { retry: { attempts: 5, initialDelayMs: 100, jitter: 1 } },
        { random: () => 0.5 },
      );
      const fatal = new Error('fatal');
      let calls = 0;
      loader.register(
        'x',
        async () => {
          calls++;
          throw calls === 1 ? new Error('flaky') : fatal;
        },
        { retry: { retryIf: (e) => (e as Error).message === 'flaky' } },
      );
      const caught = loader.get<never>('x').catch((e: unknown) => e as LazyLoadError);
      await jest.advanceTimersByTimeAsync(1000);
      const err = await caught;
      expect(calls).toBe(2);
      expect(err.attempts).toBe(2);
      expect(err.cause).toBe(fatal);
      expect((events.find((e) => e.type === 'retry') as { delayMs: number }).delayMs).toBe(50);
    });

    it('serves the earlier value when a reload fails (serveStaleOnError) and alerts', async () => {
      const { loader, events, logger } = make({ retry: { attempts: 1 } });
      let fail = false;
      loader.register('cfg', async () => {
        if (fail) throw new Error('boom');
        return 'v1';
      });
      await loader.get('cfg');
      fail = true;
      await expect(loader.reload('cfg')).resolves.toBe('v1');
      const alerts = events.filter((e) => e.type === 'alert').map((e) => (e as { alert: string }).alert);
      expect(alerts).toEqual(['refresh-failed', 'stale-served']);
      expect(logger.warn).toHaveBeenCalledTimes(2);
      expect(loader.stats('cfg')).toMatchObject({
        refreshFailures: 1,
        staleServed: 1,
        consecutiveFailures: 1,
      });
    });

    it('rejects a failed reload when serveStaleOnError is off', async () => {
      const { loader } = make({ retry: { attempts: 1 }, serveStaleOnError: false });
      let fail = false;
      loader.register('cfg', async () => {
        if (fail) throw new Error('boom');
        return 'v1';
      });
      await loader.get('cfg');
      fail = true;
      await expect(loader.reload('cfg')).rejects.toBeInstanceOf(LazyLoadError);
      expect(loader.peek('cfg')).toBe('v1');
    });

    it('close() makes a pending retry give up at once', async () => {
      const { loader } = make({ retry: { initialDelayMs: 60_000 } });
      loader.register('x', async () => {
        throw new Error('down');
      });
      const caught = loader.get<never>('x').catch((e: unknown) => e as LazyLoadError);
      await sleep(1);
      loader.close();
      expect((await caught).attempts).toBe(1);
    });
  });

  describe('QA-444 metrics', () => {
    it('tracks a 100 ms load as >= 0.1 s, with hit metrics, per resource and in total', async () => {
      jest.useFakeTimers();
      const { loader } = make();
      loader.register('slow', async () => {
        await sleep(100);
        return 42;
      });
      loader.register('other', async () => 1);
      const p = loader.get('slow');
      await jest.advanceTimersByTimeAsync(100);
      await p;
      await loader.get('slow');
      await loader.get('slow');
      await loader.get('other');
      const s = loader.stats('slow');
      expect(s.loadTime.lastMs).toBeGreaterThanOrEqual(100);
      expect(s.loadTime.p50Ms / 1000).toBeGreaterThanOrEqual(0.1);
      expect(s.loadTime.p99Ms).toBeGreaterThanOrEqual(100);
      expect(s).toMatchObject({ hits: 2, misses: 1, loads: 1, entries: 1 });
      const all = loader.stats();
      expect(all.total).toMatchObject({ hits: 2, misses: 2, loads: 2, entries: 2 });
      expect(all.total.hitRatio).toBeCloseTo(0.5);
      expect(all.total.loadTime.count).toBe(2);
      expect(all.resources.other.loads).toBe(1);
    });

    it('reports a load-time trend over the sliding window', async () => {
      jest.useFakeTimers();
      const { loader } = make({ staleAfterMs: 1, refresh: 'blocking' });
      let d = 10;
      loader.register('t', async () => {
        await sleep(d);
        d += 10;
        return d;
      });
      for (let i = 0; i < 5; i++) {
        const p = loader.get('t');
        await jest.advanceTimersByTimeAsync(1000);
        await p;
      }
      const trend = loader.stats('t').trend.loadTimeMs;
      expect(trend.points).toBe(5);
      expect(trend.direction).toBe('rising');
    });
  });

  describe('QA-445 consistency', () => {
    it('is stale after 2 s; background mode serves v1 at once, refreshes once to v2, and alerts', async () => {
      jest.useFakeTimers();
      const { loader, events } = make({ staleAfterMs: 2_000 });
      let n = 0;
      const fn = jest.fn(async () => {
        await sleep(50);
        return `v${++n}`;
      });
      loader.register('cfg', fn);
      const first = loader.get('cfg');
      await jest.advanceTimersByTimeAsync(50);
      expect(await first).toBe('v1');
      expect(loader.version('cfg')).toBe(1);
      expect(loader.isStale('cfg')).toBe(false);
      await jest.advanceTimersByTimeAsync(2_000);
      expect(loader.isStale('cfg')).toBe(true);
      const stale = await Promise.all([loader.get('cfg'), loader.get('cfg'), loader.get('cfg')]);
      expect(stale).toEqual(['v1', 'v1', 'v1']);
      await jest.advanceTimersByTimeAsync(50);
      expect(fn).toHaveBeenCalledTimes(2);
      expect(loader.version('cfg')).toBe(2);
      expect(loader.isStale('cfg')).toBe(false);
      expect(await loader.get('cfg')).toBe('v2');
      const alerts = events.filter((e) => e.type === 'alert');
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ alert: 'stale-served', key: 'cfg', version: 1 });
    });

    it('blocking mode waits for the fresh value', async () => {
      jest.useFakeTimers();
      const { loader } = make({ staleAfterMs: 2_000, refresh: 'blocking' });
      let n = 0;
      loader.register('cfg', async () => {
        await sleep(50);
        return `v${++n}`;
      });
      const p1 = loader.get('cfg');
      await jest.advanceTimersByTimeAsync(50);
      await p1;
      await jest.advanceTimersByTimeAsync(2_000);
      let settled: string | undefined;
      void loader.get<string>('cfg').then((v) => (settled = v));
      await jest.advanceTimersByTimeAsync(10);
      expect(settled).toBeUndefined();
      await jest.advanceTimersByTimeAsync(40);
      expect(settled).toBe('v2');
    });

    it('a failing background refresh alerts refresh-failed and keeps the stale value', async () => {
      jest.useFakeTimers();
      const { loader, events } = make({ staleAfterMs: 1_000, retry: { attempts: 1 } });
      let fail = false;
      loader.register('cfg', async () => {
        if (fail) throw new Error('source down');
        return 'v1';
      });
      await loader.get('cfg');
      fail = true;
      await jest.advanceTimersByTimeAsync(1_000);
      expect(await loader.get('cfg')).toBe('v1');
      await jest.advanceTimersByTimeAsync(0);
      const alerts = events.filter((e) => e.type === 'alert').map((e) => (e as { alert: string }).alert);
      expect(alerts).toEqual(['stale-served', 'refresh-failed']);
      expect(loader.stats('cfg').staleServingSince).toBeDefined();
      expect(loader.version('cfg')).toBe(1);
    });

    it('versionOf detects drift of the source under a cached value', async () => {
      const { loader, events } = make();
      let etag = 'a';
      loader.register('cfg', async () => ({ etag }), { versionOf: (v) => (v as { etag: string }).etag });
      await loader.get('cfg');
      await loader.reload('cfg');
      expect(events.filter((e) => e.type === 'alert')).toHaveLength(0);
      etag = 'b';
      await loader.reload('cfg');
      const drift = events.filter((e) => e.type === 'alert');
      expect(drift).toHaveLength(1);
      expect(drift[0]).toMatchObject({ alert: 'drift-detected', version: 3 });
      expect((drift[0] as { message: string }).message).toBe(
        'Source of "cfg" changed under a cached value: source version "a" -> "b" while the cached value was still considered fresh.',
      );
      expect(loader.stats('cfg').drifts).toBe(1);
    });

    it('ttlMs expires entries hard: the next access loads (no stale serving)', async () => {
      jest.useFakeTimers();
      const { loader } = make({ ttlMs: 1_000, serveStaleOnError: false });
      let n = 0;
      loader.register('t', async () => ++n);
      expect(await loader.get('t')).toBe(1);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(await loader.get('t')).toBe(2);
      expect(loader.stats('t')).toMatchObject({ loads: 2, misses: 2, hits: 0, entries: 1 });
    });

    it('an expired entry is still the fallback when its reload fails and serveStaleOnError is on', async () => {
      jest.useFakeTimers();
      const { loader } = make({ ttlMs: 1_000, retry: { attempts: 1 } });
      let fail = false;
      loader.register('t', async () => {
        if (fail) throw new Error('x');
        return 'old';
      });
      await loader.get('t');
      fail = true;
      await jest.advanceTimersByTimeAsync(1_000);
      expect(await loader.get('t')).toBe('old');
    });
  });

  describe('tenant isolation', () => {
    function tenantLoader() {
      let current: string | undefined;
      const run = async <T>(org: string | undefined, fn: () => Promise<T>): Promise<T> => {
        const prev = current;
        current = org;
        try {
          return await fn();
        } finally {
          current = prev;
        }
      };
      const loader = new LazyLoaderCore({}, { tenantResolver: () => current });
      return { loader, run };
    }

    it('namespaces keys by organisation, and rejects outside a tenant scope', async () => {
      const { loader, run } = tenantLoader();
      let calls = 0;
      loader.register('settings', async () => `settings#${++calls}`);
      expect(await run('a', () => loader.get('settings'))).toBe('settings#1');
      expect(await run('b', () => loader.get('settings'))).toBe('settings#2');
      expect(await run('a', () => loader.get('settings'))).toBe('settings#1');
      await expect(loader.get('settings')).rejects.toBeInstanceOf(TenantRequiredError);
      expect(loader.peek('settings', { organisationId: 'b' })).toBe('settings#2');
      expect(() => loader.peek('settings')).toThrow(TenantRequiredError);
    });

    it('tenantScoped: false is global', async () => {
      const { loader, run } = tenantLoader();
      const fn = jest.fn(async () => 'g');
      loader.register('global', fn, { tenantScoped: false });
      await run('a', () => loader.get('global'));
      await run('b', () => loader.get('global'));
      await loader.get('global');
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('invalidates one tenant, the current tenant, or all tenants', async () => {
      const { loader, run } = tenantLoader();
      loader.register('s', async () => 1);
      await run('a', () => loader.get('s'));
      await run('b', () => loader.get('s'));
      await run('c', () => loader.get('s'));
      expect(loader.invalidate('s', { organisationId: 'a' })).toBe(1);
      expect(loader.peek('s', { organisationId: 'a' })).toBeUndefined();
      expect(loader.peek('s', { organisationId: 'b' })).toBe(1);
      expect(await run('b', async () => loader.invalidate('s'))).toBe(1);
      expect(loader.peek('s', { organisationId: 'c' })).toBe(1);
      await run('a', () => loader.get('s'));
      expect(loader.invalidate('s', { allTenants: true })).toBe(2);
      expect(loader.stats('s')).toMatchObject({ entries: 0, invalidations: 4 });
    });

    it('an invalidate during a load keeps its result out of the cache', async () => {
      const { loader } = make();
      let n = 0;
      loader.register('k', async () => {
        await sleep(5);
        return ++n;
      });
      const p = loader.get('k');
      loader.invalidate('k');
      expect(await p).toBe(1);
      expect(loader.peek('k')).toBeUndefined();
      expect(await loader.get('k')).toBe(2);
    });
  });

  describe('eviction and bounded memory', () => {
    async function fill(loader: LazyLoaderCore, keys: string[]) {
      for (const k of keys) if (!loader.isRegistered(k)) loader.register(k, async () => k.toUpperCase());
      for (const k of keys) await loader.get(k);
    }

    it('lru: the least recently used entry leaves', async () => {
      const { loader, events } = make({ maxEntries: 3, policy: 'lru' });
      await fill(loader, ['a', 'b', 'c']);
      await loader.get('a');
      await fill(loader, ['d']);
      expect(loader.peek('b')).toBeUndefined();
      expect(['a', 'c', 'd'].map((k) => loader.peek(k))).toEqual(['A', 'C', 'D']);
      expect(loader.stats('b')).toMatchObject({ evictions: 1, entries: 0 });
      expect(events.filter((e) => e.type === 'eviction').map((e) => e.key)).toEqual(['b']);
    });

    it('lfu: the least frequently used entry leaves', async () => {
      const { loader } = make({ maxEntries: 3, policy: 'lfu' });
      await fill(loader, ['a', 'b', 'c']);
      for (let i = 0; i < 3; i++) await loader.get('a');
      await loader.get('b');
      await loader.get('c');
      await loader.get('c');
      await fill(loader, ['d']);
      expect(loader.peek('b')).toBeUndefined();
      expect(loader.stats('b').evictions).toBe(1);
      expect(['a', 'c', 'd'].map((k) => loader.peek(k))).toEqual(['A', 'C', 'D']);
    });

    it('ttl: the oldest write leaves, however often it is read', async () => {
      const { loader } = make({ maxEntries: 3, policy: 'ttl' });
      await fill(loader, ['a', 'b', 'c']);
      for (let i = 0; i < 5; i++) await loader.get('a');
      await fill(loader, ['d']);
      expect(loader.peek('a')).toBeUndefined();
      expect(['b', 'c', 'd'].map((k) => loader.peek(k))).toEqual(['B', 'C', 'D']);
    });

    it.each(['lru', 'lfu', 'ttl'] as const)('%s: memory stays bounded under key churn', async (policy) => {
      const loader = new LazyLoaderCore({ maxEntries: 100, policy });
      const tenants = Array.from({ length: 50 }, (_, i) => `t${i}`);
      let current: string | undefined;
      const scoped = new LazyLoaderCore({ maxEntries: 100, policy }, { tenantResolver: () => current });
      // a global resource with many entries through the decorator path
      const byId = registerLazyMethod(loader, 'R.byId', GLOBAL, async () => 1, undefined);
      scoped.register('r', async () => 1);
      for (let i = 0; i < 5_000; i++) {
        current = tenants[i % tenants.length];
        await scoped.get('r');
        await byId(`R.byId(${i})`, [i]);
      }
      const s = loader.stats();
      expect(s.total.entries).toBe(100);
      expect(s.resources['R.byId'].entries).toBe(100);
      expect(s.resources['R.byId'].evictions).toBe(4_900);
      expect(scoped.stats().total.entries).toBe(50);
    });
  });

  describe('preload', () => {
    it('runs preloads with a concurrency limit; an optional failure is logged and retried lazily', async () => {
      const { loader, logger } = make({ preloadConcurrency: 2, retry: { attempts: 1 } });
      let running = 0;
      let peak = 0;
      const slow = async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(5);
        running--;
        return 'ok';
      };
      for (const k of ['a', 'b', 'c', 'd']) loader.register(k, slow, { preload: true });
      let failing = true;
      loader.register(
        'opt',
        async () => {
          if (failing) throw new Error('not yet');
          return 'late';
        },
        { preload: true },
      );
      const report = await loader.preload();
      expect(peak).toBe(2);
      expect(report.loaded.sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(report.failed).toEqual(['opt']);
      expect(loader.ready).toBe(true);
      expect(logger.warn).toHaveBeenCalledWith(
        expect.stringContaining('Preload of lazy resource "opt" failed'),
      );
      failing = false;
      expect(await loader.get('opt')).toBe('late');
    });

    it('a required preload failure rejects preload() (fails startup)', async () => {
      const { loader, logger } = make({ retry: { attempts: 2, initialDelayMs: 1 } });
      loader.register(
        'must',
        async () => {
          throw new Error('no db');
        },
        { preload: true, required: true },
      );
      await expect(loader.preload()).rejects.toMatchObject({ name: 'LazyLoadError', attempts: 2 });
      expect(logger.error).toHaveBeenCalled();
    });
  });

  describe('events$', () => {
    it('emits hit/miss/load only while observed', async () => {
      const loader = new LazyLoaderCore({ tenantScoped: false });
      loader.register('k', async () => 1);
      await loader.get('k');
      const seen: string[] = [];
      const sub = loader.events$.subscribe((e) => seen.push(e.type));
      await loader.get('k');
      sub.unsubscribe();
      await loader.get('k');
      expect(seen).toEqual(['hit']);
    });
  });

  describe('CacheStore seam', () => {
    it('consults fetchRemote on a local miss before calling the loader', async () => {
      const map = new Map<string, unknown>();
      const remote = {
        value: 'from-remote',
        version: 7,
        resource: 'k',
        entryKey: 'k',
        organisationId: undefined,
        loadedAt: 0,
        staleAt: Infinity,
        expiresAt: Infinity,
        sourceVersion: undefined,
      };
      const store = {
        get size() {
          return map.size;
        },
        get: (k: string) => map.get(k) as never,
        peek: (k: string) => map.get(k) as never,
        set: (k: string, v: unknown) => void map.set(k, v),
        delete: (k: string) => map.delete(k),
        keys: () => map.keys(),
        clear: () => map.clear(),
        fetchRemote: jest.fn(async () => remote),
      };
      const loader = new LazyLoaderCore({ tenantScoped: false, store });
      const fn = jest.fn(async () => 'local');
      loader.register('k', fn);
      expect(await loader.get('k')).toBe('from-remote');
      expect(await loader.get('k')).toBe('from-remote');
      expect(fn).not.toHaveBeenCalled();
      expect(loader.version('k')).toBe(7);
      expect(loader.stats().policy).toBe('custom');
    });
  });
});
