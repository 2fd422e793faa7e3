/**
 * The framework-free core of `@reservoir/metrics`: registers Reservoir's metrics on a prom-client
 * registry and keeps them current.
 *
 * - Gauges and the pool's cumulative counters are read at scrape time, in prom-client `collect()`
 *   callbacks, from `pool.stats()` / `pool.health()`: nothing runs between scrapes.
 * - Pool histograms (acquire wait, lease hold time) and per-tenant counters are fed through the
 *   pool's metrics tracker (`pool.setMetricsTracker`, HikariCP's `IMetricsTracker` model): direct
 *   calls, no event objects, and wait/hold times only for the pool's sampled leases, so the hot path
 *   stays fast with `/metrics` on. A source without `setMetricsTracker` is read from its `events$`.
 * - The lazy load-time histogram is fed by a `LazyMetricsTracker` the collector attaches to each
 *   loader (told about loads only), so a cache hit costs the same with or without metrics; lazy
 *   counters and versions are read from `loader.stats()` at scrape time, and so are the shared
 *   tier's `reservoir_lazy_shared_*` series (from `stats().shared`, when a tier is attached).
 * - Sources are re-listed on every scrape (and on `sync()`), so a pool registered later is picked up.
 *
 * Names follow HikariCP's Micrometer binding (`hikaricp_connections{state}`, `_acquire_seconds`,
 * `_usage_seconds`, `_timeout_total`, …), with `reservoir_` in place of `hikaricp_`.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import type {
  LazyMetricsTracker,
  LazyResourceStats,
  LazySharedState,
  LazySharedStats,
  LazyStats,
} from '@reservoir/lazy';
import type {
  PoolDestroyReason,
  PoolEvent,
  PoolHealth,
  PoolHealthState,
  PoolMetricsTracker,
  PoolStats,
} from '@reservoir/pool';
import {
  type ResolvedMetricsOptions,
  type ReservoirMetricsOptions,
  resolveMetricsOptions,
} from './metrics.options';
import type { MetricsLazySource, MetricsPoolSource, MetricsSources } from './metrics.sources';

/** Value of `reservoir_pool_health_state`. @publicApi */
export const HEALTH_STATE_VALUE: Readonly<Record<PoolHealthState, number>> = {
  HEALTHY: 0,
  DEGRADED: 1,
  UNHEALTHY: 2,
};

const DEFAULT_METRICS_MISNAMED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The `organisation` label of tenants past `perTenant.maxTenants`. @publicApi */
export const OTHER_TENANTS_LABEL = '__other__';

type LazyCounterStat = 'hits' | 'misses' | 'loads' | 'errors' | 'failures' | 'retries' | 'evictions';
/** Values of `reservoir_lazy_shared_state{state}`, one series each, so a dashboard can alert on any. */
const SHARED_STATES: readonly LazySharedState[] = ['connected', 'degraded', 'disconnected'];
type SharedCounterStat =
  'l2Hits' | 'l2Misses' | 'fleetLoadsJoined' | 'invalidationsPublished' | 'invalidationsReceived';
type PoolCounterStat = 'created' | 'createErrors' | 'timeouts' | 'acquired' | 'destroyed' | 'leaksDetected';

/** One pool's readings for the scrape in progress. */
interface Snapshot {
  name: string;
  stats: PoolStats;
  health: PoolHealth;
  tracked: TrackedPool;
}

/** First-come admission of at most `max` label values; the rest share `__other__`. */
class BoundedLabels {
  private readonly admitted = new Set<string>();
  constructor(private readonly max: number) {}
  label(value: string): string {
    if (this.admitted.has(value)) return value;
    if (this.admitted.size < this.max) {
      this.admitted.add(value);
      return value;
    }
    return OTHER_TENANTS_LABEL;
  }
  has(value: string): boolean {
    return this.admitted.has(value);
  }
}

