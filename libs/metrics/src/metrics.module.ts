import { Module } from '@nestjs/common';
import { ConfigurableModuleClass } from './metrics.module-definition';
import { ReservoirMetrics } from './metrics.service';

/**
 * Prometheus metrics for every Reservoir pool (from `PoolRegistry`) and the `LazyLoader` (when
 * `LazyModule` is imported), built with prom-client and served at `GET /metrics`.
 *
 * @publicApi
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     PoolModule.forRoot({ name: 'db', factory, max: 10 }),
 *     ReservoirMetricsModule.forRoot({ perTenant: { enabled: true, maxTenants: 50 } }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({ providers: [ReservoirMetrics], exports: [ReservoirMetrics] })
export class ReservoirMetricsModule extends ConfigurableModuleClass {}
