import { OptionChecker } from '@reservoir/core';
import type { CacheStore } from './cache-store';
import type { LazySharedTier } from './lazy-shared';
import type { VersionSource } from './lazy-versions';
import { LazyConfigError } from './lazy.errors';
import { LazyMessages } from './lazy.messages';

/*
 * Options are classes whose field initialisers are the defaults (the nestjs-cls pattern): the defaults
 * live here and nowhere else, and the list of known option names is read off an instance, so the
 * validator can never drift from the documented options.
 */

/** What the retry policy is asked about a failed loader call. */
export type LazyRetryIf = (error: unknown, attempt: number) => boolean;

/**
 * Retry of a failing load: exponential backoff with jitter between calls (see `backoffDelay` in
 * `@reservoir/core`).
 *
 * @publicApi
 */
export class LazyRetryOptions {
  /**
   * Total number of loader calls per load, the first one included. `1` disables retry.
   * @default 3
   */
  attempts?: number = 3;
  /**
   * Delay before the first retry, in ms.
   * @default 100
   */
  initialDelayMs?: number = 100;
  /**
   * Upper bound of any delay between retries, in ms.
   * @default 2000
   */
  maxDelayMs?: number = 2_000;
  /**
   * Growth of the delay per retry.
   * @default 2
   */
  factor?: number = 2;
  /**
   * Fraction of each delay that is randomised, 0 (none) to 1 (full jitter).
   * @default 0.2
   */
  jitter?: number = 0.2;
  /**
   * Whether a failed call may be retried; `attempt` is the number of calls made so far.
   * @default () => true
   * @example retryIf: (err) => !(err instanceof NotFoundException)
   */
  retryIf?: LazyRetryIf = () => true;
}

/**
 * Options of one lazy resource. Each can be set as a module default in `LazyModule.forRoot()` or per
 * resource in `@LazyResource()` / `LazyLoader.register()`.
 *
 * @publicApi
 */
export class LazyResourceDefaults {
  /**
   * Hard expiry in ms: an entry older than this is never served as a hit (it may still be served by
   * `serveStaleOnError` while a reload fails). `Infinity` = never expires.
   * @default Infinity
   */
  ttlMs?: number = Infinity;
  /**
   * Soft expiry in ms: an entry older than this is stale; `isStale()` reports it and the next access
   * refreshes it according to `refresh`. `Infinity` = never stale.
   * @default Infinity
   */
  staleAfterMs?: number = Infinity;
  /**
   * `'background'`: a stale hit returns the stale value at once and refreshes it once in the
   * background (stale-while-revalidate). `'blocking'`: a stale hit waits for the fresh value.
   * @default 'background'
   */
  refresh?: 'background' | 'blocking' = 'background';
  /**
   * Bound on one loader call, in ms: a call that has not settled by then counts as a failed attempt
   * (`LazyTimeoutError`, retried like any failure), so a hung source never hangs its callers.
   * `Infinity` disables the bound.
   * @default 30000
   */
  loadTimeoutMs?: number = 30_000;
  /** Retry of failing loads; every field optional. */
  retry?: LazyRetryOptions = new LazyRetryOptions();
  /**
   * When a load fails and an earlier value exists, return the earlier value (and emit
   * `stale-served` + `refresh-failed` alerts) instead of rejecting.
   * @default true
   */
  serveStaleOnError?: boolean = true;
  /**
   * Namespace entries by the current organisation id. A tenant-scoped resource used outside a tenant
   * scope rejects with `TenantRequiredError`. `false` = one value shared by every organisation.
   * @default true
   */
  tenantScoped?: boolean = true;
  /**
   * Load during `onApplicationBootstrap`. Needs `tenantScoped: false` (and, for a decorated method, a
   * method without parameters).
   * @default false
   */
  preload?: boolean = false;
  /**
   * A failed preload fails startup, and the health indicator reports down while the resource has no
   * value because its loads fail.
   * @default false
   */
  required?: boolean = false;
  /**
   * Returns the source version (an etag, a row version, ...) of a loaded value. When a reload sees a
   * different source version than the cached value had, a `drift-detected` alert is emitted.
   * @default undefined
   */
  versionOf?: (value: unknown) => unknown = undefined;
  /**
   * Let code inside one tenant's scope read or reload another organisation's entry through an
   * explicit `organisationId` (trusted admin code). Off, such a call rejects with
   * `LazyCrossTenantError`; outside any tenant scope an explicit `organisationId` is always allowed.
   * A single call can allow it with `{ allowCrossTenant: true }` in its read options.
   * @default false
   */
  allowCrossTenant?: boolean = false;
}

