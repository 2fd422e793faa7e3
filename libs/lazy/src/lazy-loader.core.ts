import { type Observable, Subject } from 'rxjs';
import { SampleWindow, TrendWindow, backoffDelay, withDeadline, type TrendSnapshot } from '@reservoir/core';
// The framework-free tenant entry, not the barrel: the core stays free of Nest.
import { TenantRequiredError } from '@reservoir/tenant/core';
import { MemoryCacheStore, type CacheStore, type LazyEntry } from './cache-store';
import { TENANT_SEPARATOR } from './lazy.constants';
import {
  LazyClosedError,
  LazyConfigError,
  LazyCrossTenantError,
  LazyKeyError,
  LazyLoadError,
  LazyTimeoutError,
} from './lazy.errors';
import type { LazyAlertKind, LazyEvent, LazyLogger } from './lazy.events';
import { LazyMessages } from './lazy.messages';
import {
  resolveModuleOptions,
  resolveResourceOptions,
  type LazyEvictionPolicy,
  type LazyModuleOptions,
  type LazyRegisterOptions,
  type ResolvedModuleOptions,
  type ResolvedResourceOptions,
} from './lazy.options';
import { MemoryVersionSource, type VersionSource } from './lazy-versions';
import type { LazySharedStats, LazySharedStore } from './lazy-shared';

/**
 * Runs `fn` as organisation `organisationId`, or outside any tenant scope when it is `undefined`, and
 * returns what `fn` returns. Everything `fn` awaits must see that scope (an AsyncLocalStorage `run`).
 */
export type LazyScopeRunner = <T>(organisationId: string | undefined, fn: () => T) => T;

/** Services the core needs from its host; every one optional. */
export interface LazyLoaderCoreDeps {
  /** Current organisation id, undefined outside a tenant scope (e.g. `() => tenantContext.organisationId`). */
  tenantResolver?: () => string | undefined;
  /**
   * Runs a loader in the scope of the entry it fills: organisation X's scope for X's entry, whoever
   * triggered the load (another tenant's request with `organisationId`, a background refresh, a
   * preload), and no tenant scope at all for a global (`tenantScoped: false`) entry. With
   * `TenantModule`, `LazyLoader` wires it to `TenantContext.run()` / `TenantContext.runOutside()`.
   * Without it the loader runs in the caller's async context.
   */
  runAs?: LazyScopeRunner;
  /** Where alerts and preload failures are written. Default: nothing. */
  logger?: LazyLogger;
  /** Monotonic clock in ms. Default: `performance.now()`. */
  clock?: () => number;
  /** Random source of the retry jitter. Default: `Math.random`. */
  random?: () => number;
}

/** Where `invalidate()` applies. Without it: the current tenant when in scope, else every tenant. */
export interface LazyInvalidateOptions {
  /** Only this organisation's entries (plus global entries). */
  organisationId?: string;
  /** Every organisation's entries. */
  allTenants?: boolean;
}

/** Reads for an explicit organisation instead of the current one. */
export interface LazyReadOptions {
  /** The organisation whose entry is read; the current tenant when omitted. */
  organisationId?: string;
  /**
   * Allow `organisationId` to name another organisation than the current tenant scope's (trusted
   * code only). Without it, and without the resource's `allowCrossTenant`, such a call rejects with
   * `LazyCrossTenantError`.
   * @default false
   */
  allowCrossTenant?: boolean;
}

/**
 * Told about every successful load (never about hits), so a metrics collector can keep a load-time
 * histogram without observing `events$`, whose per-hit events would tax every hit.
 */
export interface LazyMetricsTracker {
  loaded(resource: string, durationMs: number): void;
}

/** Load-time percentiles in ms. */
export interface LazyLoadTimeStats {
  count: number;
  lastMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface LazyCounters {
  hits: number;
  /** Accesses that found no usable value (including those that joined an in-flight load). */
  misses: number;
  /** Misses that joined an in-flight load instead of starting one. */
  coalesced: number;
  /** Successful loads. */
  loads: number;
  /** Failed loader calls (each attempt counts). */
  errors: number;
  /** Loads that gave up after their last attempt. */
  failures: number;
  retries: number;
  evictions: number;
  invalidations: number;
  staleServed: number;
  refreshFailures: number;
  drifts: number;
  /** hits / (hits + misses), 0 when unused. */
  hitRatio: number;
  /** Cached entries right now. */
  entries: number;
}

/** Metrics and state of one resource. */
export interface LazyResourceStats extends LazyCounters {
  resource: string;
  tenantScoped: boolean;
  required: boolean;
  preload: 'none' | 'pending' | 'done' | 'failed';
  loadTime: LazyLoadTimeStats;
  /** Sliding-window trends (slope per second), sampled at each load. */
  trend: { hitRatio: TrendSnapshot; loadTimeMs: TrendSnapshot };
  consecutiveFailures: number;
  lastError: string | undefined;
  /** Clock time of the last successful load. */
  lastSuccessAt: number | undefined;
  /**
   * The resource's version counter, read from the `VersionSource` (the one owner of versions): the
   * highest version any entry of this resource was given, over all tenants and arguments; 0 before a
   * load. Never goes backward.
   */
  latestVersion: number;
  /** Clock time since which stale values are served without a successful load; undefined when fresh. */
  staleServingSince: number | undefined;
}

export interface LazyStats {
  total: LazyCounters & {
    loadTime: LazyLoadTimeStats;
    trend: { hitRatio: TrendSnapshot; loadTimeMs: TrendSnapshot };
  };
  resources: Record<string, LazyResourceStats>;
  /** The shared tier's state and counters, when `shared` is configured. */
  shared?: LazySharedStats;
  maxEntries: number;
  policy: LazyEvictionPolicy | 'custom';
}

type LoaderFn = (...args: never[]) => unknown;

/** A decorated method's cached call: the explorer builds the entry key, the core does the rest. */
export type LazyMethodCall = (entryKey: string, args: readonly unknown[]) => Promise<unknown>;

/** Per-resource state. Private to this file: neither the core's API nor the barrel hands it out. */
class ResourceState {
  hits = 0;
  misses = 0;
  coalesced = 0;
  loads = 0;
  errors = 0;
  failures = 0;
  retries = 0;
  evictions = 0;
  invalidations = 0;
  staleServed = 0;
  refreshFailures = 0;
  drifts = 0;
  entries = 0;
  /** Reloads in flight: while > 0 a hit first checks whether its key is being reloaded. */
  reloading = 0;
  consecutiveFailures = 0;
  lastError: unknown = undefined;
  lastSuccessAt: number | undefined = undefined;
  staleServingSince: number | undefined = undefined;
  preloadState: 'none' | 'pending' | 'done' | 'failed';
  readonly loadTimes = new SampleWindow(512);
  readonly hitRatioTrend = new TrendWindow();
  readonly loadTimeTrend = new TrendWindow();
  /** True when entries can go stale or expire, so a hit must compare deadlines. */
  readonly ages: boolean;
  /** How long after `loadedAt` an entry stops being a plain hit: min(staleAfterMs, ttlMs). */
  readonly freshMs: number;

