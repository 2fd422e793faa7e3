/**
 * Options of `ReservoirMetricsModule.forRoot()` and of the framework-free
 * `ReservoirMetricsCollector`. The field initialisers are the defaults, and this is the only
 * place they are written down.
 */
import { OptionChecker } from '@reservoir/core';
import { Registry } from 'prom-client';
import { MetricsConfigError } from './metrics.errors';

/**
 * Per-tenant series (`organisation` label) are opt-in: tenant ids are unbounded, and every id is a
 * new time series in Prometheus.
 *
 * @publicApi
 */
export class PerTenantMetricsOptions {
  /** Emit `reservoir_pool_tenant_*` series. @default false */
  enabled?: boolean = false;
  /**
   * At most this many organisations get their own series per pool: the first ones seen. Every
   * later organisation is counted under `organisation="__other__"`, so cardinality stays bounded
   * and each series stays a monotonic counter.
   * @default 20
   */
  maxTenants?: number = 20;
}

/** Histogram bucket bounds, in seconds. @publicApi */
export class MetricsBucketOptions {
  /** `reservoir_pool_acquire_seconds`. @default 0.0005 … 30 */
  acquireSeconds?: number[] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
  ];
  /** `reservoir_pool_usage_seconds`. @default 0.001 … 60 */
  usageSeconds?: number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  /** `reservoir_lazy_load_seconds`. @default 0.001 … 30 */
  lazyLoadSeconds?: number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
}

/**
 * @publicApi
 */
export class ReservoirMetricsOptions {
  /**
   * The prom-client registry to register on. Pass your app's registry to expose Reservoir's
   * metrics next to your own; the default is a fresh registry per module, never prom-client's
   * global one, so two apps in one process don't collide.
   * @default new Registry()
   */
  registry?: Registry = undefined;
  /**
   * Prefix of every metric name.
   * @default 'reservoir_'
   */
  prefix?: string = 'reservoir_';
  /** Opt-in, bounded per-tenant series. */
  perTenant?: PerTenantMetricsOptions = new PerTenantMetricsOptions();
  /** Histogram buckets. */
  buckets?: MetricsBucketOptions = new MetricsBucketOptions();
  /**
   * Also register prom-client's default Node.js process metrics (CPU, memory, event loop lag, GC)
   * on the registry, with the same prefix (e.g. `reservoir_process_cpu_seconds_total`).
   * @default false
   */
  defaultMetrics?: boolean = false;
}

/** Options after validation and defaults. */
export interface ResolvedMetricsOptions {
  registry: Registry;
  prefix: string;
  perTenant: { enabled: boolean; maxTenants: number };
  buckets: { acquireSeconds: number[]; usageSeconds: number[]; lazyLoadSeconds: number[] };
  defaultMetrics: boolean;
}

const checker: OptionChecker = new OptionChecker(MetricsConfigError.create);
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function defined(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function checkBuckets(c: OptionChecker, key: string, value: unknown): number[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some(
      (b, i) => typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || (i > 0 && b <= value[i - 1]),
    )
  ) {
    throw c.error(key, value, 'a non-empty array of finite, positive, strictly increasing numbers');
  }
  return [...(value as number[])];
}

/**
 * Validates options and fills in defaults. Unknown keys are rejected; a key set to `undefined`
 * means "use the default".
 * @throws MetricsConfigError
 */
export function resolveMetricsOptions(input: unknown = {}): ResolvedMetricsOptions {
  checker.object('', input);
  const defaults = new ReservoirMetricsOptions();
  checker.knownKeys(input, Object.keys(defaults));
  const o = defined(input);

  let registry: Registry;
  if (o.registry !== undefined) {
    if (!(o.registry instanceof Registry))
      throw checker.error('registry', o.registry, 'a prom-client Registry');
    registry = o.registry;
  } else {
    registry = new Registry();
  }

  const prefix =
    o.prefix === undefined ? (defaults.prefix as string) : checker.string('prefix', o.prefix, false);
  if (prefix !== '' && !METRIC_NAME.test(prefix)) {
    throw checker.error('prefix', prefix, 'a valid Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)');
  }

  const perTenantDefaults = new PerTenantMetricsOptions();
  const perTenant = { enabled: false, maxTenants: perTenantDefaults.maxTenants as number };
  if (o.perTenant !== undefined) {
    checker.object('perTenant', o.perTenant);
    const p = checker.nested('perTenant');
    p.knownKeys(o.perTenant, Object.keys(perTenantDefaults));
    const pt = defined(o.perTenant);
    if (pt.enabled !== undefined) perTenant.enabled = p.boolean('enabled', pt.enabled);
    if (pt.maxTenants !== undefined) perTenant.maxTenants = p.integer('maxTenants', pt.maxTenants, 1, 10_000);
  }

  const bucketDefaults = new MetricsBucketOptions() as Required<MetricsBucketOptions>;
  const buckets = { ...bucketDefaults };
  if (o.buckets !== undefined) {
    checker.object('buckets', o.buckets);
    const b = checker.nested('buckets');
    b.knownKeys(o.buckets, Object.keys(bucketDefaults));
    for (const [k, v] of Object.entries(defined(o.buckets))) {
      buckets[k as keyof typeof buckets] = checkBuckets(b, k, v);
    }
  }

  const defaultMetrics =
    o.defaultMetrics === undefined ? false : checker.boolean('defaultMetrics', o.defaultMetrics);

  return { registry, prefix, perTenant, buckets, defaultMetrics };
}