/** Eviction policy of the in-memory store. */
export type LazyEvictionPolicy = 'lru' | 'lfu' | 'ttl';

/**
 * Options of `LazyModule.forRoot()` (and of the framework-free `LazyLoaderCore`): module defaults for
 * every per-resource option, plus store-wide settings.
 *
 * @publicApi
 */
export class LazyModuleOptions extends LazyResourceDefaults {
  /**
   * Upper bound of cached entries over all resources and tenants; memory stays bounded under any
   * key churn.
   * @default 10000
   */
  maxEntries?: number = 10_000;
  /**
   * Which entry leaves when `maxEntries` is reached: `'lru'` least recently used, `'lfu'` least
   * frequently used (ties: least recently inserted), `'ttl'` oldest write first (the entry nearest to
   * its expiry).
   * @default 'lru'
   */
  policy?: LazyEvictionPolicy = 'lru';
  /**
   * How many preloads run at once during bootstrap.
   * @default 4
   */
  preloadConcurrency?: number = 4;
  /**
   * A custom storage (see `CacheStore`); replaces the built-in memory store, so `maxEntries` and
   * `policy` are then the store's business.
   * @default undefined (memory store)
   */
  store?: CacheStore = undefined;
  /**
   * Where entry versions come from (see `VersionSource`): one monotonic counter per resource. Replace
   * it with a shared counter when instances share a store.
   * @default undefined (a `MemoryVersionSource` per loader)
   */
  versionSource?: VersionSource = undefined;
  /**
   * A shared tier (e.g. `new RedisTier({ url })` from `@reservoir/lazy/redis`): resources are then
   * shared across the fleet by default (one version sequence per entry, an L2, an invalidation bus,
   * one load per cold key); `shared: false` on a resource keeps it local. Replaces `store` and
   * `versionSource`, so neither may be set with it. The application owns (and closes) the tier.
   * @default undefined (local only)
   */
  shared?: LazySharedTier = undefined;
}

/**
 * Options of `LazyLoader.register()`: the per-resource options plus whether the resource is shared.
 *
 * @publicApi
 */
export class LazyRegisterOptions extends LazyResourceDefaults {
  /**
   * With a shared tier (`LazyModule.forRoot({ shared })`): share this resource across the fleet.
   * `false` keeps its entries, versions and loads local to this instance (for values the codec cannot
   * encode, or per-instance data). Ignored without a tier.
   * @default true
   */
  shared?: boolean = true;
}

/**
 * Options of `@LazyResource()`: the per-resource options plus how the cache key is built.
 *
 * @publicApi
 */
export class LazyResourceOptions extends LazyRegisterOptions {
  /**
   * Builds the cache key from the method's arguments. Without it the key is a stable serialization of
   * the arguments (primitives, plain objects, arrays, Dates).
   * @default undefined
   */
  key?: (...args: never[]) => string = undefined;
}

/** Per-resource options after merging defaults, module options and the resource's own. */
export interface ResolvedResourceOptions {
  ttlMs: number;
  staleAfterMs: number;
  refresh: 'background' | 'blocking';
  loadTimeoutMs: number;
  retry: Required<LazyRetryOptions>;
  serveStaleOnError: boolean;
  tenantScoped: boolean;
  preload: boolean;
  required: boolean;
  versionOf: ((value: unknown) => unknown) | undefined;
  allowCrossTenant: boolean;
  shared: boolean;
}

/** Module options after validation and defaults. */
export interface ResolvedModuleOptions extends ResolvedResourceOptions {
  maxEntries: number;
  policy: LazyEvictionPolicy;
  preloadConcurrency: number;
  store: CacheStore | undefined;
  versionSource: VersionSource | undefined;
  /** `LazyModuleOptions.shared`: the tier, when one is attached. */
  sharedTier: LazySharedTier | undefined;
}

const RETRY_KEYS = Object.keys(new LazyRetryOptions());
const RESOURCE_KEYS = Object.keys(new LazyRegisterOptions());
const MODULE_KEYS = Object.keys(new LazyModuleOptions());
const DECORATOR_KEYS = Object.keys(new LazyResourceOptions());
const STORE_METHODS = ['get', 'peek', 'set', 'delete', 'keys', 'clear'];
const VERSION_SOURCE_METHODS = ['next', 'latest', 'seen'];