  /**
   * Store keys already built, per organisation: a repeat hit reuses the same string (hash cached by
   * the engine) instead of concatenating and hashing a new one. Bounded; cleared when full.
   */
  private readonly keyMemo = new Map<string, Map<string, string>>();

  constructor(
    readonly name: string,
    readonly options: ResolvedResourceOptions,
    /** The loader called on a miss; for a decorated method, the original method. */
    readonly loader: LoaderFn,
    readonly thisArg: unknown,
    /** Entry key a preload or reload loads (the registered key, or `Class.method()`). */
    readonly preloadKey: string,
  ) {
    this.preloadState = options.preload ? 'pending' : 'none';
    this.freshMs = Math.min(options.staleAfterMs, options.ttlMs);
    this.ages = this.freshMs !== Infinity;
  }

  /** `org \0 entryKey` for a tenant's entry. A global entry's store key is the entry key itself. */
  storeKey(org: string, entryKey: string): string {
    let byKey = this.keyMemo.get(org);
    if (byKey === undefined) {
      if (this.keyMemo.size >= KEY_MEMO_ORGS) this.keyMemo.clear();
      byKey = new Map();
      this.keyMemo.set(org, byKey);
    }
    let sk = byKey.get(entryKey);
    if (sk === undefined) {
      if (byKey.size >= KEY_MEMO_KEYS) byKey.clear();
      sk = org + TENANT_SEPARATOR + entryKey;
      byKey.set(entryKey, sk);
    }
    return sk;
  }
}

interface Flight {
  promise: Promise<unknown>;
  /** Set by invalidate(): the result is returned to its callers but not cached. */
  discarded: boolean;
  /** A background refresh: its outcome has no caller. */
  background: boolean;
  /** Started by reload(): later reloads join it instead of starting another. */
  forced: boolean;
  /** A reload queued behind this (unforced) flight, shared by every reload that arrives meanwhile. */
  queuedReload: Promise<unknown> | undefined;
}

interface Target {
  res: ResourceState;
  sk: string;
  org: string | undefined;
}

const EMPTY_ARGS: never[] = [];
const KEY_MEMO_ORGS = 64;
const KEY_MEMO_KEYS = 64;
const noop = (): void => undefined;

function ratio(h: number, m: number): number {
  return h + m === 0 ? 0 : h / (h + m);
}

/**
 * A flat (sequential) copy of `s`: property keys are internalized, and an internalized string is
 * always flat. The engine offers no direct way to flatten a string.
 */
function flatString(s: string): string {
  for (const k in { [s]: 0 }) return k;
  return s;
}

/** Organisation of a store key (undefined for a global entry) and its entry key. */
function splitStoreKey(sk: string): { org: string | undefined; entryKey: string } {
  const i = sk.indexOf(TENANT_SEPARATOR);
  return i < 0 ? { org: undefined, entryKey: sk } : { org: sk.slice(0, i), entryKey: sk.slice(i + 1) };
}

let registerMethodOf: (
  core: LazyLoaderCore,
  name: string,
  options: unknown,
  method: LoaderFn,
  thisArg: unknown,
) => LazyMethodCall;

/**
 * Registers a decorated method on `core` and returns its cached call. The `@LazyResource()` explorer's
 * way in; deliberately not a method of the core, and not exported from the barrel.
 * @throws LazyConfigError on an invalid option or a duplicate name
 */
export function registerLazyMethod(
  core: LazyLoaderCore,
  name: string,
  options: unknown,
  method: LoaderFn,
  thisArg: unknown,
): LazyMethodCall {
  return registerMethodOf(core, name, options, method, thisArg);
}

/**
 * The framework-free loader under `LazyLoader`: registration, cache with single-flight loads, retry,
 * versions, staleness, eviction, tenant namespacing, metrics and events. No Nest in here.
 *
 * Hit path: resolve the tenant, build the store key, one synchronous store read, a deadline compare
 * (only when the entry can go stale), a counter increment, `Promise.resolve(value)`. No async
 * function, no lock, no await, no event object unless `events$` is observed.
 *
 * @publicApi
 */
export class LazyLoaderCore {
  static {
    registerMethodOf = (core, name, options, method, thisArg) =>
      core.registerMethod(name, options, method, thisArg);
  }

