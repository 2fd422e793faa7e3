import { LazyLoaderCore, registerLazyMethod } from './lazy-loader.core';
import { argumentKeyBuilder, customKeyBuilder } from './lazy-key';
import { LazyClosedError, LazyConfigError, LazyCrossTenantError, LazyKeyError } from './lazy.errors';
import { evaluateLazyHealth } from './lazy.health';

/** Pins the exact message of every invalid option and input (graphql/dataloader's abuse tests). */

const M = 'LazyModule.forRoot()';
const expectConfig = (fn: () => unknown, message: string) => {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(LazyConfigError);
  expect((thrown as Error).message).toBe(message);
  expect((thrown as Error).name).toBe('LazyConfigError');
};

describe('lazy abuse: module options', () => {
  const cases: [string, unknown, string][] = [
    [
      'options not an object',
      'fast',
      `Invalid lazy option "options" in ${M}: got "fast", expected an object.`,
    ],
    [
      'unknown key',
      { ttl: 5 },
      `Invalid lazy option "ttl" in ${M}: got 5, expected no such option; known options are ttlMs, staleAfterMs, refresh, loadTimeoutMs, retry, serveStaleOnError, tenantScoped, preload, required, versionOf, allowCrossTenant, maxEntries, policy, preloadConcurrency, store, versionSource, shared.`,
    ],
    [
      'shared not a tier',
      { shared: true },
      `Invalid lazy option "shared" in ${M}: got true, expected a shared tier (an object with a createStore method, e.g. new RedisTier({ url })).`,
    ],
    [
      'shared with store',
      { shared: { createStore: () => undefined }, store: new Map() },
      `Invalid lazy option "store" in ${M}: got {}, expected no store next to shared (the shared tier provides the store); remove one of them.`,
    ],
    [
      'ttlMs 0',
      { ttlMs: 0 },
      `Invalid lazy option "ttlMs" in ${M}: got 0, expected an integer >= 1 or Infinity.`,
    ],
    [
      'ttlMs string',
      { ttlMs: '5s' },
      `Invalid lazy option "ttlMs" in ${M}: got "5s", expected an integer >= 1 or Infinity.`,
    ],
    [
      'staleAfterMs negative',
      { staleAfterMs: -1 },
      `Invalid lazy option "staleAfterMs" in ${M}: got -1, expected an integer >= 1 or Infinity.`,
    ],
    [
      'staleAfterMs fractional',
      { staleAfterMs: 1.5 },
      `Invalid lazy option "staleAfterMs" in ${M}: got 1.5, expected an integer >= 1 or Infinity.`,
    ],
    [
      'refresh',
      { refresh: 'lazy' },
      `Invalid lazy option "refresh" in ${M}: got "lazy", expected one of 'background', 'blocking'.`,
    ],
    ['retry not object', { retry: 3 }, `Invalid lazy option "retry" in ${M}: got 3, expected an object.`],
    [
      'retry unknown key',
      { retry: { tries: 3 } },
      `Invalid lazy option "retry.tries" in ${M}: got 3, expected no such option; known options are attempts, initialDelayMs, maxDelayMs, factor, jitter, retryIf.`,
    ],
    [
      'retry.attempts 0',
      { retry: { attempts: 0 } },
      `Invalid lazy option "retry.attempts" in ${M}: got 0, expected an integer >= 1 and <= 100.`,
    ],
    [
      'retry.attempts 101',
      { retry: { attempts: 101 } },
      `Invalid lazy option "retry.attempts" in ${M}: got 101, expected an integer >= 1 and <= 100.`,
    ],
    [
      'retry.initialDelayMs',
      { retry: { initialDelayMs: -5 } },
      `Invalid lazy option "retry.initialDelayMs" in ${M}: got -5, expected an integer >= 0.`,
    ],
    [
      'retry.maxDelayMs',
      { retry: { maxDelayMs: Infinity } },
      `Invalid lazy option "retry.maxDelayMs" in ${M}: got Infinity, expected an integer >= 0.`,
    ],
    [
      'retry.factor',
      { retry: { factor: 0.5 } },
      `Invalid lazy option "retry.factor" in ${M}: got 0.5, expected a finite number >= 1.`,
    ],
    [
      'retry.jitter',
      { retry: { jitter: 2 } },
      `Invalid lazy option "retry.jitter" in ${M}: got 2, expected a finite number >= 0 and <= 1.`,
    ],
    [
      'retry.retryIf',
      { retry: { retryIf: true } },
      `Invalid lazy option "retry.retryIf" in ${M}: got true, expected a function.`,
    ],
    [
      'serveStaleOnError',
      { serveStaleOnError: 'yes' },
      `Invalid lazy option "serveStaleOnError" in ${M}: got "yes", expected true or false.`,
    ],
    [
      'tenantScoped',
      { tenantScoped: 1 },
      `Invalid lazy option "tenantScoped" in ${M}: got 1, expected true or false.`,
    ],
    [
      'preload',
      { preload: 'on' },
      `Invalid lazy option "preload" in ${M}: got "on", expected true or false.`,
    ],
    [
      'required',
      { required: null },
      `Invalid lazy option "required" in ${M}: got null, expected true or false.`,
    ],
    [
      'loadTimeoutMs 0',
      { loadTimeoutMs: 0 },
      `Invalid lazy option "loadTimeoutMs" in ${M}: got 0, expected an integer >= 1 and <= 2147483647 or Infinity.`,
    ],
    [
      'versionOf',
      { versionOf: 'etag' },
      `Invalid lazy option "versionOf" in ${M}: got "etag", expected a function.`,
    ],
    [
      'preload with tenantScoped',
      { preload: true, tenantScoped: true },
      `Invalid lazy option "preload" in ${M}: got true, expected false while tenantScoped is true (a preload runs at bootstrap, outside any tenant scope); set tenantScoped: false for a preloaded resource.`,
    ],
    [
      'maxEntries 0',
      { maxEntries: 0 },
      `Invalid lazy option "maxEntries" in ${M}: got 0, expected an integer >= 1.`,
    ],
    [
      'maxEntries Infinity',
      { maxEntries: Infinity },
      `Invalid lazy option "maxEntries" in ${M}: got Infinity, expected an integer >= 1.`,
    ],
    [
      'policy',
      { policy: 'fifo' },
      `Invalid lazy option "policy" in ${M}: got "fifo", expected one of 'lru', 'lfu', 'ttl'.`,
    ],
    [
      'preloadConcurrency',
      { preloadConcurrency: 0 },
      `Invalid lazy option "preloadConcurrency" in ${M}: got 0, expected an integer >= 1 and <= 1000.`,
    ],
    [
      'store',
      { store: new Map() },
      `Invalid lazy option "store" in ${M}: got {}, expected a CacheStore (an object with get, peek, set, delete, keys and clear methods).`,
    ],
  ];
  it.each(cases)('%s', (_name, options, message) => {
    expectConfig(() => new LazyLoaderCore(options as never), message);
  });

  it('undefined values mean "not set"', () => {
    expect(
      new LazyLoaderCore({ ttlMs: undefined, retry: { attempts: undefined } }).options.retry.attempts,
    ).toBe(3);
  });
});

