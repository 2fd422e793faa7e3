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
export {
  PoolExceptionFilter,
  PoolExceptionFilterOptions,
  POOL_EXCEPTION_FILTER_OPTIONS,
  type PoolUnavailableBody,
} from './pool-exception.filter';
export { InjectPool } from './pool.decorators';
// Terminus is an optional peer: the indicator loads it lazily, so this re-export is safe without it.
export {
  PoolHealthIndicator,
  type PoolHealthCheckOptions,
  type PoolHealthDetails,
} from './pool.health-indicator';