  /** Validated module options (defaults for every resource). */
  readonly options: ResolvedModuleOptions;
  private readonly store: CacheStore<LazyEntry>;
  private readonly versions: VersionSource;
  private readonly shared: LazySharedStore | undefined;
  private readonly resources = new Map<string, ResourceState>();
  private readonly inflight = new Map<string, Flight>();
  private readonly timers = new Map<ReturnType<typeof setTimeout>, (ok: boolean) => void>();
  private readonly subject = new Subject<LazyEvent>();
  private readonly trackers: LazyMetricsTracker[] = [];
  private readonly tenantResolver: (() => string | undefined) | undefined;
  private readonly runAs: LazyScopeRunner | undefined;
  private readonly logger: LazyLogger | undefined;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly totalLoadTimes = new SampleWindow(1024);
  private readonly totalHitRatioTrend = new TrendWindow();
  private readonly totalLoadTimeTrend = new TrendWindow();
  private preloadStarted = false;
  private closed = false;

  /** Loads, hits, misses, retries, evictions and alerts. Events are only built while observed. */
  readonly events$: Observable<LazyEvent> = this.subject.asObservable();

  constructor(options: LazyModuleOptions | Record<string, unknown> = {}, deps: LazyLoaderCoreDeps = {}) {
    this.options = resolveModuleOptions(options);
    this.tenantResolver = deps.tenantResolver;
    this.runAs = deps.runAs;
    this.logger = deps.logger;
    this.clock = deps.clock ?? (() => performance.now());
    this.random = deps.random ?? Math.random;
    const tier = this.options.sharedTier;
    if (tier !== undefined) {
      // The tier's store is L1 + L2 and the version source in one, so versions have one owner.
      this.shared = tier.createStore({
        maxEntries: this.options.maxEntries,
        policy: this.options.policy,
        now: () => this.clock(),
        isShared: (entryKey) => this.resourceOf(entryKey)?.options.shared === true,
      });
      this.store = this.shared;
      this.versions = this.shared;
    } else {
      this.shared = undefined;
      this.versions = this.options.versionSource ?? new MemoryVersionSource();
      this.store = this.options.store ?? new MemoryCacheStore(this.options.maxEntries, this.options.policy);
    }
    this.store.onEvict?.((key) => this.onEvicted(key));
    this.store.onRemoteInvalidate?.((key) => {
      // Another instance made this entry stale: drop it (keeping the counts right) and its load.
      this.dropFlight(key);
      this.remove(this.resourceOf(splitStoreKey(key).entryKey), key);
    });
  }

  // ---------------------------------------------------------------- registration

  /**
   * Registers a loader under `key`. `options` override the module defaults for this resource.
   * @throws LazyConfigError on a duplicate key or an invalid option
   */
  register<T>(key: string, loader: () => T | Promise<T>, options?: LazyRegisterOptions): void {
    if (typeof key !== 'string' || key.length === 0) throw LazyKeyError.invalidKey('register', key);
    if (key.includes(TENANT_SEPARATOR)) throw LazyKeyError.separatorInKey('register', key);
    const context = `LazyLoader.register("${key}")`;
    if (typeof loader !== 'function') throw LazyConfigError.create(context, 'loader', loader, 'a function');
    this.addResource(key, resolveResourceOptions(this.options, options, context), loader, undefined, key);
  }

  isRegistered(key: string): boolean {
    return this.resources.has(key);
  }

  /** See `registerLazyMethod()`. `options` are raw and are validated here. */
  private registerMethod(name: string, options: unknown, method: LoaderFn, thisArg: unknown): LazyMethodCall {
    const context = `@LazyResource() on ${name}`;
    const resolved = resolveResourceOptions(this.options, options, context, true);
    if (resolved.preload && method.length > 0) throw LazyConfigError.preloadNeedsNoArgs(name, method.length);
    const res = this.addResource(name, resolved, method, thisArg, `${name}()`);
    return (entryKey, args) => this.call(res, entryKey, args);
  }

  private addResource(
    name: string,
    options: ResolvedResourceOptions,
    loader: LoaderFn,
    thisArg: unknown,
    preloadKey: string,
  ): ResourceState {
    if (this.resources.has(name)) throw LazyConfigError.duplicate(name);
    const res = new ResourceState(name, options, loader, thisArg, preloadKey);
    this.resources.set(name, res);
    if (this.preloadStarted && res.preloadState === 'pending') void this.preloadOne(res).catch(noop);
    return res;
  }

  /**
   * Attaches a metrics tracker (told about every successful load) and returns its detach function.
   * Costs nothing on a hit.
   */
  addMetricsTracker(tracker: LazyMetricsTracker): () => void {
    this.trackers.push(tracker);
    return () => {
      const i = this.trackers.indexOf(tracker);
      if (i >= 0) this.trackers.splice(i, 1);
    };
  }

  // ---------------------------------------------------------------- reads