describe('lazy abuse: register()', () => {
  const loader = new LazyLoaderCore({ tenantScoped: false });
  it('rejects a bad key, a non-function loader, unknown and invalid options, duplicates', () => {
    expect(() => loader.register('', async () => 1)).toThrow(
      new LazyKeyError('LazyLoader.register() needs a non-empty string key, got "".'),
    );
    expectConfig(
      () => loader.register('a', 'nope' as never),
      'Invalid lazy option "loader" in LazyLoader.register("a"): got "nope", expected a function.',
    );
    expectConfig(
      () => loader.register('a', async () => 1, { key: () => 'x' } as never),
      'Invalid lazy option "key" in LazyLoader.register("a"): got function key, expected no such option; known options are ttlMs, staleAfterMs, refresh, loadTimeoutMs, retry, serveStaleOnError, tenantScoped, preload, required, versionOf, allowCrossTenant, shared.',
    );
    expectConfig(
      () => loader.register('a', async () => 1, { retry: { attempts: 1.5 } }),
      'Invalid lazy option "retry.attempts" in LazyLoader.register("a"): got 1.5, expected an integer >= 1 and <= 100.',
    );
    expectConfig(
      () => loader.register('a', async () => 1, { tenantScoped: true, preload: true }),
      'Invalid lazy option "preload" in LazyLoader.register("a"): got true, expected false while tenantScoped is true (a preload runs at bootstrap, outside any tenant scope); set tenantScoped: false for a preloaded resource.',
    );
    loader.register('a', async () => 1);
    expectConfig(
      () => loader.register('a', async () => 1),
      'A lazy resource is already registered under "a". Keys must be unique: pick another key, or use isRegistered("a") before registering.',
    );
  });

  it('decorated methods: unknown keys, bad key fn, preload with parameters', () => {
    expectConfig(
      () => registerLazyMethod(loader, 'Svc.m', { ttl: 1 }, async () => 1, {}),
      'Invalid lazy option "ttl" in @LazyResource() on Svc.m: got 1, expected no such option; known options are ttlMs, staleAfterMs, refresh, loadTimeoutMs, retry, serveStaleOnError, tenantScoped, preload, required, versionOf, allowCrossTenant, shared, key.',
    );
    expectConfig(
      () => registerLazyMethod(loader, 'Svc.k', { key: 'id' }, async () => 1, {}),
      'Invalid lazy option "key" in @LazyResource() on Svc.k: got "id", expected a function.',
    );
    expectConfig(
      () => registerLazyMethod(loader, 'Svc.p', { preload: true }, async (_id: string) => 1, {}),
      '@LazyResource() on Svc.p sets preload: true, but the method takes 1 parameter(s). A preload calls the method without arguments at bootstrap: remove preload, or give the method no parameters.',
    );
  });
});

