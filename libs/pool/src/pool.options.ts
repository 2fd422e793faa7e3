/**
 * Validates `PoolOptions` up front and fills in defaults, so the pool core never re-checks an
 * option on the hot path. Every failure is a `PoolConfigError` naming the option, the value given
 * and what is allowed; unknown keys are rejected (generic-pool #290: options that silently do nothing).
 */
import { OptionChecker } from '@reservoir/core';
import { MAX_TIMER_MS, POOL_DEFAULTS } from './pool.defaults';
import { PoolConfigError } from './pool.errors';
import { resolveAutoSizeOptions, type ResolvedAutoSizeOptions } from './autosize/autosize.options';
import { CreateRetryOptions, PoolHealthThresholds, PoolOptions } from './pool.types';
import type { PoolLogger, ResourceFactory, TenantBinding, PoolMetricsTracker } from './pool.types';

/** Options with every default applied; what the core reads. */
export interface ResolvedPoolOptions<T> {
  name: string;
  factory: ResourceFactory<T>;
  min: number;
  max: number;
  acquireTimeoutMs: number;
  createTimeoutMs: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  maxLifetimeJitter: number;
  validateAfterIdleMs: number;
  maxWaiting: number;
  leakDetectionMs: number;
  createRetry: Required<CreateRetryOptions>;
  shutdownTimeoutMs: number;
  health: Required<PoolHealthThresholds>;
  maintenanceIntervalMs: number;
  tenantResolver: (() => string | undefined) | undefined;
  requireTenant: boolean;
  tenantBinding: TenantBinding<T> | undefined;
  maxPerTenant: number;
  maxTrackedTenants: number;
  logger: PoolLogger | undefined;
  metricsTracker: PoolMetricsTracker | undefined;
  autoSize: ResolvedAutoSizeOptions | undefined;
}

// Known keys are read off the option classes (declaration order), so the validator cannot drift
// from the declared options.
const KNOWN_KEYS: readonly string[] = Object.keys(new PoolOptions<unknown>());
const RETRY_KEYS: readonly string[] = Object.keys(new CreateRetryOptions());
const HEALTH_KEYS: readonly string[] = Object.keys(new PoolHealthThresholds());

/** `key: undefined` counts as "not given", so config spreads like `{ max: env.MAX }` just work. */
function pick<V>(value: V | undefined, fallback: V): V {
  return value === undefined ? fallback : value;
}

/** Without options.name yet (or a bad one), errors still need a pool name. */
function poolName(options: unknown): string {
  const n = (options as { name?: unknown } | null)?.name;
  return typeof n === 'string' && n.length > 0 ? n : POOL_DEFAULTS.name;
}

