// Framework-free entry (`@reservoir/pool/core`): the pool and its pg helpers, no `@nestjs/*` at run
// time or in the declarations. The root barrel re-exports all of this next to the Nest layer.
export * from './pool.types';
export { Pool } from './pool';
export {
  PoolError,
  PoolTimeoutError,
  PoolExhaustedError,
  PoolClosedError,
  PoolConfigError,
  PoolReleaseError,
  PoolUnbindError,
} from './pool.errors';
export { POOL_DEFAULTS, type PoolDefaults } from './pool.defaults';
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
// Auto-sizing (opt-in)
export { AutoSizeOptions } from './autosize/autosize.options';
export {
  FleetBudgetOptions,
  type FleetLeaseState,
  type FleetRedisClient,
  type FleetStats,
} from './autosize/fleet-budget';
export {
  AutoSizeController,
  type AutoSizeDecision,
  type AutoSizeReason,
  type AutoSizeSignals,
  type SizingAdvice,
} from './autosize/autosize.controller';
export { isTooManyConnectionsError } from './autosize/autosize.window';
