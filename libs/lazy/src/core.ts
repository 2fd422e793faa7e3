// Framework-free entry (`@reservoir/lazy/core`): the loader core, its cache stores, versions, options and
// errors, no `@nestjs/*` at run time. The root barrel re-exports all of this next to the Nest layer.
export {
  LazyModuleOptions,
  LazyResourceOptions,
  LazyResourceDefaults,
  LazyRegisterOptions,
  LazyRetryOptions,
  LazyHealthCheckOptions,
  type LazyEvictionPolicy,
  type LazyRetryIf,
} from './lazy.options';
export {
  LazyLoaderCore,
  type LazyLoaderCoreDeps,
  type LazyScopeRunner,
  type LazyMetricsTracker,
  type LazyInvalidateOptions,
  type LazyReadOptions,
  type LazyStats,
  type LazyResourceStats,
  type LazyCounters,
  type LazyLoadTimeStats,
} from './lazy-loader.core';
export { MemoryCacheStore, type CacheStore, type LazyEntry } from './cache-store';
export type { LazyEvent, LazyAlertKind, LazyLogger } from './lazy.events';
export { MemoryVersionSource, type VersionSource } from './lazy-versions';
export type {
  LazySharedTier,
  LazySharedStats,
  LazySharedState,
  LazySharedStore,
  LazySharedStoreOptions,
} from './lazy-shared';
export {
  LazyLoadError,
  LazyConfigError,
  LazyKeyError,
  LazyTimeoutError,
  LazyCrossTenantError,
  LazyClosedError,
} from './lazy.errors';
