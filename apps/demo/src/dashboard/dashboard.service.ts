/**
 * Samples the pools and the lazy loader once a second (an rxjs `interval`) into a bounded ring of
 * points for the charts, and builds the snapshot the page renders. Public library APIs only:
 * `PoolRegistry.all()`, `pool.stats()`, `pool.health()`, `LazyLoader.stats()` and its `events$`.
 */
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Subject, type Subscription, interval } from 'rxjs';
import { LazyLoader, type LazySharedStats } from '@reservoir/lazy';
import { type Pool, type PoolOccupancy, PoolRegistry, type PoolStats } from '@reservoir/pool';
import { DEMO_CONFIG, type DemoConfig, MAIN_POOL_THRESHOLDS } from '../config';
import { MAIN_POOL } from '../db/db.types';
import { LOAD_LIMITS } from '../load/load.params';
import { type LoadStatus, LoadService } from '../load/load.service';

/** One chart point of the main pool. */
export interface DashboardPoint {
  seq: number;
  /** Epoch ms. */
  t: number;
  /** Utilization 0..1. */
  u: number;
  inUse: number;
  pending: number;
  /** Acquire wait percentiles over the recent window, ms; null when the window had no acquires. */
  p95: number | null;
  p99: number | null;
  /** The auto-sizing limit as a share of `max` (0..1); null when auto-sizing is off. */
  limit: number | null;
}

/**
 * What the dashboard shows about sizing: the effective limit while auto-sizing is on, else the
 * Little's-law recommendation (`stats().sizing`).
 */
export interface SizingView {
  autoSize: { limit: number; target: number; reason: string; adjustments: number } | null;
  recommendation: {
    recommended: number | null;
    arrivalRatePerSec: number;
    baselineHoldMs: number | null;
    concurrency: number | null;
  };
}

export interface PoolView extends PoolOccupancy {
  name: string;
  health: { state: string; reasons: string[] };
  min: number;
  created: number;
  timeouts: number;
  acquireWaitMs: PoolStats['acquireWaitMs'];
  trend: PoolStats['trend'];
  sizing: SizingView;
}

export interface MainPoolView extends Omit<PoolView, 'acquireWaitMs'> {
  thresholds: { degraded: number; unhealthy: number };
  tenants: TenantShare[];
  /**
   * The main pool's per-organisation cap (`maxPerTenant`, env DB_POOL_MAX_PER_TENANT): most
   * connections one organisation holds at once; null when uncapped.
   */
  maxPerTenant: number | null;
  /**
   * The wait window: acquires in the last `windowMs`. With none, the pool's percentiles describe
   * old waits, so `acquireWaitMs` is null (no data) rather than the last p99.
   */
  waitWindow: { windowMs: number; acquires: number };
  acquireWaitMs: PoolView['acquireWaitMs'] | null;
}

export interface DashboardSnapshot {
  at: number;
  database: string;
  main: MainPoolView | null;
  pools: PoolView[];
  lazy: {
    hitRatio: number;
    resources: Array<{
      resource: string;
      hitRatio: number;
      loads: number;
      lastLoadMs: number;
      p95LoadMs: number;
      version: number | null;
    }>;
  };
  /** The shared lazy tier (REDIS_URL); null when the lazy resources are local to this instance. */
  shared: SharedTierView | null;
  load: LoadStatus;
  /** [min, default, max] of each load parameter: the page's form takes bounds and placeholders from it. */
  loadLimits: typeof LOAD_LIMITS;
}

/** The dashboard's view of `LazyLoader.stats().shared`. */
export interface SharedTierView {
  state: LazySharedStats['state'];
  /** Delivery lag of invalidations from the other instances, ms. */
  busLagMs: { p50: number; p99: number };
  /** Misses this instance served from another instance's load (the fleet loaded once). */
  fleetLoadsJoined: number;
  l2Hits: number;
  l2Misses: number;
  invalidationsPublished: number;
  invalidationsReceived: number;
  /** Invalidations waiting for Redis to come back. */
  queuedInvalidations: number;
}

export interface TenantShare {
  organisationId: string;
  acquired: number;
  inUse: number;
  share: number;
}

export interface DashboardSample {
  /** Identifies this server process: sequence numbers restart with it. */
  boot: string;
  point: DashboardPoint;
  snapshot: DashboardSnapshot;
}