export function resolvePoolOptions<T>(options: PoolOptions<T>): ResolvedPoolOptions<T> {
  const pool = poolName(options);
  const c: OptionChecker = new OptionChecker((option, given, allowed) =>
    PoolConfigError.invalidOption(pool, option, given, allowed),
  );
  c.object('', options);
  const o = options as unknown as Record<string, unknown>;
  c.knownKeys(o, KNOWN_KEYS);
  const d = POOL_DEFAULTS;

  const name = o.name === undefined ? d.name : c.string('name', o.name);

  c.object('factory', o.factory);
  const f = o.factory as Record<string, unknown>;
  const fc: OptionChecker = c.nested('factory');
  fc.func('create', f.create);
  fc.func('destroy', f.destroy);
  if (f.validate !== undefined) fc.func('validate', f.validate);
  if (f.watch !== undefined) fc.func('watch', f.watch);

  const min = c.integer('min', pick(o.min, d.min), 0, 10_000);
  const max = c.integer('max', pick(o.max, d.max), 1, 10_000);
  if (min > max) throw c.error('min', min, `an integer <= max (${max})`);

  const acquireTimeoutMs = c.integer(
    'acquireTimeoutMs',
    pick(o.acquireTimeoutMs, d.acquireTimeoutMs),
    1,
    MAX_TIMER_MS,
  );
  const createTimeoutMs = c.integer(
    'createTimeoutMs',
    pick(o.createTimeoutMs, d.createTimeoutMs),
    1,
    MAX_TIMER_MS,
  );
  const idleTimeoutMs = c.integer('idleTimeoutMs', pick(o.idleTimeoutMs, d.idleTimeoutMs), 0);
  const maxLifetimeMs = c.integer('maxLifetimeMs', pick(o.maxLifetimeMs, d.maxLifetimeMs), 0);
  const maxLifetimeJitter = c.number(
    'maxLifetimeJitter',
    pick(o.maxLifetimeJitter, d.maxLifetimeJitter),
    0,
    0.5,
  );
  const validateAfterIdleMs = c.integer(
    'validateAfterIdleMs',
    pick(o.validateAfterIdleMs, d.validateAfterIdleMs),
    0,
  );
  const maxWaiting = c.integer(
    'maxWaiting',
    pick(o.maxWaiting, d.maxWaiting),
    0,
    Number.MAX_SAFE_INTEGER,
    true,
  );
  const leakDetectionMs = c.integer('leakDetectionMs', pick(o.leakDetectionMs, d.leakDetectionMs), 0);
  const shutdownTimeoutMs = c.integer(
    'shutdownTimeoutMs',
    pick(o.shutdownTimeoutMs, d.shutdownTimeoutMs),
    0,
    MAX_TIMER_MS,
  );
  const maintenanceIntervalMs = c.integer(
    'maintenanceIntervalMs',
    pick(o.maintenanceIntervalMs, d.maintenanceIntervalMs),
    10,
    MAX_TIMER_MS,
  );

  const retryIn: unknown = pick(o.createRetry, {});
  c.object('createRetry', retryIn);
  c.nested('createRetry').knownKeys(retryIn, RETRY_KEYS);
  const rc: OptionChecker = c.nested('createRetry');
  const initialDelayMs = rc.integer(
    'initialDelayMs',
    pick(retryIn.initialDelayMs, d.createRetry.initialDelayMs),
    1,
    MAX_TIMER_MS,
  );
  const maxDelayMs = rc.integer(
    'maxDelayMs',
    pick(retryIn.maxDelayMs, d.createRetry.maxDelayMs),
    1,
    MAX_TIMER_MS,
  );
  if (maxDelayMs < initialDelayMs)
    throw rc.error('maxDelayMs', maxDelayMs, `an integer >= initialDelayMs (${initialDelayMs})`);
  const createRetry = {
    initialDelayMs,
    maxDelayMs,
    factor: rc.number('factor', pick(retryIn.factor, d.createRetry.factor), 1, 100),
    jitter: rc.number('jitter', pick(retryIn.jitter, d.createRetry.jitter), 0, 1),
  };

  const healthIn: unknown = pick(o.health, {});
  c.object('health', healthIn);
  const hc: OptionChecker = c.nested('health');
  hc.knownKeys(healthIn, HEALTH_KEYS);
  const ratio = (key: keyof PoolHealthThresholds, fallback: number): number => {
    const v = pick(healthIn[key], fallback);
    if (v === Infinity) return v;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw hc.error(key, v, 'a number >= 0 (1 = every resource in use), or Infinity to disable');
    return v;
  };
  const health = {
    degradedUtilization: ratio('degradedUtilization', d.health.degradedUtilization),
    unhealthyUtilization: ratio('unhealthyUtilization', d.health.unhealthyUtilization),
    degradedWaitP99Ms: hc.integer(
      'degradedWaitP99Ms',
      pick(healthIn.degradedWaitP99Ms, d.health.degradedWaitP99Ms),
      0,
      Number.MAX_SAFE_INTEGER,
      true,
    ),
    unhealthyTimeouts: hc.integer(
      'unhealthyTimeouts',
      pick(healthIn.unhealthyTimeouts, d.health.unhealthyTimeouts),
      0,
      10_000,
    ),
    unhealthyCreateFailures: hc.integer(
      'unhealthyCreateFailures',
      pick(healthIn.unhealthyCreateFailures, d.health.unhealthyCreateFailures),
      1,
      Number.MAX_SAFE_INTEGER,
      true,
    ),
    windowMs: hc.integer('windowMs', pick(healthIn.windowMs, d.health.windowMs), 1, MAX_TIMER_MS),
    failingAfterMs: hc.integer(
      'failingAfterMs',
      pick(healthIn.failingAfterMs, d.health.failingAfterMs),
      0,
      MAX_TIMER_MS,
    ),
  };

  let tenantResolver: (() => string | undefined) | undefined;
  if (o.tenantResolver !== undefined) {
    c.func('tenantResolver', o.tenantResolver);
    tenantResolver = o.tenantResolver as () => string | undefined;
  }
  const requireTenant = c.boolean('requireTenant', pick(o.requireTenant, d.requireTenant));

  let tenantBinding: TenantBinding<T> | undefined;
  if (o.tenantBinding !== undefined) {
    const b: unknown = o.tenantBinding;
    c.object('tenantBinding', b);
    const bc: OptionChecker = c.nested('tenantBinding');
    // Like factories, bindings may carry members of their own (pgTenantBinding exposes `setting`):
    // only the known members are checked.
    bc.func('bind', b.bind);
    bc.func('unbind', b.unbind);
    if (b.rebind !== undefined) bc.func('rebind', b.rebind);
    if (b.unbindOnRelease !== undefined) bc.boolean('unbindOnRelease', b.unbindOnRelease);
    tenantBinding = b as unknown as TenantBinding<T>;
  }
  const maxPerTenant = c.integer(
    'maxPerTenant',
    pick(o.maxPerTenant, d.maxPerTenant),
    1,
    Number.MAX_SAFE_INTEGER,
    true,
  );
  const maxTrackedTenants = c.integer(
    'maxTrackedTenants',
    pick(o.maxTrackedTenants, d.maxTrackedTenants),
    1,
    1_000_000,
  );

  let logger: PoolLogger | undefined;
  if (o.logger !== undefined) {
    const l: unknown = o.logger;
    c.object('logger', l);
    const lc: OptionChecker = c.nested('logger');
    lc.func('log', l.log);
    lc.func('warn', l.warn);
    lc.func('error', l.error);
    logger = l as unknown as PoolLogger;
  }
  let metricsTracker: PoolMetricsTracker | undefined;
  if (o.metricsTracker !== undefined) {
    checkMetricsTracker(name, o.metricsTracker);
    metricsTracker = o.metricsTracker;
  }

  const autoSize = resolveAutoSizeOptions(c, pick(o.autoSize, d.autoSize), min, max);

  return {
    name,
    factory: o.factory as unknown as ResourceFactory<T>,
    min,
    max,
    acquireTimeoutMs,
    createTimeoutMs,
    idleTimeoutMs,
    maxLifetimeMs,
    maxLifetimeJitter,
    validateAfterIdleMs,
    maxWaiting,
    leakDetectionMs,
    createRetry,
    shutdownTimeoutMs,
    health,
    maintenanceIntervalMs,
    tenantResolver,
    requireTenant,
    tenantBinding,
    maxPerTenant,
    maxTrackedTenants,
    logger,
    metricsTracker,
    autoSize,
  };
}