describe('lazy abuse: reads and invalidate', () => {
  const loader = new LazyLoaderCore({}, { tenantResolver: () => undefined });
  loader.register('scoped', async () => 1);

  it('an unknown key', async () => {
    await expect(loader.get('missing')).rejects.toThrow(
      new LazyKeyError(
        'No lazy resource is registered under "missing". Call LazyLoader.register("missing", loader) first, or decorate a provider method with @LazyResource().',
      ),
    );
    expect(() => loader.version('missing')).toThrow('No lazy resource is registered under "missing".');
    expect(() => loader.stats('missing')).toThrow('No lazy resource is registered under "missing".');
  });

  it('a tenant-scoped resource outside a tenant scope', async () => {
    const message =
      'Lazy resource "scoped" is tenant-scoped, but no tenant is in scope. Call it inside TenantContext.run() or a request that carries a tenant, or set tenantScoped: false if its value is the same for every organisation.';
    await expect(loader.get('scoped')).rejects.toMatchObject({ name: 'TenantRequiredError', message });
    expect(() => loader.isStale('scoped')).toThrow(message);
  });

  it('bad keys and invalidate targets', () => {
    expect(() => loader.peek(42 as never)).toThrow('LazyLoader.peek() needs a non-empty string key, got 42.');
    expect(() => loader.register('a\u0000b', async () => 1)).toThrow(
      new LazyKeyError(
        'LazyLoader.register() got a key with a NUL character ("a\\u0000b"); lazy keys may not contain "\\u0000", which separates the organisation from the key.',
      ),
    );
    expectConfig(
      () => loader.peek('scoped', { organisationId: 42 } as never),
      'Invalid lazy option "options" in LazyLoader.peek(): got {"organisationId":42}, expected an object with optional organisationId (a non-empty string) and allowCrossTenant (a boolean).',
    );
    expect(() => loader.invalidate('')).toThrow(
      'LazyLoader.invalidate() needs a non-empty string key, got "".',
    );
    expectConfig(
      () => loader.invalidate('scoped', { organisationId: 'a', allTenants: true }),
      'Invalid lazy option "options" in LazyLoader.invalidate(): got {"organisationId":"a","allTenants":true}, expected either organisationId or allTenants, not both.',
    );
  });

  it('reload of a decorated entry with arguments names the registered method, not "not registered"', async () => {
    registerLazyMethod(loader, 'Svc.byId', {}, async (_id: string) => 1, {});
    await expect(loader.reload('Svc.byId("x")', { organisationId: 'a' })).rejects.toThrow(
      new LazyKeyError(
        'LazyLoader.reload("Svc.byId("x")"): "Svc.byId" is a @LazyResource() method, and reload() can only call it without arguments ("Svc.byId()"). To refresh the entry for these arguments, call invalidate("Svc.byId("x")") and then the method again.',
      ),
    );
  });

  it('another organisation from inside a tenant scope, and a closed loader', async () => {
    let current: string | undefined = 'acme';
    const scoped = new LazyLoaderCore({}, { tenantResolver: () => current });
    scoped.register('settings', async () => 1);
    const message =
      'Lazy resource "settings" was asked for organisation "beta" from inside organisation "acme"\'s tenant scope; reaching across tenants is refused by default. Drop organisationId to use the current tenant, or, in trusted code such as an admin job, pass { allowCrossTenant: true } to this call or set allowCrossTenant: true on the resource.';
    await expect(scoped.get('settings', { organisationId: 'beta' })).rejects.toThrow(
      new LazyCrossTenantError(message, 'settings', 'acme', 'beta'),
    );
    await expect(scoped.reload('settings', { organisationId: 'beta' })).rejects.toMatchObject({
      name: 'LazyCrossTenantError',
      message,
      currentOrganisationId: 'acme',
      requestedOrganisationId: 'beta',
    });
    current = undefined;
    scoped.close();
    const closed = 'LazyLoader is closed (the application is shutting down); "settings" was not loaded.';
    await expect(scoped.get('settings', { organisationId: 'beta' })).rejects.toThrow(
      new LazyClosedError(closed, 'settings'),
    );
    await expect(scoped.reload('settings', { organisationId: 'beta' })).rejects.toMatchObject({
      name: 'LazyClosedError',
      message: closed,
    });
  });
});

