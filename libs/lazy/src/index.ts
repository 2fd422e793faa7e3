// Public API barrel: hand-picked. Internal tokens, the explorer and the metadata accessor stay private.
export { LazyModule } from './lazy.module';
export type { LazyModuleAsyncOptions, LazyModuleExtras } from './lazy.module-definition';
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
export { LazyLoader } from './lazy-loader.service';
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
export { LazyResource } from './lazy-resource.decorator';
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
// Terminus is an optional peer: the indicator loads it lazily, so this re-export is safe without it.
export {
  LazyHealthIndicator,
  evaluateLazyHealth,
  type LazyHealthDetails,
  type LazyHealthSource,
  type LazyHealthState,
} from './lazy.health';
