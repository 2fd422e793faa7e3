// Public API barrel: hand-picked. Internal tokens stay private.
export { ReservoirMetricsModule } from './metrics.module';
export type { ReservoirMetricsExtras } from './metrics.module-definition';
export { ReservoirMetrics } from './metrics.service';
export { ReservoirMetricsCollector, HEALTH_STATE_VALUE, OTHER_TENANTS_LABEL } from './metrics.collector';
export {
  ReservoirMetricsOptions,
  PerTenantMetricsOptions,
  MetricsBucketOptions,
  resolveMetricsOptions,
  type ResolvedMetricsOptions,
} from './metrics.options';
export type { MetricsPoolSource, MetricsLazySource, MetricsSources } from './metrics.sources';
export { MetricsConfigError } from './metrics.errors';