const TRACKER_METHODS = ['acquired', 'released', 'timeout', 'created', 'destroyed'] as const;

/** A metrics tracker must implement every method (no optional members: the pool calls them unchecked). */
export function checkMetricsTracker(pool: string, value: unknown): asserts value is PoolMetricsTracker {
  const t = value as Record<string, unknown> | null;
  if (typeof t !== 'object' || t === null) {
    throw PoolConfigError.invalidOption(pool, 'metricsTracker', value, 'an object (PoolMetricsTracker)');
  }
  for (const m of TRACKER_METHODS) {
    if (typeof t[m] !== 'function') {
      throw PoolConfigError.invalidOption(pool, `metricsTracker.${m}`, t[m], 'a function');
    }
  }
}

/** Checks a per-call `timeoutMs`; cheap enough to run only when the caller passed one. */
export function checkCallTimeout(pool: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMER_MS) {
    throw PoolConfigError.invalidOption(pool, 'timeoutMs', value, `an integer >= 0 and <= ${MAX_TIMER_MS}`);
  }
  return value;
}

/** Checks a per-call `organisationId` (only when the caller passed one): it becomes a tenant key and a bind argument. */
export function checkCallTenant(pool: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw PoolConfigError.invalidOption(pool, 'organisationId', value, 'a non-empty string');
  }
  return value;
}