function checker(context: string): OptionChecker {
  return new OptionChecker((option, given, allowed) =>
    LazyConfigError.create(context, option, given, allowed),
  );
}

/** Drops keys whose value is `undefined`, so `{ ttlMs: undefined }` means "not set". */
function defined<T extends object>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

function checkRetry(c: OptionChecker, retry: unknown): void {
  c.object('retry', retry);
  const r = c.nested('retry');
  r.knownKeys(retry, RETRY_KEYS);
  const v = defined(retry);
  if ('attempts' in v) r.integer('attempts', v.attempts, 1, 100);
  if ('initialDelayMs' in v) r.integer('initialDelayMs', v.initialDelayMs, 0);
  if ('maxDelayMs' in v) r.integer('maxDelayMs', v.maxDelayMs, 0);
  if ('factor' in v) r.number('factor', v.factor, 1);
  if ('jitter' in v) r.number('jitter', v.jitter, 0, 1);
  if ('retryIf' in v) r.func('retryIf', v.retryIf);
}

/** Validates the per-resource fields present in `o` (unknown keys are checked by the caller). */
function checkResourceFields(c: OptionChecker, o: Record<string, unknown>): void {
  if ('ttlMs' in o) c.integer('ttlMs', o.ttlMs, 1, Number.MAX_SAFE_INTEGER, true);
  if ('staleAfterMs' in o) c.integer('staleAfterMs', o.staleAfterMs, 1, Number.MAX_SAFE_INTEGER, true);
  if ('refresh' in o) c.oneOf('refresh', o.refresh, ['background', 'blocking'] as const);
  if ('loadTimeoutMs' in o) c.integer('loadTimeoutMs', o.loadTimeoutMs, 1, 2_147_483_647, true);
  if ('retry' in o) checkRetry(c, o.retry);
  if ('serveStaleOnError' in o) c.boolean('serveStaleOnError', o.serveStaleOnError);
  if ('tenantScoped' in o) c.boolean('tenantScoped', o.tenantScoped);
  if ('preload' in o) c.boolean('preload', o.preload);
  if ('required' in o) c.boolean('required', o.required);
  if ('versionOf' in o) c.func('versionOf', o.versionOf);
  if ('allowCrossTenant' in o) c.boolean('allowCrossTenant', o.allowCrossTenant);
  if ('shared' in o) c.boolean('shared', o.shared);
}

function merge(
  base: ResolvedResourceOptions,
  o: Partial<LazyResourceDefaults>,
  c: OptionChecker,
): ResolvedResourceOptions {
  const retry = { ...base.retry, ...(o.retry ? defined(o.retry) : {}) } as Required<LazyRetryOptions>;
  const merged: ResolvedResourceOptions = {
    ttlMs: o.ttlMs ?? base.ttlMs,
    staleAfterMs: o.staleAfterMs ?? base.staleAfterMs,
    refresh: o.refresh ?? base.refresh,
    loadTimeoutMs: o.loadTimeoutMs ?? base.loadTimeoutMs,
    retry,
    serveStaleOnError: o.serveStaleOnError ?? base.serveStaleOnError,
    // A preload runs at bootstrap, outside any tenant scope: a preloaded resource is global unless
    // it says tenantScoped: true itself (which is then rejected below).
    tenantScoped: o.tenantScoped ?? (o.preload === true ? false : base.tenantScoped),
    preload: o.preload ?? base.preload,
    required: o.required ?? base.required,
    versionOf: o.versionOf ?? base.versionOf,
    allowCrossTenant: o.allowCrossTenant ?? base.allowCrossTenant,
    shared: (o as Partial<LazyRegisterOptions>).shared ?? base.shared,
  };
  if (merged.preload && merged.tenantScoped) throw c.error('preload', true, LazyMessages.preloadNeedsGlobal);
  return merged;
}

/**
 * Validates `LazyModule.forRoot()` options and fills in the defaults.
 * @throws LazyConfigError on an unknown key or an invalid value
 */