/** Ten minutes at one point per second. */
export const HISTORY_POINTS = 600;
export const SAMPLE_INTERVAL_MS = 1000;
/** Organisations shown in the share-of-leases panel (the rest are summed as "others"). */
const MAX_TENANT_ROWS = 8;

@Injectable()
export class DashboardService implements OnModuleInit, OnModuleDestroy {
  /** New samples, one per SAMPLE_INTERVAL_MS; completes on shutdown so SSE responses end. */
  readonly samples$ = new Subject<DashboardSample>();
  /** Changes on every start, so a browser that reconnects to a restarted server starts over. */
  readonly boot = randomBytes(4).toString('hex');
  private readonly history: DashboardPoint[] = [];
  /** `stats().acquired` of the main pool at each sample time, for acquires-in-window. */
  private readonly acquiredAt: Array<{ t: number; acquired: number }> = [];
  private seq = 0;
  private latest?: DashboardSample;
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly registry: PoolRegistry,
    private readonly lazy: LazyLoader,
    private readonly load: LoadService,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
  ) {}

  onModuleInit(): void {
    this.subscriptions.push(interval(SAMPLE_INTERVAL_MS).subscribe(() => this.sample()));
    this.sample();
  }

  onModuleDestroy(): void {
    for (const s of this.subscriptions) s.unsubscribe();
    this.samples$.complete();
  }

  /** SSE event id of a point: `<boot>.<seq>`. */
  eventId(point: DashboardPoint): string {
    return `${this.boot}.${point.seq}`;
  }

  /**
   * The points a client has not seen, given the id of the last event it received (the SSE
   * Last-Event-ID): the newer ones when that id is from this process, else all of them.
   */
  historySince(lastEventId?: string): {
    boot: string;
    points: DashboardPoint[];
    snapshot: DashboardSnapshot | null;
  } {
    const m = lastEventId === undefined ? null : /^([0-9a-f]{8})\.(\d{1,15})$/.exec(lastEventId);
    const after = m && m[1] === this.boot ? Number(m[2]) : undefined;
    const points = after === undefined ? [...this.history] : this.history.filter((p) => p.seq > after);
    return { boot: this.boot, points, snapshot: this.latest?.snapshot ?? null };
  }

  /** Takes a sample now (also used by the interval). */
  sample(): DashboardSample {
    const snapshot = this.snapshot();
    const m = snapshot.main;
    const point: DashboardPoint = {
      seq: ++this.seq,
      t: snapshot.at,
      u: m?.utilization ?? 0,
      inUse: m?.inUse ?? 0,
      pending: m?.pending ?? 0,
      p95: m?.acquireWaitMs ? m.acquireWaitMs.p95 : null,
      p99: m?.acquireWaitMs ? m.acquireWaitMs.p99 : null,
      limit: limitShare(m),
    };
    this.history.push(point);
    if (this.history.length > HISTORY_POINTS) this.history.shift();
    this.latest = { boot: this.boot, point, snapshot };
    this.samples$.next(this.latest);
    return this.latest;
  }

  snapshot(): DashboardSnapshot {
    const at = Date.now();
    const pools = this.registry.all().map((p) => ({ pool: p, view: view(p) }));
    const mainEntry = pools.find((p) => p.pool.name === MAIN_POOL);
    let main: MainPoolView | null = null;
    if (mainEntry) {
      const stats = mainEntry.pool.stats();
      const acquires = this.acquiresInWindow(at, stats.acquired);
      main = {
        ...mainEntry.view,
        thresholds: { ...MAIN_POOL_THRESHOLDS },
        tenants: tenantShares(stats),
        maxPerTenant: maxPerTenant(this.config),
        waitWindow: { windowMs: this.config.healthWindowMs, acquires },
        acquireWaitMs: acquires > 0 ? mainEntry.view.acquireWaitMs : null,
      };
    }
    const lazyStats = this.lazy.stats();
    return {
      at,
      database: this.config.database,
      main,
      pools: pools.map((p) => p.view),
      lazy: {
        hitRatio: lazyStats.total.hitRatio,
        resources: Object.values(lazyStats.resources).map((r) => ({
          resource: r.resource,
          hitRatio: r.hitRatio,
          loads: r.loads,
          lastLoadMs: round(r.loadTime.lastMs),
          p95LoadMs: round(r.loadTime.p95Ms),
          version: r.latestVersion > 0 ? r.latestVersion : null,
        })),
      },
      shared: sharedTierView(lazyStats.shared),
      load: this.load.current(),
      loadLimits: LOAD_LIMITS,
    };
  }

  /**
   * Acquires of the main pool in the last wait window: the counter now minus its value at the newest
   * reading at least a window old (or the oldest reading while the app is younger than a window).
   */
  private acquiresInWindow(now: number, acquired: number): number {
    const windowMs = this.config.healthWindowMs;
    const readings = this.acquiredAt;
    readings.push({ t: now, acquired });
    while (readings.length > 1 && readings[1].t <= now - windowMs) readings.shift();
    return acquired - readings[0].acquired;
  }
}