  /**
   * The value of `key`: from cache when present and fresh, else loaded (once, however many callers).
   * With `{ organisationId }`, that organisation's entry (see `LazyReadOptions` for the cross-tenant rule).
   * @throws LazyKeyError when nothing is registered under `key`
   * @throws TenantRequiredError for a tenant-scoped resource outside a tenant scope
   * @throws LazyCrossTenantError for another organisation's entry from inside a tenant scope
   * @throws LazyLoadError when every attempt failed and no earlier value can be served
   * @throws LazyClosedError after `close()`
   */
  get<T>(key: string, options?: LazyReadOptions): Promise<T> {
    const res = this.resources.get(key);
    if (res === undefined) return Promise.reject(LazyKeyError.notRegistered(key));
    if (options === undefined) return this.call(res, key, EMPTY_ARGS) as Promise<T>;
    if (this.closed) return Promise.reject(LazyClosedError.create(key));
    let t: Target;
    try {
      t = this.target(key, options, 'get');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.access(t.res, t.sk, key, t.org, EMPTY_ARGS) as Promise<T>;
  }

  /** The hit path shared by `get()` and decorated methods. Deliberately not `async`. */
  private call(res: ResourceState, entryKey: string, args: readonly unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(LazyClosedError.create(entryKey));
    let org: string | undefined;
    let sk: string;
    // No tenant source at all (no TenantModule, no resolver) means a single-tenant app: tenant-scoped
    // resources share the global namespace instead of failing every call.
    if (res.options.tenantScoped && this.tenantResolver !== undefined) {
      org = this.tenantResolver();
      if (org === undefined)
        return Promise.reject(new TenantRequiredError(LazyMessages.tenantRequired(entryKey)));
      sk = res.storeKey(org, entryKey);
    } else {
      sk = entryKey;
    }
    return this.access(res, sk, entryKey, org, args);
  }

  private access(
    res: ResourceState,
    sk: string,
    entryKey: string,
    org: string | undefined,
    args: readonly unknown[],
  ): Promise<unknown> {
    const e = this.store.get(sk);
    if (e !== undefined) {
      // A get that arrives during a reload of its key joins the reload instead of hitting the value
      // the reload is replacing. One integer compare on the hit path while nothing reloads.
      if (res.reloading !== 0) {
        const f = this.inflight.get(sk);
        if (f !== undefined && f.forced) {
          res.misses++;
          res.coalesced++;
          return f.promise;
        }
      }
      if (!res.ages || this.clock() < e.loadedAt + res.freshMs) {
        res.hits++;
        if (this.subject.observed) this.emitHit(res, entryKey, org, e);
        return Promise.resolve(e.value);
      }
      return this.onDeadline(res, sk, entryKey, org, e, args);
    }
    res.misses++;
    if (this.subject.observed)
      this.subject.next({ type: 'miss', resource: res.name, key: entryKey, organisationId: org });
    return this.load(res, sk, entryKey, org, args, false);
  }

  /** A stale or expired entry. */
  private onDeadline(
    res: ResourceState,
    sk: string,
    entryKey: string,
    org: string | undefined,
    e: LazyEntry,
    args: readonly unknown[],
  ): Promise<unknown> {
    const now = this.clock();
    const o = res.options;
    const expired = now >= e.loadedAt + o.ttlMs;
    if (expired || o.refresh === 'blocking') {
      res.misses++;
      if (this.subject.observed)
        this.subject.next({ type: 'miss', resource: res.name, key: entryKey, organisationId: org });
      // An expired entry is kept only as the serve-on-error fallback.
      if (expired && !o.serveStaleOnError) this.remove(res, sk);
      return this.load(res, sk, entryKey, org, args, false);
    }
    // Stale-while-revalidate: serve now, refresh once. This is normal operation, so it is counted
    // (staleServed, the alert event) and logged at debug level only.
    res.hits++;
    res.staleServed++;
    if (res.staleServingSince === undefined) res.staleServingSince = now;
    if (!this.inflight.has(sk)) {
      this.alert(
        'stale-served',
        res,
        entryKey,
        org,
        e,
        LazyMessages.alertStaleServed(entryKey, now - e.loadedAt, o.staleAfterMs, 'stale'),
        'debug',
      );
      this.load(res, sk, entryKey, org, args, false, true).catch(noop);
    }
    return Promise.resolve(e.value);
  }

  /**
   * Forces a fresh load of `key` and returns the new value. Single-flight: reloads that arrive while
   * one is running join it, and so does a `get` of the key. A reload that arrives during an ordinary
   * load waits for it (its value may predate the reason for the reload), then loads again, once for
   * every reload that arrived meanwhile.
   * @throws LazyCrossTenantError for another organisation's entry from inside a tenant scope
   * @throws LazyClosedError after `close()`
   */
  reload<T>(key: string, options?: LazyReadOptions): Promise<T> {
    if (this.closed) return Promise.reject(LazyClosedError.create(key));
    let target: Target;
    try {
      target = this.target(key, options, 'reload');
    } catch (err) {
      return Promise.reject(err);
    }
    const { res, sk, org } = target;
    if (res.name !== key && res.preloadKey !== key) {
      // A decorated method's entry with arguments: reload() has no arguments to call it with.
      return Promise.reject(LazyKeyError.notReloadable(key, res.name));
    }
    const start = (): Promise<T> => {
      if (this.closed) return Promise.reject(LazyClosedError.create(key));
      const now = this.inflight.get(sk);
      if (now !== undefined && now.forced) return now.promise as Promise<T>;
      return this.load(res, sk, key, org, EMPTY_ARGS, true) as Promise<T>;
    };
    const running = this.inflight.get(sk);
    if (running === undefined || running.forced) return start();
    running.queuedReload ??= running.promise.then(start, start);
    return running.queuedReload as Promise<T>;
  }

  private load(
    res: ResourceState,
    sk: string,
    entryKey: string,
    org: string | undefined,
    args: readonly unknown[],
    forced: boolean,
    background = false,
  ): Promise<unknown> {
    const running = this.inflight.get(sk);
    if (running !== undefined && !forced) {
      res.coalesced++;
      return running.promise;
    }
    // A reload taking over from an ordinary load still running (a reload queued behind a load that an
    // invalidation dropped finds the next one running): that load may read older data and end after
    // the reload, overwriting it in the cache, so it is detached like an invalidated one.
    if (running !== undefined) this.dropFlight(sk);
    const flight: Flight = {
      promise: undefined as unknown as Promise<unknown>,
      discarded: false,
      background,
      forced,
      queuedReload: undefined,
    };
    this.inflight.set(sk, flight);
    flight.promise = this.runLoad(flight, res, sk, entryKey, org, args);
    if (forced) {
      res.reloading++;
      const done = (): void => void res.reloading--;
      flight.promise.then(done, done);
    }
    return flight.promise;
  }

  private async runLoad(
    flight: Flight,
    res: ResourceState,
    sk: string,
    entryKey: string,
    org: string | undefined,
    args: readonly unknown[],
  ): Promise<unknown> {
    const o = res.options;
    const t0 = this.clock();
    try {
      if (this.store.fetchRemote !== undefined) {
        const remote = await this.store.fetchRemote(sk, flight.forced);
        if (remote !== undefined && this.clock() < remote.loadedAt + o.ttlMs) {
          this.versions.seen(res.name, remote.version);
          if (!flight.discarded && !this.closed) this.put(res, sk, remote);
          return remote.value;
        }
      }
      for (let attempt = 1; ; attempt++) {
        let value: unknown;
        let sourceVersion: unknown;
        let version: number;
        try {
          value = await this.callLoader(res, args, entryKey, org, attempt);
          if (o.versionOf !== undefined) sourceVersion = o.versionOf(value);
          const v = this.versions.next(res.name, sk);
          version = typeof v === 'number' ? v : await v;
        } catch (err) {
          res.errors++;
          let again = attempt < o.retry.attempts && !this.closed;
          if (again) {
            try {
              again = o.retry.retryIf(err, attempt) === true;
            } catch {
              again = false;
            }
          }
          if (again) {
            const delayMs = backoffDelay(attempt, o.retry, this.random);
            res.retries++;
            if (this.subject.observed) {
              this.subject.next({
                type: 'retry',
                resource: res.name,
                key: entryKey,
                organisationId: org,
                attempt,
                delayMs,
                error: err,
              });
            }
            if (await this.sleep(delayMs)) continue;
          }
          return this.failed(flight, res, sk, entryKey, org, attempt, err);
        }
        return this.loaded(flight, res, sk, entryKey, org, value, sourceVersion, version, attempt, t0);
      }
    } finally {
      if (this.inflight.get(sk) === flight) this.inflight.delete(sk);
    }
  }

  /**
   * One loader call, in the scope of the entry it fills (`runAs`), bounded by `loadTimeoutMs` (miss
   * path only: a hit never gets here). A late result of a call that timed out is dropped; the timer
   * is unref'd and cleared on settle.
   */
  private callLoader(
    res: ResourceState,
    args: readonly unknown[],
    entryKey: string,
    org: string | undefined,
    attempt: number,
  ): unknown {
    const fn = res.loader as (...a: unknown[]) => unknown;
    const call =
      this.runAs === undefined
        ? fn.apply(res.thisArg, args as unknown[])
        : this.runAs(org, () => fn.apply(res.thisArg, args as unknown[]));
    const timeoutMs = res.options.loadTimeoutMs;
    if (timeoutMs === Infinity) return call;
    return withDeadline(call, timeoutMs, () => LazyTimeoutError.create(entryKey, timeoutMs, attempt));
  }

  private loaded(
    flight: Flight,
    res: ResourceState,
    sk: string,
    entryKey: string,
    org: string | undefined,
    value: unknown,
    sourceVersion: unknown,
    version: number,
    attempts: number,
    t0: number,
  ): unknown {
    const o = res.options;
    const now = this.clock();
    // Whole milliseconds, rounded up: timers may fire a fraction of a millisecond early, and a
    // 100 ms load must never read as 99.3 ms.
    const durationMs = Math.ceil(now - t0);
    res.loads++;
    res.consecutiveFailures = 0;
    res.lastSuccessAt = now;
    res.staleServingSince = undefined;
    res.loadTimes.record(durationMs);
    this.totalLoadTimes.record(durationMs);
    this.sampleTrends(res, now, durationMs);
    for (let i = 0; i < this.trackers.length; i++) this.trackers[i].loaded(res.name, durationMs);
    const cur = this.store.peek(sk);
    // Whole ms (rounded down) keep loadedAt a small integer, which the engine stores unboxed.
    const entry: LazyEntry = { value, version, loadedAt: Math.floor(now), sourceVersion };
    if (cur !== undefined && o.versionOf !== undefined && !Object.is(cur.sourceVersion, sourceVersion)) {
      res.drifts++;
      this.alert(
        'drift-detected',
        res,
        entryKey,
        org,
        entry,
        LazyMessages.alertDrift(
          entryKey,
          cur.sourceVersion,
          sourceVersion,
          now >= cur.loadedAt + o.staleAfterMs,
        ),
      );
    }
    // After close() a load still settles for its callers, but nothing new enters the cache.
    if (!flight.discarded && !this.closed) this.put(res, sk, entry);
    if (this.subject.observed) {
      this.subject.next({
        type: 'load',
        resource: res.name,
        key: entryKey,
        organisationId: org,
        version,
        durationMs,
        attempts,
      });
    }
    return value;
  }

  private failed(
    flight: Flight,
    res: ResourceState,
    sk: string,
    entryKey: string,
    org: string | undefined,
    attempts: number,
    err: unknown,
  ): unknown {
    const now = this.clock();
    // Let another instance load at once instead of waiting out this one's fleet lease. A discarded
    // load gave its claim up when it was dropped (dropFlight): the claim there now is the live load's.
    if (!flight.discarded) this.shared?.loadFailed(sk);
    res.failures++;
    res.consecutiveFailures++;
    res.lastError = err;
    this.sampleTrends(res, now, undefined);
    if (this.subject.observed)
      this.subject.next({
        type: 'error',
        resource: res.name,
        key: entryKey,
        organisationId: org,
        attempts,
        error: err,
      });
    const cur = flight.discarded ? undefined : this.store.peek(sk);
    if (cur !== undefined) {
      res.refreshFailures++;
      this.alert(
        'refresh-failed',
        res,
        entryKey,
        org,
        cur,
        LazyMessages.alertRefreshFailed(entryKey, attempts, res.consecutiveFailures, err),
      );
      if (res.options.serveStaleOnError) {
        if (!flight.background) {
          res.staleServed++;
          if (res.staleServingSince === undefined) res.staleServingSince = now;
          this.alert(
            'stale-served',
            res,
            entryKey,
            org,
            cur,
            LazyMessages.alertStaleServed(entryKey, now - cur.loadedAt, res.options.staleAfterMs, 'error'),
          );
        }
        return cur.value;
      }
    }
    throw LazyLoadError.create(entryKey, attempts, err);
  }

  private put(res: ResourceState, sk: string, entry: LazyEntry): void {
    if (this.store.peek(sk) === undefined) {
      res.entries++;
      // A new key is stored as a flat copy: keys are built by concatenation (`prefix + arg + ')'`,
      // `org + '\0' + key`), which the engine keeps as a tree of cons strings, and the store would
      // hold that tree for the entry's life (about 65 bytes more per entry than the flat string).
      // Miss path only; the hit path looks up with whatever string it has.
      this.store.set(flatString(sk), entry);
    } else {
      this.store.set(sk, entry);
    }
  }

  private remove(res: ResourceState | undefined, sk: string): void {
    if (this.store.delete(sk) && res !== undefined) res.entries--;
  }

  /** The resource an entry key belongs to: a registered key, or `Class.method` of `Class.method(args)`. */
  private resourceOf(entryKey: string): ResourceState | undefined {
    const res = this.resources.get(entryKey);
    if (res !== undefined) return res;
    const paren = entryKey.indexOf('(');
    return paren > 0 ? this.resources.get(entryKey.slice(0, paren)) : undefined;
  }

  private onEvicted(sk: string): void {
    const { org, entryKey } = splitStoreKey(sk);
    const res = this.resourceOf(entryKey);
    if (res === undefined) return;
    res.entries--;
    res.evictions++;
    if (this.subject.observed) {
      this.subject.next({ type: 'eviction', resource: res.name, key: entryKey, organisationId: org });
    }
  }

  private sampleTrends(res: ResourceState, now: number, durationMs: number | undefined): void {
    res.hitRatioTrend.add(now, ratio(res.hits, res.misses));
    if (durationMs !== undefined) {
      res.loadTimeTrend.add(now, durationMs);
      this.totalLoadTimeTrend.add(now, durationMs);
    }
    let h = 0;
    let m = 0;
    for (const r of this.resources.values()) {
      h += r.hits;
      m += r.misses;
    }
    this.totalHitRatioTrend.add(now, ratio(h, m));
  }

  private sleep(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve(true);
      }, ms);
      t.unref?.();
      this.timers.set(t, resolve);
    });
  }

  // ---------------------------------------------------------------- inspection

  /** The cached value of `key` for the current (or given) tenant, without loading or counting. */
  peek<T>(key: string, options?: LazyReadOptions): T | undefined {
    return this.entry(key, options, 'peek')?.value as T | undefined;
  }

  /**
   * The version of the cached entry (see `VersionSource`), 0 when nothing is cached. Each load of the
   * entry gets a higher version than every earlier one, across expiry, eviction and invalidation.
   */
  version(key: string, options?: LazyReadOptions): number {
    return this.entry(key, options, 'version')?.version ?? 0;
  }

  /** True when `key` has a cached value older than its `staleAfterMs`. */
  isStale(key: string, options?: LazyReadOptions): boolean {
    const t = this.target(key, options, 'isStale');
    const e = this.store.peek(t.sk);
    return e !== undefined && this.clock() >= e.loadedAt + t.res.options.staleAfterMs;
  }

  private entry(key: string, options: LazyReadOptions | undefined, method: string): LazyEntry | undefined {
    return this.store.peek(this.target(key, options, method).sk);
  }

  /**
   * Resolves a registered key, or a decorated entry key `Class.method(args)`, to its store key, for
   * the current tenant or an explicit `organisationId` (refused across tenants unless allowed).
   */
  private target(key: string, options: LazyReadOptions | undefined, method: string): Target {
    if (typeof key !== 'string' || key.length === 0) throw LazyKeyError.invalidKey(method, key);
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw LazyConfigError.create(`LazyLoader.${method}()`, 'options', options, LazyMessages.readOptions);
    }
    const res = this.resourceOf(key);
    if (res === undefined) throw LazyKeyError.notRegistered(key);
    // Without a tenant resolver the app is single-tenant (see call()): one namespace for everyone.
    if (!res.options.tenantScoped || this.tenantResolver === undefined)
      return { res, sk: key, org: undefined };
    const current = this.tenantResolver();
    const explicit = options?.organisationId;
    if (explicit === undefined) {
      if (current === undefined) throw new TenantRequiredError(LazyMessages.tenantRequired(key));
      return { res, sk: res.storeKey(current, key), org: current };
    }
    if (typeof explicit !== 'string' || explicit.length === 0 || explicit.includes(TENANT_SEPARATOR)) {
      throw LazyConfigError.create(`LazyLoader.${method}()`, 'options', options, LazyMessages.readOptions);
    }
    if (
      current !== undefined &&
      current !== explicit &&
      options?.allowCrossTenant !== true &&
      !res.options.allowCrossTenant
    ) {
      throw LazyCrossTenantError.create(key, current, explicit);
    }
    return { res, sk: res.storeKey(explicit, key), org: explicit };
  }

  /**
   * Drops cached entries whose key starts with `keyOrPrefix` (a registered key, `Class.method` or
   * `Class.method(args)`), and detaches matching in-flight loads so their results are not cached.
   * Scope: `{ organisationId }` one tenant, `{ allTenants: true }` every tenant; by default the current
   * tenant when in scope, else every tenant. Global (`tenantScoped: false`) entries always match.
   * Invalidation never reads or writes a value, so it is not subject to the cross-tenant rule.
   * @returns the number of entries removed
   */
  invalidate(keyOrPrefix: string, options: LazyInvalidateOptions = {}): number {
    if (typeof keyOrPrefix !== 'string' || keyOrPrefix.length === 0)
      throw LazyKeyError.invalidKey('invalidate', keyOrPrefix);
    if (options.organisationId !== undefined && options.allTenants) {
      throw LazyConfigError.create(
        'LazyLoader.invalidate()',
        'options',
        options,
        LazyMessages.invalidateTarget,
      );
    }
    const org = options.allTenants ? undefined : (options.organisationId ?? this.tenantResolver?.());
    const matches = (storeKey: string): boolean => {
      const i = storeKey.indexOf(TENANT_SEPARATOR);
      // i === -1 for a global entry: the entry key starts at 0 and every scope matches.
      return (
        storeKey.startsWith(keyOrPrefix, i + 1) &&
        (i < 0 || org === undefined || storeKey.slice(0, i) === org)
      );
    };
    let removed = 0;
    const published = new Set<string>();
    for (const sk of [...this.store.keys()]) {
      if (!matches(sk)) continue;
      const { org: entryOrg, entryKey } = splitStoreKey(sk);
      const res = this.resourceOf(entryKey);
      this.remove(res, sk);
      removed++;
      if (this.shared !== undefined) {
        this.shared.invalidateShared(sk);
        published.add(sk);
      }
      if (res === undefined) continue;
      res.invalidations++;
      if (this.subject.observed) {
        this.subject.next({
          type: 'invalidate',
          resource: res.name,
          key: entryKey,
          organisationId: entryOrg,
        });
      }
    }
    for (const sk of [...this.inflight.keys()]) if (matches(sk)) this.dropFlight(sk);
    if (this.shared !== undefined) this.publishInvalidation(keyOrPrefix, org, published);
    return removed;
  }

  /**
   * Detaches the load in flight of `sk`: its callers still get its result, the cache does not. Its
   * fleet claim (lease and reserved version) goes with it at once: kept, the next load of the key
   * would wait out the lease in every instance, load locally and take the dead load's version.
   */
  private dropFlight(sk: string): void {
    const f = this.inflight.get(sk);
    if (f !== undefined) {
      f.discarded = true;
      this.inflight.delete(sk);
      this.shared?.loadFailed(sk);
    }
  }

  // ---------------------------------------------------------------- preload

  /** True once every resource marked `preload` has finished preloading (successfully or not). */
  get ready(): boolean {
    for (const r of this.resources.values()) if (r.preloadState === 'pending') return false;
    return true;
  }

  /**
   * Loads every resource marked `preload`, at most `preloadConcurrency` at a time, outside any tenant
   * scope. A failed preload is logged and loaded again on first use.
   * @throws LazyLoadError of the first failed `required` resource, after all preloads finished
   */
  async preload(): Promise<{ loaded: string[]; failed: string[] }> {
    this.preloadStarted = true;
    const t0 = this.clock();
    const todo = [...this.resources.values()].filter((r) => r.preloadState === 'pending');
    const loaded: string[] = [];
    const failed: string[] = [];
    let requiredError: unknown;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length) {
        const res = todo[next++];
        try {
          await this.preloadOne(res);
          loaded.push(res.name);
        } catch (err) {
          failed.push(res.name);
          if (res.options.required && requiredError === undefined) requiredError = err;
        }
      }
    };
    const n = Math.min(this.options.preloadConcurrency, todo.length);
    await Promise.all(Array.from({ length: n }, worker));
    if (todo.length > 0)
      this.logger?.log(LazyMessages.preloadDone(loaded.length, failed.length, this.clock() - t0));
    if (requiredError !== undefined) throw requiredError;
    return { loaded, failed };
  }

  private async preloadOne(res: ResourceState): Promise<void> {
    try {
      await this.call(res, res.preloadKey, EMPTY_ARGS);
      res.preloadState = 'done';
    } catch (err) {
      res.preloadState = 'failed';
      (res.options.required ? this.logger?.error : this.logger?.warn)?.call(
        this.logger,
        LazyMessages.preloadFailed(res.preloadKey, err),
      );
      throw err;
    }
  }

  // ---------------------------------------------------------------- stats

  /** Metrics of one resource, or of all resources with totals. */
  stats(): LazyStats;
  stats(resource: string): LazyResourceStats;
  stats(resource?: string): LazyStats | LazyResourceStats {
    if (resource !== undefined) {
      const res = this.resources.get(resource);
      if (res === undefined) throw LazyKeyError.notRegistered(resource);
      return this.resourceStats(res);
    }
    const resources: Record<string, LazyResourceStats> = {};
    const total = {
      hits: 0,
      misses: 0,
      coalesced: 0,
      loads: 0,
      errors: 0,
      failures: 0,
      retries: 0,
      evictions: 0,
      invalidations: 0,
      staleServed: 0,
      refreshFailures: 0,
      drifts: 0,
      hitRatio: 0,
      entries: 0,
    };
    for (const res of this.resources.values()) {
      const s = this.resourceStats(res);
      resources[res.name] = s;
      for (const k of Object.keys(total) as (keyof typeof total)[]) if (k !== 'hitRatio') total[k] += s[k];
    }
    total.hitRatio = ratio(total.hits, total.misses);
    total.entries = this.store.size;
    return {
      total: {
        ...total,
        loadTime: loadTimeStats(this.totalLoadTimes),
        trend: {
          hitRatio: this.totalHitRatioTrend.snapshot(),
          loadTimeMs: this.totalLoadTimeTrend.snapshot(),
        },
      },
      resources,
      ...(this.shared !== undefined ? { shared: this.shared.stats() } : {}),
      maxEntries: this.options.store ? NaN : this.options.maxEntries,
      policy: this.options.store ? 'custom' : this.options.policy,
    };
  }

  /**
   * The fleet side of `invalidate()`, beyond the entries this instance holds (published above): an
   * exact registered key is invalidated by name for its tenant (or globally); a prefix within one
   * organisation bumps that organisation's namespace (O(1), it also drops its other shared entries);
   * a prefix across all tenants reaches only the entries this instance holds.
   */
  private publishInvalidation(keyOrPrefix: string, org: string | undefined, published: Set<string>): void {
    const shared = this.shared as LazySharedStore;
    const res = this.resources.get(keyOrPrefix);
    if (res !== undefined) {
      if (!res.options.shared) return;
      if (!res.options.tenantScoped) {
        if (!published.has(keyOrPrefix)) shared.invalidateShared(keyOrPrefix);
      } else if (org !== undefined) {
        const sk = res.storeKey(org, keyOrPrefix);
        if (!published.has(sk)) shared.invalidateShared(sk);
      }
      return;
    }
    if (org !== undefined) shared.invalidateTenantShared(org);
  }

  /** Names of all registered resources. */
  resourceNames(): string[] {
    return [...this.resources.keys()];
  }

  private resourceStats(res: ResourceState): LazyResourceStats {
    return {
      resource: res.name,
      tenantScoped: res.options.tenantScoped,
      required: res.options.required,
      preload: res.preloadState,
      hits: res.hits,
      misses: res.misses,
      coalesced: res.coalesced,
      loads: res.loads,
      errors: res.errors,
      failures: res.failures,
      retries: res.retries,
      evictions: res.evictions,
      invalidations: res.invalidations,
      staleServed: res.staleServed,
      refreshFailures: res.refreshFailures,
      drifts: res.drifts,
      hitRatio: ratio(res.hits, res.misses),
      entries: res.entries,
      loadTime: loadTimeStats(res.loadTimes),
      trend: { hitRatio: res.hitRatioTrend.snapshot(), loadTimeMs: res.loadTimeTrend.snapshot() },
      consecutiveFailures: res.consecutiveFailures,
      lastError:
        res.lastError === undefined ? undefined : String((res.lastError as Error)?.message ?? res.lastError),
      lastSuccessAt: res.lastSuccessAt,
      latestVersion: this.versions.latest(res.name),
      staleServingSince: res.staleServingSince,
    };
  }

  /** Current clock reading (the one staleness and health use). */
  now(): number {
    return this.clock();
  }

  /** True after `close()`. */
  get isClosed(): boolean {
    return this.closed;
  }

  // ---------------------------------------------------------------- events

  private emitHit(res: ResourceState, entryKey: string, org: string | undefined, e: LazyEntry): void {
    this.subject.next({
      type: 'hit',
      resource: res.name,
      key: entryKey,
      organisationId: org,
      version: e.version,
    });
  }

  private alert(
    alert: LazyAlertKind,
    res: ResourceState,
    entryKey: string,
    org: string | undefined,
    e: LazyEntry,
    message: string,
    level: 'warn' | 'debug' = 'warn',
  ): void {
    if (level === 'warn') this.logger?.warn(message);
    else this.logger?.debug?.(message);
    if (this.subject.observed) {
      this.subject.next({
        type: 'alert',
        alert,
        message,
        resource: res.name,
        key: entryKey,
        organisationId: org,
        version: e.version,
      });
    }
  }

  /**
   * Shuts the loader: `get`, `reload` and decorated methods reject with `LazyClosedError` from now
   * on; loads in flight settle for their callers but are not cached; pending retries give up at once
   * (no timer is left); `events$` completes. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [t, resolve] of this.timers) {
      clearTimeout(t);
      resolve(false);
    }
    this.timers.clear();
    this.shared?.detach();
    this.subject.complete();
  }
}

function loadTimeStats(w: SampleWindow): LazyLoadTimeStats {
  const [p50Ms, p95Ms, p99Ms] = w.percentiles([0.5, 0.95, 0.99]);
  return { count: w.count, lastMs: w.last(), p50Ms, p95Ms, p99Ms };
}
