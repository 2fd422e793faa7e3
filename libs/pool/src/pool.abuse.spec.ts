/**
 * Abuse spec (graphql/dataloader style): pins the exact error for each invalid option, so a message
 * only changes on purpose. Every one names the option, the value given and what is allowed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from './pool';
import { POOL_DEFAULTS } from './pool.defaults';
import { PoolConfigError } from './pool.errors';
import { pgTenantBinding } from './pg-tenant-binding';
import { AutoSizeOptions } from './autosize/autosize.options';
import { PoolOptions } from './pool.types';
import { resolvePoolOptions } from './pool.options';

const factory = { create: async () => ({}), destroy: () => undefined };

const cases: [string, unknown, string][] = [
  ['not an object', null, 'Pool "default": invalid option "options": given null, expected an object.'],
  [
    'unknown key',
    { factory, maxx: 5 },
    'Pool "default": unknown option "maxx" (given 5); known options are name, factory, min, max, acquireTimeoutMs, createTimeoutMs, idleTimeoutMs, maxLifetimeMs, maxLifetimeJitter, validateAfterIdleMs, maxWaiting, leakDetectionMs, createRetry, shutdownTimeoutMs, health, maintenanceIntervalMs, tenantResolver, requireTenant, tenantBinding, maxPerTenant, maxTrackedTenants, logger, metricsTracker, autoSize.',
  ],
  ['no factory', {}, 'Pool "default": invalid option "factory": given undefined, expected an object.'],
  [
    'factory.create missing',
    { factory: { destroy: () => undefined } },
    'Pool "default": invalid option "factory.create": given undefined, expected a function.',
  ],
  [
    'factory.destroy not fn',
    { factory: { create: factory.create, destroy: 1 } },
    'Pool "default": invalid option "factory.destroy": given 1, expected a function.',
  ],
  [
    'factory.validate not fn',
    { factory: { ...factory, validate: true } },
    'Pool "default": invalid option "factory.validate": given true, expected a function.',
  ],
  [
    'name empty',
    { factory, name: '' },
    'Pool "default": invalid option "name": given "", expected a non-empty string.',
  ],
  [
    'min negative',
    { factory, min: -1 },
    'Pool "default": invalid option "min": given -1, expected an integer >= 0 and <= 10000.',
  ],
  [
    'max 0',
    { factory, max: 0 },
    'Pool "default": invalid option "max": given 0, expected an integer >= 1 and <= 10000.',
  ],
  [
    'max float',
    { factory, max: 2.5 },
    'Pool "default": invalid option "max": given 2.5, expected an integer >= 1 and <= 10000.',
  ],
  [
    'min > max',
    { factory, name: 'orders', min: 5, max: 2 },
    'Pool "orders": invalid option "min": given 5, expected an integer <= max (2).',
  ],
  [
    'acquireTimeoutMs 0',
    { factory, acquireTimeoutMs: 0 },
    'Pool "default": invalid option "acquireTimeoutMs": given 0, expected an integer >= 1 and <= 2147483647.',
  ],
  [
    'acquireTimeoutMs Infinity',
    { factory, acquireTimeoutMs: Infinity },
    'Pool "default": invalid option "acquireTimeoutMs": given Infinity, expected an integer >= 1 and <= 2147483647.',
  ],
  [
    'createTimeoutMs string',
    { factory, createTimeoutMs: '1000' },
    'Pool "default": invalid option "createTimeoutMs": given "1000", expected an integer >= 1 and <= 2147483647.',
  ],
  [
    'idleTimeoutMs -1',
    { factory, idleTimeoutMs: -1 },
    'Pool "default": invalid option "idleTimeoutMs": given -1, expected an integer >= 0.',
  ],
  [
    'maxLifetimeMs NaN',
    { factory, maxLifetimeMs: NaN },
    'Pool "default": invalid option "maxLifetimeMs": given NaN, expected an integer >= 0.',
  ],
  [
    'maxLifetimeJitter 0.9',
    { factory, maxLifetimeJitter: 0.9 },
    'Pool "default": invalid option "maxLifetimeJitter": given 0.9, expected a finite number >= 0 and <= 0.5.',
  ],
  [
    'validateAfterIdleMs -5',
    { factory, validateAfterIdleMs: -5 },
    'Pool "default": invalid option "validateAfterIdleMs": given -5, expected an integer >= 0.',
  ],
  [
    'maxWaiting -1',
    { factory, maxWaiting: -1 },
    'Pool "default": invalid option "maxWaiting": given -1, expected an integer >= 0 or Infinity.',
  ],
  [
    'leakDetectionMs true',
    { factory, leakDetectionMs: true },
    'Pool "default": invalid option "leakDetectionMs": given true, expected an integer >= 0.',
  ],
  [
    'shutdownTimeoutMs -1',
    { factory, shutdownTimeoutMs: -1 },
    'Pool "default": invalid option "shutdownTimeoutMs": given -1, expected an integer >= 0 and <= 2147483647.',
  ],
  [
    'maintenanceIntervalMs 1',
    { factory, maintenanceIntervalMs: 1 },
    'Pool "default": invalid option "maintenanceIntervalMs": given 1, expected an integer >= 10 and <= 2147483647.',
  ],
  [
    'createRetry not object',
    { factory, createRetry: 5 },
    'Pool "default": invalid option "createRetry": given 5, expected an object.',
  ],
  [
    'createRetry unknown',
    { factory, createRetry: { delay: 5 } },
    'Pool "default": unknown option "createRetry.delay" (given 5); known options are initialDelayMs, maxDelayMs, factor, jitter.',
  ],
  [
    'createRetry.initialDelayMs 0',
    { factory, createRetry: { initialDelayMs: 0 } },
    'Pool "default": invalid option "createRetry.initialDelayMs": given 0, expected an integer >= 1 and <= 2147483647.',
  ],
  [
    'createRetry.maxDelayMs < initial',
    { factory, createRetry: { initialDelayMs: 100, maxDelayMs: 50 } },
    'Pool "default": invalid option "createRetry.maxDelayMs": given 50, expected an integer >= initialDelayMs (100).',
  ],
  [
    'createRetry.factor 0.5',
    { factory, createRetry: { factor: 0.5 } },
    'Pool "default": invalid option "createRetry.factor": given 0.5, expected a finite number >= 1 and <= 100.',
  ],
  [
    'createRetry.jitter 2',
    { factory, createRetry: { jitter: 2 } },
    'Pool "default": invalid option "createRetry.jitter": given 2, expected a finite number >= 0 and <= 1.',
  ],
  [
    'health unknown',
    { factory, health: { degraded: 0.5 } },
    'Pool "default": unknown option "health.degraded" (given 0.5); known options are degradedUtilization, unhealthyUtilization, degradedWaitP99Ms, unhealthyTimeouts, unhealthyCreateFailures, windowMs, failingAfterMs.',
  ],
  [
    'health.degradedUtilization -0.1',
    { factory, health: { degradedUtilization: -0.1 } },
    'Pool "default": invalid option "health.degradedUtilization": given -0.1, expected a number >= 0 (1 = every resource in use), or Infinity to disable.',
  ],
  [
    'health.unhealthyUtilization string',
    { factory, health: { unhealthyUtilization: '1' } },
    'Pool "default": invalid option "health.unhealthyUtilization": given "1", expected a number >= 0 (1 = every resource in use), or Infinity to disable.',
  ],
  [
    'health.degradedWaitP99Ms -1',
    { factory, health: { degradedWaitP99Ms: -1 } },
    'Pool "default": invalid option "health.degradedWaitP99Ms": given -1, expected an integer >= 0 or Infinity.',
  ],
  [
    'health.unhealthyTimeouts 1.5',
    { factory, health: { unhealthyTimeouts: 1.5 } },
    'Pool "default": invalid option "health.unhealthyTimeouts": given 1.5, expected an integer >= 0 and <= 10000.',
  ],
  [
    'health.unhealthyCreateFailures 0',
    { factory, health: { unhealthyCreateFailures: 0 } },
    'Pool "default": invalid option "health.unhealthyCreateFailures": given 0, expected an integer >= 1 or Infinity.',
  ],
  [
    'health.windowMs 0',
    { factory, health: { windowMs: 0 } },
    'Pool "default": invalid option "health.windowMs": given 0, expected an integer >= 1 and <= 2147483647.',
  ],
  [
    'tenantResolver string',
    { factory, tenantResolver: 'x-org' },
    'Pool "default": invalid option "tenantResolver": given "x-org", expected a function.',
  ],
  [
    'requireTenant yes',
    { factory, requireTenant: 'yes' },
    'Pool "default": invalid option "requireTenant": given "yes", expected true or false.',
  ],
  [
    'tenantBinding no unbind',
    { factory, tenantBinding: { bind: () => undefined } },
    'Pool "default": invalid option "tenantBinding.unbind": given undefined, expected a function.',
  ],
  [
    'tenantBinding.unbindOnRelease 1',
    { factory, tenantBinding: { bind: () => undefined, unbind: () => undefined, unbindOnRelease: 1 } },
    'Pool "default": invalid option "tenantBinding.unbindOnRelease": given 1, expected true or false.',
  ],
  [
    'maxPerTenant 0',
    { factory, maxPerTenant: 0 },
    'Pool "default": invalid option "maxPerTenant": given 0, expected an integer >= 1 or Infinity.',
  ],
  [
    'maxTrackedTenants 0',
    { factory, maxTrackedTenants: 0 },
    'Pool "default": invalid option "maxTrackedTenants": given 0, expected an integer >= 1 and <= 1000000.',
  ],
  [
    'logger no warn',
    { factory, logger: { log: () => undefined, error: () => undefined } },
    'Pool "default": invalid option "logger.warn": given undefined, expected a function.',
  ],
  [
    'autoSize not boolean or object',
    { factory, autoSize: 'yes' },
    'Pool "default": invalid option "autoSize": given "yes", expected true, false or an object (AutoSizeOptions).',
  ],
  [
    'autoSize unknown key',
    { factory, autoSize: { window: 5 } },
    'Pool "default": unknown option "autoSize.window" (given 5); known options are windowMs, initialLimit, demandWaitP95Ms, growAfterWindows, congestionRatio, baselineAlpha, baselineDrift, minHoldSamples, backoffFactor, cooldownWindows, littleSafety, decayAfterMs, decayFactor, fleet.',
  ],
  [
    'autoSize.windowMs too small',
    { factory, autoSize: { windowMs: 5 } },
    'Pool "default": invalid option "autoSize.windowMs": given 5, expected an integer >= 10 and <= 2147483647.',
  ],
  [
    'autoSize.initialLimit above max',
    { factory, max: 8, autoSize: { initialLimit: 9 } },
    'Pool "default": invalid option "autoSize.initialLimit": given 9, expected an integer >= 1 and <= 8.',
  ],
  [
    'autoSize.initialLimit below min',
    { factory, min: 3, max: 8, autoSize: { initialLimit: 2 } },
    'Pool "default": invalid option "autoSize.initialLimit": given 2, expected an integer >= 3 and <= 8.',
  ],
  [
    'autoSize.backoffFactor 1 (would never back off)',
    { factory, autoSize: { backoffFactor: 1 } },
    'Pool "default": invalid option "autoSize.backoffFactor": given 1, expected a finite number >= 0.1 and <= 0.99.',
  ],
  [
    'autoSize.congestionRatio below 1',
    { factory, autoSize: { congestionRatio: 0.9 } },
    'Pool "default": invalid option "autoSize.congestionRatio": given 0.9, expected a finite number >= 1 and <= 100.',
  ],
  [
    'autoSize.growAfterWindows 0',
    { factory, autoSize: { growAfterWindows: 0 } },
    'Pool "default": invalid option "autoSize.growAfterWindows": given 0, expected an integer >= 1 and <= 1000.',
  ],
  [
    'autoSize.littleSafety NaN',
    { factory, autoSize: { littleSafety: NaN } },
    'Pool "default": invalid option "autoSize.littleSafety": given NaN, expected a finite number >= 0 and <= 100.',
  ],
  [
    'autoSize.decayFactor 0',
    { factory, autoSize: { decayFactor: 0 } },
    'Pool "default": invalid option "autoSize.decayFactor": given 0, expected a finite number >= 0.01 and <= 1.',
  ],
  [
    'autoSize.fleet not an object',
    { factory, autoSize: { fleet: 'redis://x' } },
    'Pool "default": invalid option "autoSize.fleet": given "redis://x", expected an object.',
  ],
  [
    'autoSize.fleet unknown key',
    {
      factory,
      autoSize: { fleet: { ...{ redis: 'redis://127.0.0.1:1', key: 'k', maxConnections: 10 }, ttl: 5 } },
    },
    'Pool "default": unknown option "autoSize.fleet.ttl" (given 5); known options are redis, key, maxConnections, leaseTtlMs, renewIntervalMs, timeoutMs, instanceId.',
  ],
  [
    'autoSize.fleet.redis missing',
    { factory, autoSize: { fleet: { key: 'k', maxConnections: 10 } } },
    'Pool "default": invalid option "autoSize.fleet.redis": given undefined, expected a redis:// or rediss:// URL, or an ioredis client (an object with eval).',
  ],
  [
    'autoSize.fleet.redis not a URL',
    {
      factory,
      autoSize: {
        fleet: { ...{ redis: 'redis://127.0.0.1:1', key: 'k', maxConnections: 10 }, redis: 'localhost:6379' },
      },
    },
    'Pool "default": invalid option "autoSize.fleet.redis": given "localhost:6379", expected a redis:// or rediss:// URL, or an ioredis client (an object with eval).',
  ],
  [
    'autoSize.fleet.key empty',
    {
      factory,
      autoSize: { fleet: { ...{ redis: 'redis://127.0.0.1:1', key: 'k', maxConnections: 10 }, key: '' } },
    },
    'Pool "default": invalid option "autoSize.fleet.key": given "", expected a non-empty string.',
  ],
  [
    'autoSize.fleet.maxConnections below min',
    {
      factory,
      min: 4,
      autoSize: {
        fleet: { ...{ redis: 'redis://127.0.0.1:1', key: 'k', maxConnections: 10 }, maxConnections: 3 },
      },
    },
    'Pool "default": invalid option "autoSize.fleet.maxConnections": given 3, expected an integer >= 4 and <= 1000000.',
  ],
  [
    'autoSize.fleet.leaseTtlMs too small',
    {
      factory,
      autoSize: {
        fleet: { ...{ redis: 'redis://127.0.0.1:1', key: 'k', maxConnections: 10 }, leaseTtlMs: 50 },
      },
    },
    'Pool "default": invalid option "autoSize.fleet.leaseTtlMs": given 50, expected an integer >= 100 and <= 2147483647.',
  ],
  [
    'autoSize.fleet.renewIntervalMs above half the TTL',
    {
      factory,
      autoSize: {
        fleet: {
          ...{ redis: 'redis://127.0.0.1:1', key: 'k', maxConnections: 10 },
          leaseTtlMs: 1000,
          renewIntervalMs: 600,
        },
      },
    },
    'Pool "default": invalid option "autoSize.fleet.renewIntervalMs": given 600, expected an integer >= 10 and <= 500.',
  ],
  [
    'autoSize.fleet.timeoutMs above half the TTL',
    {
      factory,
      autoSize: {
        fleet: {
          ...{ redis: 'redis://127.0.0.1:1', key: 'k', maxConnections: 10 },
          leaseTtlMs: 1000,
          timeoutMs: 501,
        },
      },
    },
    'Pool "default": invalid option "autoSize.fleet.timeoutMs": given 501, expected an integer >= 10 and <= 500.',
  ],
];

describe('Pool options abuse', () => {
  it.each(cases)('%s', (_name, options, message) => {
    let error: unknown;
    try {
      new Pool(options as PoolOptions<object>);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PoolConfigError);
    expect((error as PoolConfigError).message).toBe(message);
  });

  it('exposes the option and the value on the error', () => {
    try {
      new Pool({ factory, max: 0 });
      throw new Error('expected a PoolConfigError');
    } catch (e) {
      expect(e).toMatchObject({ name: 'PoolConfigError', pool: 'default', option: 'max', given: 0 });
    }
  });

  it('treats undefined values as "not given"', async () => {
    const pool = new Pool({ factory, max: undefined, health: undefined, createRetry: undefined });
    expect(pool.stats().max).toBe(POOL_DEFAULTS.max);
    await pool.close();
  });

  it('POOL_DEFAULTS is read off the option classes and is exactly what the validator applies', () => {
    const resolved = resolvePoolOptions({ factory }) as unknown as Record<string, unknown>;
    const defaults = POOL_DEFAULTS as unknown as Record<string, unknown>;
    expect(Object.keys(defaults)).toEqual(
      Object.keys(new PoolOptions<unknown>()).filter(
        (k) => (new PoolOptions<unknown>() as unknown as Record<string, unknown>)[k] !== undefined,
      ),
    );
    for (const key of Object.keys(defaults)) {
      // autoSize: false resolves to "off" (undefined); every other default is applied as declared.
      const applied = key === 'autoSize' ? resolved.autoSize !== undefined : resolved[key];
      expect({ key, applied }).toEqual({ key, applied: defaults[key] });
    }
    expect(Object.isFrozen(POOL_DEFAULTS) && Object.isFrozen(POOL_DEFAULTS.health)).toBe(true);
  });

  it('accepts every declared option (a spread option instance is valid input)', async () => {
    const pool = new Pool<object>({ ...new PoolOptions<object>(), factory, name: 'spread' });
    expect(pool.stats()).toMatchObject({ max: POOL_DEFAULTS.max, min: POOL_DEFAULTS.min });
    await pool.close();
  });
});

describe('AutoSizeOptions defaults', () => {
  it('the @default values documented in autosize.options.ts are the class initialisers', () => {
    const src = readFileSync(join(__dirname, 'autosize', 'autosize.options.ts'), 'utf8');
    const re = /@default ([^*\n]+?)\s*\*\/\s*\n\s*(\w+)\?: \w+ = ([^;]+);/g;
    const defaults = new AutoSizeOptions() as Record<string, unknown>;
    let n = 0;
    for (let m = re.exec(src); m !== null; m = re.exec(src), n++) {
      const [, doc, key, init] = m;
      expect(`${key}=${String(defaults[key])}`).toBe(`${key}=${init.replace(/_/g, '')}`);
      if (init !== 'undefined')
        expect(`${key}=${doc.replace(/_/g, '')}`).toBe(`${key}=${init.replace(/_/g, '')}`);
    }
    expect(n).toBe(Object.keys(defaults).length);
  });

  it('autoSize: true applies them, with the limit starting at max', async () => {
    const pool = new Pool({ factory, max: 7, autoSize: true });
    expect(pool.stats().autoSize).toEqual({ limit: 7, target: 7, reason: 'initial', adjustments: 0 });
    expect(pool.stats().sizing).toMatchObject({ recommended: null, windowMs: 1000, littleSafety: 4 });
    await pool.close();
    const off = new Pool({ factory, autoSize: false });
    expect(off.stats().autoSize).toBeUndefined();
    await off.close();
  });
});

describe('pgTenantBinding options abuse', () => {
  it.each<[unknown, string]>([
    [
      { setting: 'organisation_id' },
      'pgTenantBinding: invalid option "setting": given "organisation_id", expected a custom setting name like "app.organisation_id".',
    ],
    [
      { mode: 'local' },
      'pgTenantBinding: invalid option "mode": given "local", expected one of \'session\', \'transaction\'.',
    ],
    [
      { settings: 'a.b' },
      'pgTenantBinding: unknown option "settings" (given "a.b"); known options are setting, mode.',
    ],
    [
      { setting: "a.b'; DROP" },
      'pgTenantBinding: invalid option "setting": given "a.b\'; DROP", expected a custom setting name like "app.organisation_id".',
    ],
  ])('%j', (options, message) => {
    expect(() => pgTenantBinding(options as never)).toThrow(
      new PoolConfigError('pgTenantBinding', message, '', undefined),
    );
    expect(() => pgTenantBinding(options as never)).toThrow(message);
  });
});