/**
 * The main pool's per-organisation cap, from the demo configuration the pool is built from
 * (`PoolStats` does not carry it). Read defensively: an unset or infinite cap is null.
 */
function maxPerTenant(config: DemoConfig): number | null {
  const cap = (config as DemoConfig & { poolMaxPerTenant?: number }).poolMaxPerTenant;
  return typeof cap === 'number' && Number.isFinite(cap) ? cap : null;
}

/** The shared tier's part of the snapshot (its own function, so other panels can change apart). */
export function sharedTierView(shared: LazySharedStats | undefined): SharedTierView | null {
  if (shared === undefined) return null;
  return {
    state: shared.state,
    busLagMs: { p50: round(shared.busLagMs.p50), p99: round(shared.busLagMs.p99) },
    fleetLoadsJoined: shared.fleetLoadsJoined,
    l2Hits: shared.l2Hits,
    l2Misses: shared.l2Misses,
    invalidationsPublished: shared.invalidationsPublished,
    invalidationsReceived: shared.invalidationsReceived,
    queuedInvalidations: shared.queuedInvalidations,
  };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * Two significant digits below 10, else one decimal: a hold time on SQLite is often a few hundredths
 * of a millisecond, and `round` showed it as a baseline of 0 ms.
 */
function roundSmall(x: number): number {
  return x > 0 && x < 10 ? Number(x.toPrecision(2)) : round(x);
}

function view(pool: Pool<unknown>): PoolView {
  const s = pool.stats();
  const h = pool.health();
  return {
    name: pool.name,
    health: { state: h.state, reasons: h.reasons },
    utilization: s.utilization,
    size: s.size,
    idle: s.idle,
    inUse: s.inUse,
    pending: s.pending,
    max: s.max,
    min: s.min,
    created: s.created,
    timeouts: s.timeouts,
    acquireWaitMs: {
      p50: round(s.acquireWaitMs.p50),
      p95: round(s.acquireWaitMs.p95),
      p99: round(s.acquireWaitMs.p99),
    },
    trend: s.trend,
    sizing: sizingView(s),
  };
}

export function sizingView(s: PoolStats): SizingView {
  const a = s.autoSize;
  const r = s.sizing;
  return {
    autoSize:
      a === undefined
        ? null
        : { limit: a.limit, target: a.target, reason: a.reason, adjustments: a.adjustments },
    recommendation: {
      recommended: r.recommended,
      arrivalRatePerSec: round(r.arrivalRatePerSec),
      baselineHoldMs: r.baselineHoldMs === null ? null : roundSmall(r.baselineHoldMs),
      concurrency: r.concurrency === null ? null : roundSmall(r.concurrency),
    },
  };
}

/** The limit line of the utilisation chart: limit / max, or null without auto-sizing. */
function limitShare(m: MainPoolView | null): number | null {
  const a = m?.sizing.autoSize;
  return a === null || a === undefined || m === null || m.max <= 0 ? null : a.limit / m.max;
}

/** Share of all tenant-tagged leases since start, largest first, the tail summed as "others". */
function tenantShares(stats: PoolStats): TenantShare[] {
  const rows = Object.entries(stats.tenants).map(([organisationId, t]) => ({
    organisationId,
    acquired: t.acquired,
    inUse: t.inUse,
    share: 0,
  }));
  const total = rows.reduce((n, r) => n + r.acquired, 0);
  if (total === 0) return [];
  rows.sort((a, b) => b.acquired - a.acquired);
  const head = rows.slice(0, MAX_TENANT_ROWS);
  const tail = rows.slice(MAX_TENANT_ROWS);
  if (tail.length) {
    head.push({
      organisationId: `${tail.length} others`,
      acquired: tail.reduce((n, r) => n + r.acquired, 0),
      inUse: tail.reduce((n, r) => n + r.inUse, 0),
      share: 0,
    });
  }
  for (const r of head) r.share = r.acquired / total;
  return head;
}
