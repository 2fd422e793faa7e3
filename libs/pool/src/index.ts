// Public API barrel: hand-picked. The framework-free part is listed once, in ./core (also published as
// `@reservoir/pool/core`); the Nest layer follows.
export * from './core';
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
