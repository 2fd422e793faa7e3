import type { CacheStore, LazyEntry } from './cache-store';
import type { LazyEvictionPolicy } from './lazy.options';
import type { VersionSource } from './lazy-versions';

/*
 * The seam between the loader and a shared tier. It lives in the main entry and names no Redis
 * type, so `@reservoir/lazy` never needs ioredis; `RedisTier` (`@reservoir/lazy/redis`) implements it.
 */

/** `'connected'`: the tier answers. `'degraded'`: unreachable, the loader serves L1 and loads locally. */
export type LazySharedState = 'connected' | 'degraded' | 'disconnected';

/**
 * `LazyLoader.stats().shared`, present when a shared tier is attached.
 *
 * @publicApi
 */
export interface LazySharedStats {
  state: LazySharedState;
  l2Hits: number;
  l2Misses: number;
  /** Misses served by another instance's load. */
  fleetLoadsJoined: number;
  invalidationsPublished: number;
  invalidationsReceived: number;
  /** Delivery lag of bus messages from other instances, in ms. */
  busLagMs: { p50: number; p99: number };
  /** Invalidations waiting for Redis to come back. */
  queuedInvalidations: number;
}

/** What the loader hands the tier when it attaches. */
export interface LazySharedStoreOptions {
  maxEntries: number;
  policy: LazyEvictionPolicy;
  /** The loader's clock; `loadedAt` of an entry read from L2 is stamped with it. */
  now: () => number;
  /** Whether the resource of an entry key is shared (`shared: false` keeps one local). */
  isShared: (entryKey: string) => boolean;
}

/** The loader's store and version source over a shared tier. */
export interface LazySharedStore extends CacheStore<LazyEntry>, VersionSource {
  /** The local miss path; `reload` skips L2 and the fleet lease (a reload always loads). */
  fetchRemote(key: string, reload?: boolean): Promise<LazyEntry | undefined>;
  /** The load of `key` failed: release anything it holds in the fleet. */
  loadFailed(key: string): void;
  /** Publishes an invalidation of one entry (queued while the tier is unreachable). */
  invalidateShared(key: string): void;
  /** Publishes an invalidation of every shared entry of one organisation (undefined = global). */
  invalidateTenantShared(organisationId: string | undefined): void;
  stats(): LazySharedStats;
  /** The loader closed: stop listening. The tier itself belongs to the application. */
  detach(): void;
}

/**
 * A shared tier for `LazyModule.forRoot({ shared })`, e.g. `new RedisTier({ url })`.
 *
 * @publicApi
 */
export interface LazySharedTier {
  createStore(options: LazySharedStoreOptions): LazySharedStore;
}