/** One labelled series of a `TrackedHistogram`: plain counters, no label work per observation. */
class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    if (i < b.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram registered on the prom-client registry as a custom metric (its public
 * `registerMetric` / `get()` contract). prom-client's own `Histogram.observe` validates and hashes the
 * labels on every call, even through `labels()` children; on a pool's hot path that cost more than
 * the pool itself. Here a tracker holds its series and observing is a bucket search and two adds; the
 * exposition is built at scrape time.
 */
class TrackedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  seriesFor(pool: string): HistogramSeries {
    let s = this.series.get(pool);
    if (s === undefined) this.series.set(pool, (s = new HistogramSeries({ pool }, this.bounds)));
    return s;
  }

  observe(labels: { pool: string }, value: number): void {
    this.seriesFor(labels.pool).observe(value);
  }

  reset(): void {
    this.series.clear();
  }

  get(): {
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }>;
  } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        values.push({
          labels: { le: this.bounds[i], ...s.labels },
          value: acc,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/**
 * The collector's `PoolMetricsTracker` for one pool. prom-client children are resolved once (per
 * pool, and per tenant label), so a call costs a property read and an add, not a label hash.
 */
class CollectorTracker implements PoolMetricsTracker {
  private readonly wait: HistogramSeries;
  private readonly hold: HistogramSeries;

  constructor(
    acquireSeconds: TrackedHistogram,
    usageSeconds: TrackedHistogram,
    pool: string,
    /** Per-tenant counts of this pool, or undefined when per-tenant metrics are off. */
    private readonly tenantCounts: TenantCounts | undefined,
  ) {
    this.wait = acquireSeconds.seriesFor(pool);
    this.hold = usageSeconds.seriesFor(pool);
  }

  acquired(waitMs: number, organisationId: string | undefined): void {
    if (waitMs >= 0) this.wait.observe(waitMs / 1000);
    if (organisationId !== undefined && this.tenantCounts !== undefined) {
      this.tenantCounts.cell(organisationId).acquires++;
    }
  }

  released(holdMs: number): void {
    if (holdMs >= 0) this.hold.observe(holdMs / 1000);
  }

  timeout(organisationId: string | undefined): void {
    if (organisationId !== undefined && this.tenantCounts !== undefined) {
      this.tenantCounts.cell(organisationId).timeouts++;
    }
  }

  // Creates and destroys are counted from the pool's own totals at scrape time.
  created(): void {}
  destroyed(_reason: PoolDestroyReason): void {}
}

/** One organisation label's running totals. */
interface TenantCell {
  acquires: number;
  timeouts: number;
}

/**
 * Per-tenant acquire and timeout totals of one pool, kept as plain numbers (prom-client counters
 * validate and hash labels on every `inc`) and copied into the counters at scrape time.
 */
class TenantCounts {
  /** By label (tenants past the bound share `__other__`). */
  readonly byLabel = new Map<string, TenantCell>();
  /** By organisation id, so a repeat tenant costs one lookup. */
  private readonly byTenant = new Map<string, TenantCell>();

  constructor(private readonly tenants: BoundedLabels) {}

  cell(organisationId: string): TenantCell {
    let c = this.byTenant.get(organisationId);
    if (c === undefined) {
      const label = this.tenants.label(organisationId);
      c = this.byLabel.get(label);
      if (c === undefined) this.byLabel.set(label, (c = { acquires: 0, timeouts: 0 }));
      // Bounded like the labels: past the bound, ids resolve through `label()` each time.
      if (this.byTenant.size < 10_000) this.byTenant.set(organisationId, c);
    }
    return c;
  }
}

interface TrackedPool {
  /** Detaches the tracker (or unsubscribes from events$). */
  detach: () => void;
  /** stats()/health() of the scrape in progress (prom-client runs every collect() in one synchronous pass; cleared right after). */
  snapshot?: { stats: PoolStats; health: PoolHealth };
  tenants: BoundedLabels;
  /** Last seen value of each cumulative stat, to turn `stats()` totals into counter increments. */
  last: Record<PoolCounterStat, number>;
  /** Per-tenant totals (per-tenant metrics on only). */
  tenantCounts?: TenantCounts;
}

/**
 * @publicApi
 * @example
 * ```ts
 * const collector = new ReservoirMetricsCollector({ pools: () => [pool] }, { perTenant: { enabled: true } });
 * http.createServer(async (_, res) => res.end(await collector.metrics()));
 * ```
 */
export class ReservoirMetricsCollector {
  readonly options: ResolvedMetricsOptions;
  private readonly pools = new Map<MetricsPoolSource, TrackedPool>();
  /** Each loader with the detach function of the tracker attached to it. */
  private readonly lazies = new Map<MetricsLazySource, () => void>();
  private readonly lazyTracker: LazyMetricsTracker = {
    loaded: (resource, durationMs) => this.lazyLoadSeconds.observe({ resource }, durationMs / 1000),
  };
  private readonly lazySnapshots = new Map<MetricsLazySource, LazyStats>();
  private readonly metricsList: Array<{ name: string }> = [];
  private closed = false;

  // Pool metrics.
  private readonly connections: Gauge<'pool' | 'state'>;
  private readonly acquireSeconds: TrackedHistogram;
  private readonly usageSeconds: TrackedHistogram;
  private readonly tenantAcquires?: Counter<'pool' | 'organisation'>;
  private readonly tenantTimeouts?: Counter<'pool' | 'organisation'>;
  // Lazy metrics.
  private readonly lazyLoadSeconds: Histogram<'resource'>;
  /** Last seen stats() totals per loader and resource (key: `resource\u0000stat`). */
  private readonly lazyLast = new Map<MetricsLazySource, Map<string, number>>();
  /** Last seen `stats().shared` totals per loader. */
  private readonly sharedLast = new Map<MetricsLazySource, Map<SharedCounterStat, number>>();

  constructor(
    private readonly sources: MetricsSources,
    options: ReservoirMetricsOptions = {},
  ) {
    this.options = resolveMetricsOptions(options);
    const { registry, prefix: p, buckets, perTenant } = this.options;
    // collect() callbacks run with `this` bound to the metric; these arrows reach the collector.
    const forEachPool = (fn: (pool: Snapshot) => void) => {
      this.sync();
      for (const pool of this.pools.keys()) fn(this.snapshot(pool));
    };
    const lazyResources = () => this.lazyResources();

    this.connections = this.gauge({
      name: `${p}pool_connections`,
      help: 'Connections of the pool by state: active (leased), idle, pending (callers waiting to acquire).',
      labelNames: ['pool', 'state'],
      collect() {
        this.reset();
        forEachPool((pool) => {
          const s = pool.stats;
          this.set({ pool: pool.name, state: 'active' }, s.inUse);
          this.set({ pool: pool.name, state: 'idle' }, s.idle);
          this.set({ pool: pool.name, state: 'pending' }, s.pending);
        });
      },
    });
    this.scalarGauge(
      `${p}pool_connections_max`,
      'Maximum connections of the pool (max).',
      forEachPool,
      (pool) => pool.stats.max,
    );
    this.scalarGauge(
      `${p}pool_limit`,
      'Effective connection limit: the auto-sizing limit when autoSize is on, else max.',
      forEachPool,
      (pool) => pool.stats.autoSize?.limit ?? pool.stats.max,
    );
    this.scalarGauge(
      `${p}pool_connections_min`,
      'Minimum connections kept by the pool (min).',
      forEachPool,
      (pool) => pool.stats.min,
    );
    this.scalarGauge(
      `${p}pool_connections_size`,
      'Connections currently open (idle + active).',
      forEachPool,
      (pool) => pool.stats.size,
    );
    this.scalarGauge(
      `${p}pool_connections_creating`,
      'Connection creates in flight.',
      forEachPool,
      (pool) => pool.stats.creating,
    );
    this.scalarGauge(
      `${p}pool_utilization_ratio`,
      'Active connections / max.',
      forEachPool,
      (pool) => pool.stats.utilization,
    );
    this.scalarGauge(
      `${p}pool_health_state`,
      'Pool health: 0 = HEALTHY, 1 = DEGRADED, 2 = UNHEALTHY.',
      forEachPool,
      (pool) => HEALTH_STATE_VALUE[pool.health.state],
    );

    this.statCounter(`${p}pool_creates_total`, 'Connections created.', 'created', forEachPool);
    this.statCounter(
      `${p}pool_create_errors_total`,
      'Connection creates that failed.',
      'createErrors',
      forEachPool,
    );
    this.statCounter(`${p}pool_timeouts_total`, 'Acquires that timed out.', 'timeouts', forEachPool);
    this.statCounter(`${p}pool_acquires_total`, 'Successful acquires.', 'acquired', forEachPool);
    this.statCounter(
      `${p}pool_destroys_total`,
      'Connections destroyed (idle, lifetime, broken, close, ...).',
      'destroyed',
      forEachPool,
    );
    this.statCounter(
      `${p}pool_leaks_total`,
      'Leases held longer than leakDetectionMs.',
      'leaksDetected',
      forEachPool,
    );

    this.acquireSeconds = this.trackedHistogram({
      name: `${p}pool_acquire_seconds`,
      help: 'Time callers waited to acquire a connection (sampled leases).',
      buckets: buckets.acquireSeconds,
    });
    this.usageSeconds = this.trackedHistogram({
      name: `${p}pool_usage_seconds`,
      help: 'Time a connection was held between acquire and release.',

      buckets: buckets.usageSeconds,
    });

    if (perTenant.enabled) {
      const pools = () => {
        this.sync();
        return this.pools.entries();
      };
      this.tenantAcquires = this.counter({
        name: `${p}pool_tenant_acquires_total`,
        help: `Acquires per organisation (the first ${perTenant.maxTenants} seen per pool; the rest as "${OTHER_TENANTS_LABEL}").`,
        labelNames: ['pool', 'organisation'],
        collect() {
          this.reset();
          for (const [pool, t] of pools()) {
            for (const [organisation, c] of t.tenantCounts?.byLabel ?? []) {
              if (c.acquires > 0) this.inc({ pool: pool.name, organisation }, c.acquires);
            }
          }
        },
      });
      this.tenantTimeouts = this.counter({
        name: `${p}pool_tenant_timeouts_total`,
        help: `Acquire timeouts per organisation (bounded like ${p}pool_tenant_acquires_total).`,
        labelNames: ['pool', 'organisation'],
        collect() {
          this.reset();
          for (const [pool, t] of pools()) {
            for (const [organisation, c] of t.tenantCounts?.byLabel ?? []) {
              if (c.timeouts > 0) this.inc({ pool: pool.name, organisation }, c.timeouts);
            }
          }
        },
      });
      this.gauge({
        name: `${p}pool_tenant_connections_active`,
        help: `Connections leased per organisation (bounded like ${p}pool_tenant_acquires_total).`,
        labelNames: ['pool', 'organisation'],
        collect() {
          this.reset();
          forEachPool((pool) => {
            const sums = new Map<string, number>();
            for (const [org, t] of Object.entries(pool.stats.tenants)) {
              const label = pool.tracked.tenants.has(org) ? org : OTHER_TENANTS_LABEL;
              sums.set(label, (sums.get(label) ?? 0) + t.inUse);
            }
            for (const [organisation, n] of sums) this.set({ pool: pool.name, organisation }, n);
          });
        },
      });
    }

    // Lazy counters and the version gauge mirror `loader.stats()` at scrape time (versions have one
    // owner, the loader's VersionSource); the load-time histogram is fed by the load tracker.
    const lazyCounter = (kind: string, help: string, stat: LazyCounterStat) =>
      this.lazyStatCounter(`${p}lazy_${kind}_total`, help, ['resource'], (s, inc) => inc({}, s[stat], stat));
    lazyCounter('hits', 'Lazy resource accesses served from cache.', 'hits');
    lazyCounter('misses', 'Lazy resource accesses that found no usable cached value.', 'misses');
    lazyCounter('loads', 'Successful lazy loads (each one increments the entry version).', 'loads');
    lazyCounter('errors', 'Failed lazy loader calls (each attempt counts).', 'errors');
    lazyCounter('failures', 'Lazy loads that gave up after their last attempt.', 'failures');
    lazyCounter('retries', 'Lazy loader calls retried after a failure.', 'retries');
    lazyCounter('evictions', 'Lazy cache entries evicted.', 'evictions');
    this.lazyStatCounter(
      `${p}lazy_alerts_total`,
      'Lazy consistency alerts by kind: stale-served, refresh-failed, drift-detected.',
      ['resource', 'alert'],
      (s, inc) => {
        inc({ alert: 'stale-served' }, s.staleServed, 'staleServed');
        inc({ alert: 'refresh-failed' }, s.refreshFailures, 'refreshFailures');
        inc({ alert: 'drift-detected' }, s.drifts, 'drifts');
      },
    );
    this.gauge({
      name: `${p}lazy_entries`,
      help: 'Cached entries of each lazy resource (all tenants).',
      labelNames: ['resource'],
      collect() {
        this.reset();
        for (const [resource, s] of lazyResources()) this.set({ resource }, s.entries);
      },
    });
    this.gauge({
      name: `${p}lazy_hit_ratio`,
      help: 'hits / (hits + misses) of each lazy resource since start.',
      labelNames: ['resource'],
      collect() {
        this.reset();
        for (const [resource, s] of lazyResources()) this.set({ resource }, s.hitRatio);
      },
    });
    this.lazyLoadSeconds = this.histogram({
      name: `${p}lazy_load_seconds`,
      help: 'Duration of successful lazy loads, retries included.',
      labelNames: ['resource'],
      buckets: buckets.lazyLoadSeconds,
    });
    this.gauge({
      name: `${p}lazy_version`,
      help: 'Latest version loaded of each lazy resource (the highest over its entries and tenants).',
      labelNames: ['resource'],
      collect() {
        for (const [resource, s] of lazyResources()) this.set({ resource }, s.latestVersion);
      },
    });

    // Shared tier series, read from `loader.stats().shared` at scrape time. A loader without a tier
    // has no `shared` and adds nothing; several loaders (each with its own store) are summed, and the
    // state gauge counts loaders per state.
    const sharedStats = () => this.sharedStats();
    this.gauge({
      name: `${p}lazy_shared_state`,
      help: 'Loaders whose shared tier is in each state (connected, degraded, disconnected); 1 for one loader.',
      labelNames: ['state'],
      collect() {
        this.reset();
        const all = sharedStats();
        if (all.length === 0) return;
        for (const state of SHARED_STATES) {
          this.set({ state }, all.filter(([s]) => s.state === state).length);
        }
      },
    });
    const sharedCounter = (kind: string, help: string, stat: SharedCounterStat) =>
      this.sharedStatCounter(`${p}lazy_shared_${kind}_total`, help, stat);
    sharedCounter('l2_hits', 'L1 misses served from the shared tier (Redis L2).', 'l2Hits');
    sharedCounter('l2_misses', 'L1 misses the shared tier (Redis L2) could not serve.', 'l2Misses');
    sharedCounter(
      'fleet_loads_joined',
      'Misses served by a load another instance made (fleet-wide single-flight).',
      'fleetLoadsJoined',
    );
    sharedCounter(
      'invalidations_published',
      'Invalidations this instance published on the bus.',
      'invalidationsPublished',
    );
    sharedCounter(
      'invalidations_received',
      'Invalidations from other instances received from the bus.',
      'invalidationsReceived',
    );
    const lagGauge = (q: 'p50' | 'p99') =>
      this.gauge({
        name: `${p}lazy_shared_bus_lag_${q}_seconds`,
        help: `${q} delivery lag of bus messages from other instances (recent window; the worst loader).`,
        collect() {
          this.reset();
          const all = sharedStats();
          if (all.length > 0) this.set(Math.max(...all.map(([s]) => s.busLagMs[q])) / 1000);
        },
      });
    lagGauge('p50');
    lagGauge('p99');
    this.gauge({
      name: `${p}lazy_shared_queued_invalidations`,
      help: 'Invalidations waiting for Redis to come back (published on reconnect, newest per key).',
      collect() {
        this.reset();
        const all = sharedStats();
        if (all.length > 0) this.set(all.reduce((n, [s]) => n + s.queuedInvalidations, 0));
      },
    });

    if (this.options.defaultMetrics && !registry.getSingleMetric(`${p}process_cpu_seconds_total`)) {
      collectDefaultMetrics({ register: registry, prefix: p });
      // prom-client names these three gauges `*_total`, which Prometheus reserves for counters and
      // `promtool check metrics` rejects; `nodejs_active_{handles,requests,resources}` carry the same data.
      for (const name of DEFAULT_METRICS_MISNAMED) registry.removeSingleMetric(`${p}${name}`);
    }
    this.sync();
  }

  /** The registry the metrics live on. */
  get registry(): Registry {
    return this.options.registry;
  }

  /** The Prometheus text exposition of the registry (Reservoir's metrics and anything else on it). */
  async metrics(): Promise<string> {
    this.sync();
    return this.registry.metrics();
  }

  /** Subscribes to the events of sources not seen yet. Called on every scrape; cheap. */
  sync(): void {
    if (this.closed) return;
    for (const pool of this.sources.pools()) {
      if (this.pools.has(pool)) continue;
      const zero = { created: 0, createErrors: 0, timeouts: 0, acquired: 0, destroyed: 0, leaksDetected: 0 };
      const tracked: TrackedPool = {
        tenants: new BoundedLabels(this.options.perTenant.maxTenants),
        last: zero,
        detach: () => undefined,
      };
      if (this.options.perTenant.enabled) tracked.tenantCounts = new TenantCounts(tracked.tenants);
      this.pools.set(pool, tracked);
      if (typeof pool.setMetricsTracker === 'function') {
        const tracker = new CollectorTracker(
          this.acquireSeconds,
          this.usageSeconds,
          pool.name,
          tracked.tenantCounts,
        );
        pool.setMetricsTracker(tracker);
        tracked.detach = () => pool.setMetricsTracker!(undefined);
      } else {
        const sub: Subscription = pool.events$.subscribe({
          next: (e) => this.onPoolEvent(pool, tracked, e),
        });
        tracked.detach = () => sub.unsubscribe();
      }
    }
    for (const lazy of this.sources.lazy?.() ?? []) {
      if (this.lazies.has(lazy)) continue;
      this.lazies.set(lazy, lazy.addMetricsTracker(this.lazyTracker));
    }
  }

  /** Unsubscribes from every source and removes Reservoir's metrics from the registry. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.pools.values()) t.detach();
    for (const detach of this.lazies.values()) detach();
    this.pools.clear();
    this.lazies.clear();
    for (const m of this.metricsList) this.registry.removeSingleMetric(m.name);
  }

  /**
   * Reads `stats()` and `health()` once per pool per scrape, so every series of one scrape comes
   * from the same instant (and percentiles are computed once, not once per metric).
   */
  private snapshot(pool: MetricsPoolSource): Snapshot {
    const tracked = this.pools.get(pool) as TrackedPool;
    if (!tracked.snapshot) {
      tracked.snapshot = { stats: pool.stats(), health: pool.health() };
      queueMicrotask(() => (tracked.snapshot = undefined));
    }
    return { name: pool.name, ...tracked.snapshot, tracked };
  }

  private onPoolEvent(pool: MetricsPoolSource, tracked: TrackedPool, e: PoolEvent): void {
    switch (e.type) {
      case 'acquire':
        this.acquireSeconds.observe({ pool: pool.name }, e.waitMs / 1000);
        if (tracked.tenantCounts && e.organisationId !== undefined) {
          tracked.tenantCounts.cell(e.organisationId).acquires++;
        }
        break;
      case 'release':
        this.usageSeconds.observe({ pool: pool.name }, e.holdMs / 1000);
        break;
      case 'timeout':
        if (tracked.tenantCounts && e.organisationId !== undefined) {
          tracked.tenantCounts.cell(e.organisationId).timeouts++;
        }
        break;
      default:
        break;
    }
  }

  /** Per-resource stats of every loader, read once per scrape. */
  private lazyResources(): Array<[string, LazyResourceStats, MetricsLazySource]> {
    this.sync();
    const out: Array<[string, LazyResourceStats, MetricsLazySource]> = [];
    for (const lazy of this.lazies.keys()) {
      for (const [name, s] of Object.entries(this.lazySnapshot(lazy).resources)) out.push([name, s, lazy]);
    }
    return out;
  }

  /** `loader.stats()` once per loader per scrape (prom-client runs every collect() in one pass). */
  private lazySnapshot(lazy: MetricsLazySource): LazyStats {
    let stats = this.lazySnapshots.get(lazy);
    if (!stats) {
      stats = lazy.stats();
      this.lazySnapshots.set(lazy, stats);
      queueMicrotask(() => this.lazySnapshots.delete(lazy));
    }
    return stats;
  }

  /** `stats().shared` of every loader with a shared tier, from the same per-scrape snapshot. */
  private sharedStats(): Array<[LazySharedStats, MetricsLazySource]> {
    this.sync();
    const out: Array<[LazySharedStats, MetricsLazySource]> = [];
    for (const lazy of this.lazies.keys()) {
      const shared = this.lazySnapshot(lazy).shared;
      if (shared !== undefined) out.push([shared, lazy]);
    }
    return out;
  }

  /** A counter summing one cumulative `stats().shared` total over loaders (see `statCounter`). */
  private sharedStatCounter(name: string, help: string, stat: SharedCounterStat): void {
    const sharedStats = () => this.sharedStats();
    const last = this.sharedLast;
    this.counter({
      name,
      help,
      collect() {
        const all = sharedStats();
        if (all.length === 0) return;
        let delta = 0;
        for (const [s, lazy] of all) {
          let seen = last.get(lazy);
          if (!seen) last.set(lazy, (seen = new Map()));
          const now = s[stat];
          const prev = seen.get(stat) ?? 0;
          seen.set(stat, now);
          // A total that shrank can only be a reset (a new store): count it afresh.
          delta += now >= prev ? now - prev : now;
        }
        this.inc(delta);
      },
    });
  }

  /** A per-resource counter mirroring cumulative `loader.stats()` totals (see `statCounter`). */
  private lazyStatCounter<L extends string>(
    name: string,
    help: string,
    labelNames: Array<'resource' | L>,
    read: (
      s: LazyResourceStats,
      inc: (labels: Partial<Record<L, string>>, now: number, stat: string) => void,
    ) => void,
  ): void {
    const lazyResources = () => this.lazyResources();
    const lastOf = (lazy: MetricsLazySource) => {
      let last = this.lazyLast.get(lazy);
      if (!last) this.lazyLast.set(lazy, (last = new Map()));
      return last;
    };
    this.counter({
      name,
      help,
      labelNames,
      collect() {
        for (const [resource, s, lazy] of lazyResources()) {
          const last = lastOf(lazy);
          read(s, (labels, now, stat) => {
            const key = `${resource}\u0000${stat}`;
            const prev = last.get(key) ?? 0;
            last.set(key, now);
            this.inc(
              { ...labels, resource } as Partial<Record<'resource' | L, string>>,
              now >= prev ? now - prev : now,
            );
          });
        }
      },
    });
  }

  private gauge<L extends string>(config: ConstructorParameters<typeof Gauge<L>>[0]): Gauge<L> {
    const g = new Gauge<L>({ ...config, registers: [this.registry] });
    this.metricsList.push(config);
    return g;
  }

  private counter<L extends string>(config: ConstructorParameters<typeof Counter<L>>[0]): Counter<L> {
    const c = new Counter<L>({ ...config, registers: [this.registry] });
    this.metricsList.push(config);
    return c;
  }

  private histogram<L extends string>(config: ConstructorParameters<typeof Histogram<L>>[0]): Histogram<L> {
    const h = new Histogram<L>({ ...config, registers: [this.registry] });
    this.metricsList.push(config);
    return h;
  }

  private trackedHistogram(config: {
    name: string;
    help: string;
    buckets: readonly number[];
  }): TrackedHistogram {
    const h = new TrackedHistogram(
      config.name,
      config.help,
      [...config.buckets].sort((a, b) => a - b),
    );
    this.registry.registerMetric(h as unknown as Parameters<Registry['registerMetric']>[0]);
    this.metricsList.push(config);
    return h;
  }

  /** A per-pool gauge read at scrape time. */
  private scalarGauge(
    name: string,
    help: string,
    forEachPool: (fn: (pool: Snapshot) => void) => void,
    read: (pool: Snapshot) => number,
  ): void {
    this.gauge({
      name,
      help,
      labelNames: ['pool'],
      collect() {
        this.reset();
        forEachPool((pool) => this.set({ pool: pool.name }, read(pool)));
      },
    });
  }

  /**
   * A per-pool counter that mirrors a cumulative `stats()` total at scrape time. Counting from the
   * pool's own totals (not from events) means nothing is missed before the collector subscribed,
   * e.g. the prefill creates.
   */
  private statCounter(
    name: string,
    help: string,
    stat: PoolCounterStat,
    forEachPool: (fn: (pool: Snapshot) => void) => void,
  ): void {
    this.counter({
      name,
      help,
      labelNames: ['pool'],
      collect() {
        forEachPool((pool) => {
          const { tracked } = pool;
          const now = pool.stats[stat];
          // A counter never goes down: a total that shrank can only be a reset, so count it afresh.
          const delta = now >= tracked.last[stat] ? now - tracked.last[stat] : now;
          tracked.last[stat] = now;
          this.inc({ pool: pool.name }, delta);
        });
      },
    });
  }
}