describe('lazy abuse: decorated method arguments', () => {
  const key = argumentKeyBuilder('Svc.find');
  const cases: [string, unknown, string][] = [
    [
      'a function',
      () => 1,
      'argument 0 (function (anonymous)) cannot be serialized into a cache key: it is a function',
    ],
    ['a symbol', Symbol('s'), 'argument 0 (Symbol(s)) cannot be serialized into a cache key: it is a symbol'],
    [
      'a Map',
      new Map(),
      'argument 0 ({}) cannot be serialized into a cache key: it contains a Map instance; only primitives, plain objects, arrays and Dates are serialized',
    ],
    [
      'a nested class instance',
      { at: new (class Point {})() },
      'argument 0 ({"at":{}}) cannot be serialized into a cache key: it contains a Point instance; only primitives, plain objects, arrays and Dates are serialized',
    ],
    [
      'an invalid Date',
      new Date(NaN),
      'argument 0 (null) cannot be serialized into a cache key: it is an invalid Date',
    ],
  ];
  it.each(cases)('rejects %s naming the method', (_n, arg, fragment) => {
    expect(() => key([arg])).toThrow(
      new LazyKeyError(
        `@LazyResource() on Svc.find: ${fragment}. Pass { key: (...args) => string } to @LazyResource() to build the key yourself.`,
      ),
    );
  });

  it('rejects a circular argument', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => key(['ok', a])).toThrow(
      '@LazyResource() on Svc.find: argument 1 ([object Object]) cannot be serialized into a cache key: it contains a circular reference.',
    );
  });

  it('serializes stably: key order, types, dates, nesting', () => {
    expect(key([])).toBe('Svc.find()');
    expect(key(['1'])).toBe('Svc.find("1")');
    expect(key([1])).toBe('Svc.find(1)');
    expect(key([{ b: 2, a: [1, null, undefined] }, 10n, true])).toBe(
      'Svc.find({"a":[1,null,undefined],"b":2},10n,true)',
    );
    expect(key([{ a: 1, b: 2 }])).toBe(key([{ b: 2, a: 1 }]));
    expect(key([new Date(0)])).toBe('Svc.find(Date(1970-01-01T00:00:00.000Z))');
  });

  it('a key function must return a non-empty string', () => {
    const custom = customKeyBuilder('Svc.find', (() => 42) as never);
    expect(() => custom(['x'])).toThrow(
      new LazyKeyError(
        '@LazyResource() on Svc.find: the key() function must return a non-empty string without NUL characters ("\\u0000"), got 42.',
      ),
    );
  });
});

describe('lazy abuse: health check options', () => {
  const loader = new LazyLoaderCore({ tenantScoped: false });
  it('pins the messages', () => {
    expectConfig(
      () => evaluateLazyHealth(loader, { staleGraceMs: -1 }),
      'Invalid lazy option "staleGraceMs" in LazyHealthIndicator.isHealthy(): got -1, expected an integer >= 0.',
    );
    expectConfig(
      () => evaluateLazyHealth(loader, { threshold: 1 } as never),
      'Invalid lazy option "threshold" in LazyHealthIndicator.isHealthy(): got 1, expected no such option; known options are staleGraceMs, failureThreshold.',
    );
  });
});
