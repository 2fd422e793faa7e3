// Public API barrel: hand-picked. Filled in by the pool implementation.
export * from './pool.types';
// Framework-free core
export { Pool } from './pool';
export {
  PoolError,
  PoolTimeoutError,
  PoolExhaustedError,
  PoolClosedError,
  PoolConfigError,
  PoolReleaseError,
} from './pool.errors';
export { POOL_DEFAULTS } from './pool.defaults';
export { silentPoolLogger } from './pool.logger';
export {
  pgTenantBinding,
  withTenantTransaction,
  PG_TENANT_BINDING_DEFAULTS,
  type PgQueryable,
  type PgTenantBindingOptions,
} from './pg-tenant-binding';
export { pgClientFactory, type PgClientConfig, type PgClientFactoryOptions } from './pg-client-factory';
export { isPgConnectionError } from './pg-errors';
// Nest layer (PoolModule, registry, health indicator)
export { PoolModule } from './pool.module';
export type { PoolModuleOptions, PoolModuleExtras, PoolModuleAsyncOptions } from './pool.module-definition';
export { PoolRegistry } from './pool.registry';
export { DEFAULT_POOL_NAME, getPoolToken } from './pool.constants';
export { InjectPool } from './pool.decorators';
// Terminus is an optional peer: the indicator loads it lazily, so this re-export is safe without it.
export {
  PoolHealthIndicator,
  type PoolHealthCheckOptions,
  type PoolHealthDetails,
} from './pool.health-indicator';
// Auto-sizing (opt-in)
export { AutoSizeOptions } from './autosize/autosize.options';
export {
  AutoSizeController,
  type AutoSizeDecision,
  type AutoSizeReason,
  type AutoSizeSignals,
  type SizingAdvice,
} from './autosize/autosize.controller';
export { isTooManyConnectionsError } from './autosize/autosize.window';