export function resolveModuleOptions(
  options: unknown = {},
  context = 'LazyModule.forRoot()',
): ResolvedModuleOptions {
  const c: OptionChecker = checker(context);
  c.object('', options);
  c.knownKeys(options, MODULE_KEYS);
  const o: Record<string, unknown> = defined(options);
  // At module level `shared` is the tier, not the per-resource boolean: take it out first.
  const sharedTier = o.shared as LazySharedTier | undefined;
  delete o.shared;
  if (sharedTier !== undefined) {
    const t = sharedTier as unknown as Record<string, unknown> | null;
    if (t === null || typeof t !== 'object' || typeof t.createStore !== 'function')
      throw c.error('shared', sharedTier, LazyMessages.knownSharedTier);
    if ('store' in o) throw c.error('store', o.store, LazyMessages.sharedExcludes('store'));
    if ('versionSource' in o)
      throw c.error('versionSource', o.versionSource, LazyMessages.sharedExcludes('versionSource'));
  }
  checkResourceFields(c, o);
  if ('maxEntries' in o) c.integer('maxEntries', o.maxEntries, 1);
  if ('policy' in o) c.oneOf('policy', o.policy, ['lru', 'lfu', 'ttl'] as const);
  if ('preloadConcurrency' in o) c.integer('preloadConcurrency', o.preloadConcurrency, 1, 1000);
  if ('store' in o) {
    const s = o.store as Record<string, unknown> | null;
    if (s === null || typeof s !== 'object' || STORE_METHODS.some((m) => typeof s[m] !== 'function')) {
      throw c.error('store', o.store, LazyMessages.knownStore);
    }
  }
  if ('versionSource' in o) {
    const v = o.versionSource as Record<string, unknown> | null;
    if (
      v === null ||
      typeof v !== 'object' ||
      VERSION_SOURCE_METHODS.some((m) => typeof v[m] !== 'function')
    ) {
      throw c.error('versionSource', o.versionSource, LazyMessages.knownVersionSource);
    }
  }
  const d = new LazyModuleOptions();
  const base = merge(
    {
      ...(d as unknown as ResolvedResourceOptions),
      retry: new LazyRetryOptions() as Required<LazyRetryOptions>,
      shared: true,
    },
    o as Partial<LazyResourceDefaults>,
    c,
  );
  return {
    ...base,
    shared: true,
    sharedTier,
    maxEntries: (o.maxEntries as number | undefined) ?? (d.maxEntries as number),
    policy: (o.policy as LazyEvictionPolicy | undefined) ?? (d.policy as LazyEvictionPolicy),
    preloadConcurrency: (o.preloadConcurrency as number | undefined) ?? (d.preloadConcurrency as number),
    store: o.store as CacheStore | undefined,
    versionSource: o.versionSource as VersionSource | undefined,
  };
}

/**
 * Validates one resource's options (from `register()` or `@LazyResource()`) and merges them over the
 * module's resolved options.
 * @throws LazyConfigError on an unknown key or an invalid value
 */
export function resolveResourceOptions(
  moduleOptions: ResolvedResourceOptions,
  options: unknown,
  context: string,
  allowKeyFn = false,
): ResolvedResourceOptions {
  if (options === undefined) options = {};
  const c: OptionChecker = checker(context);
  c.object('', options);
  c.knownKeys(options, allowKeyFn ? DECORATOR_KEYS : RESOURCE_KEYS);
  const o: Record<string, unknown> = defined(options);
  checkResourceFields(c, o);
  if ('key' in o) c.func('key', o.key);
  return merge(moduleOptions, o as Partial<LazyResourceDefaults>, c);
}

/** Thresholds of `LazyHealthIndicator.isHealthy()`. */
export class LazyHealthCheckOptions {
  /**
   * DEGRADED when a resource has served a stale value and no load has succeeded for this long since.
   * @default 5000
   */
  staleGraceMs?: number = 5_000;
  /**
   * DEGRADED when this many loads of one resource failed in a row.
   * @default 2
   */
  failureThreshold?: number = 2;
}

export function resolveHealthOptions(options: unknown = {}): Required<LazyHealthCheckOptions> {
  const c: OptionChecker = checker('LazyHealthIndicator.isHealthy()');
  c.object('', options);
  c.knownKeys(options, Object.keys(new LazyHealthCheckOptions()));
  const o: Record<string, unknown> = defined(options);
  if ('staleGraceMs' in o) c.integer('staleGraceMs', o.staleGraceMs, 0);
  if ('failureThreshold' in o) c.integer('failureThreshold', o.failureThreshold, 1);
  return { ...(new LazyHealthCheckOptions() as Required<LazyHealthCheckOptions>), ...o };
}
