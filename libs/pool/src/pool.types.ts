/**
 * Public types of the framework-free pool core. This file is the contract between the core
 * (`pool.ts`), the Nest layer, the metrics collector and the demo: change it only deliberately.
 */
import type { TrendDirection } from '@reservoir/core';
import type { AutoSizeReason, SizingAdvice } from './autosize/autosize.controller';
import type { FleetStats } from './autosize/fleet-budget';
import type { AutoSizeOptions } from './autosize/autosize.options';

/** Passed to `factory.create`: lets a factory abort a slow connect when the pool gives up on it. */
export interface CreateContext {
  /** Aborted when `createTimeoutMs` elapses or the pool closes. */
  signal: AbortSignal;
  /** 1 for the first try of this create, 2+ for retries after failures. */
  attempt: number;
  /** The pool's name. */
  pool: string;
}

/** How the pool makes, checks and disposes of resources. */
export interface ResourceFactory<T> {
  create(ctx: CreateContext): Promise<T>;
  destroy(resource: T): Promise<void> | void;
  /** Resolve/return false (or throw) when the resource is no longer usable. */
  validate?(resource: T): Promise<boolean> | boolean;
  /**
   * Optional hook to learn about a resource failing while idle (e.g. `pg.Client` 'error').
   * Call `onBroken()` and the pool removes it. Without this hook the pool attaches an
   * `'error'` listener itself when the resource is an EventEmitter, so an idle error never
   * crashes the process.
   */
  watch?(resource: T, onBroken: (err: unknown) => void): (() => void) | void;
  /**
   * The default classification `use()` applies when `fn` throws and the call passes no `isBroken`:
   * true means the resource is destroyed instead of reused (`pgClientFactory`: connection-level
   * failures are broken, SQL errors are not).
   */
  isBroken?(err: unknown): boolean;
}

/** Binds a resource's session to a tenant on acquire and resets it on release. */
export interface TenantBinding<T> {
  bind(resource: T, organisationId: string): Promise<void> | void;
  /** Must leave no trace of `organisationId`; if it throws, the resource is destroyed. */
  unbind(resource: T, organisationId: string): Promise<void> | void;
  /**
   * Optional: switch straight from tenant `from` to tenant `to` in one step (e.g. one `set_config`
   * that overwrites the setting). Must leave no trace of `from`; if it throws, the resource is
   * destroyed. Without it the pool calls `unbind(from)` then `bind(to)`.
   */
  rebind?(resource: T, from: string, to: string): Promise<void> | void;
  /**
   * When false, a released resource stays bound and goes back idle still carrying its tenant: the
   * next acquire by the same tenant skips both round trips (tenant-affine reuse), and any other
   * caller gets it only after `unbind` succeeded. Set true when the bound state must not outlive
   * the lease (e.g. an open transaction behind PgBouncer): then `unbind` runs on every release.
   *
   * With true, `unbind` is treated as the step that completes the lease's work (in transaction
   * mode it is the COMMIT): `use()` resolves only after it succeeded, and rejects with
   * `PoolUnbindError` when it failed or could not run (the resource broke during the lease, or
   * `close()` destroyed the loan after `shutdownTimeoutMs`). A custom binding whose work does not
   * depend on its unbind should leave this false.
   * @default false
   */
  unbindOnRelease?: boolean;
}

/**
 * Create-retry backoff (HikariCP-style). Options are classes whose field initialisers are the
 * defaults: the one place they are written down (`POOL_DEFAULTS` and the validator's list of known
 * keys are derived from these classes).
 *
 * @publicApi
 */
export class CreateRetryOptions {
  /** @default 10 */
  initialDelayMs?: number = 10;
  /** @default 5000 */
  maxDelayMs?: number = 5000;
  /** @default 2 */
  factor?: number = 2;
  /** Fraction of each delay that is randomised (0 = none, 1 = full jitter). @default 0.5 */
  jitter?: number = 0.5;
}

/**
 * Health thresholds. A rule is off when its threshold is `Infinity` (or 0 for counters where noted).
 * The initialisers are the defaults.
 *
 * @publicApi
 */
export class PoolHealthThresholds {
  /** DEGRADED when inUse/max ≥ this. @default 0.7 */
  degradedUtilization?: number = 0.7;
  /** UNHEALTHY when inUse/max ≥ this. @default 1 */
  unhealthyUtilization?: number = 1;
  /** DEGRADED when acquire-wait p99 over the window exceeds this many ms. @default 1000 */
  degradedWaitP99Ms?: number = 1000;
  /** UNHEALTHY when at least this many acquires timed out in the window (0 disables). @default 1 */
  unhealthyTimeouts?: number = 1;
  /** UNHEALTHY after this many consecutive create failures. @default 3 */
  unhealthyCreateFailures?: number = 3;
  /**
   * The time window of every health signal (timeouts, acquire-wait p99): samples older than this
   * are ignored, so the state returns to HEALTHY within one window once load stops. @default 10000
   */
  windowMs?: number = 10_000;
  /**
   * `failing` (what `PoolHealthIndicator` reports as down) turns true when the pool has been
   * UNHEALTHY for this long without a break while callers wait longer than `degradedWaitP99Ms`,
   * even with no timeout or create failure. Saturation with quick service is never failing. @default 30000
   */
  failingAfterMs?: number = 30_000;
}

/**
 * Options of `new Pool()` and `PoolModule.forRoot()`. Every field but `factory` is optional; the
 * initialisers are the defaults (exported, resolved, as `POOL_DEFAULTS`), and the validator reads
 * its list of known keys off an instance, so a new option is declared here and nowhere else.
 *
 * @publicApi
 */
export class PoolOptions<T> {
  /** Name used in errors, logs, metrics labels and DI tokens. @default 'default' */
  name?: string = 'default';
  /** Required: `{ create(ctx), destroy(r), validate?(r), watch?(r, onBroken) }`. No default. */
  factory!: ResourceFactory<T>;
  /** Resources kept (and prefilled by `start()`). @default 0 */
  min?: number = 0;
  /** Upper bound of resources. @default 10 */
  max?: number = 10;
  /** Bound on each acquire wait; never infinite by default. @default 30000 */
  acquireTimeoutMs?: number = 30_000;
  /** Bound on one factory.create call. @default 10000 */
  createTimeoutMs?: number = 10_000;
  /** Idle resources above `min` are destroyed after this long. 0 disables. @default 600000 */
  idleTimeoutMs?: number = 600_000;
  /** Resources are retired after this age (minus up to `maxLifetimeJitter`). 0 disables. @default 1800000 */
  maxLifetimeMs?: number = 1_800_000;
  /** Fraction of `maxLifetimeMs` subtracted at random per resource. @default 0.025 */
  maxLifetimeJitter?: number = 0.025;
  /** Validate on borrow when a resource was idle longer than this. 0 = always. @default 500 */
  validateAfterIdleMs?: number = 500;
  /** Waiters allowed in the queue; past it acquire rejects with PoolExhaustedError. @default Infinity */
  maxWaiting?: number = Infinity;
  /** Log a warning with the acquire stack when a lease is held longer. 0 disables. @default 0 */
  leakDetectionMs?: number = 0;
  /** Create-retry backoff; every field optional. */
  createRetry?: CreateRetryOptions = new CreateRetryOptions();
  /** How long close() waits for loans before destroying them. @default 30000 */
  shutdownTimeoutMs?: number = 30_000;
  /** Health thresholds; every field optional. */
  health?: PoolHealthThresholds = new PoolHealthThresholds();
  /** Period of the single maintenance timer (idle, lifetime, leak, trend sampling). @default 1000 */
  maintenanceIntervalMs?: number = 1000;
  /** Default tenant for acquires with no explicit organisationId (filled from TenantContext by PoolModule). */
  tenantResolver?: () => string | undefined = undefined;
  /** When true, an acquire with no tenant throws TenantRequiredError. @default false */
  requireTenant?: boolean = false;
  /** Session binding per tenant (see `pgTenantBinding`). */
  tenantBinding?: TenantBinding<T> = undefined;
  /** Cap of resources one tenant may hold at once. @default Infinity */
  maxPerTenant?: number = Infinity;
  /** Upper bound of tenants tracked in per-tenant stats (least recently seen are dropped). @default 1000 */
  maxTrackedTenants?: number = 1000;
  /** Logger for leaks, health transitions and factory errors. Defaults to the console (Nest's `Logger` named `Pool(<name>)` inside `PoolModule`). */
  logger?: PoolLogger = undefined;
  /**
   * Receives acquire waits, hold times, timeouts, creates and destroys (HikariCP's `IMetricsTracker`).
   * Off by default: then the hot path pays nothing. `ReservoirMetricsCollector` attaches its own
   * with `pool.setMetricsTracker()`. Without one, a shared no-op is used.
   */
  metricsTracker?: PoolMetricsTracker = undefined;
  /**
   * Opt-in auto-sizing: the pool keeps an effective `limit` between `min` and `max`, grows it from
   * measured demand, never because the database got slower, and shrinks only by retiring idle
   * resources. `true` uses the `AutoSizeOptions` defaults. Off by default: a fixed `max`.
   * @default false
   */
  autoSize?: boolean | AutoSizeOptions = false;
}

/** Why a resource was destroyed. */
export type PoolDestroyReason =
  'idle' | 'lifetime' | 'broken' | 'validation' | 'explicit' | 'close' | 'unbind-failed';

/**
 * A metrics seam off the hot path (HikariCP's `IMetricsTracker`): the pool calls it directly, with
 * no event objects and no subscription. Every lease is reported, but wait and hold times are
 * measured only for sampled leases (every lease until 64 samples sit in the window, then a random
 * 1 in about 8, plus the first `autoSize.minHoldSamples` (8) leases of every sizing window), so the
 * clock is read only for those; unsampled leases report -1. Methods must not
 * throw and should return quickly.
 *
 * @publicApi
 */
export interface PoolMetricsTracker {
  /** A lease began; `waitMs` is 0 for an acquire served at once, -1 when this lease was not sampled. */
  acquired(waitMs: number, organisationId: string | undefined): void;
  /** A lease ended after `holdMs`, or -1 when this lease was not sampled. */
  released(holdMs: number, organisationId: string | undefined): void;
  timeout(organisationId: string | undefined): void;
  created(): void;
  destroyed(reason: PoolDestroyReason): void;
}

export interface PoolLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface AcquireOptions {
  /** Tenant tag of the lease; overrides the pool's tenantResolver. */
  organisationId?: string;
  /** Overrides `acquireTimeoutMs` for this call. */
  timeoutMs?: number;
  /** Aborting rejects the pending acquire (with the signal's reason). */
  signal?: AbortSignal;
}

export interface UseOptions extends AcquireOptions {
  /**
   * Return true when the error thrown by `fn` means the resource is broken (destroyed, not
   * released). Default: the factory's `isBroken` when it has one; and any throw destroys when a
   * tenantBinding is set (the session may be mid-transaction).
   */
  isBroken?: (err: unknown) => boolean;
}

export interface LeaseInfo {
  organisationId?: string;
  /** Epoch milliseconds (coarse clock). */
  acquiredAt: number;
}

export type PoolHealthState = 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY';

export interface PoolHealth {
  state: PoolHealthState;
  utilization: number;
  reasons: string[];
  /**
   * Whether this instance is failing its callers: closed, acquire timeouts or create failures past
   * their thresholds within the window, or UNHEALTHY for `failingAfterMs` with callers waiting past
   * `degradedWaitP99Ms`. A readiness probe should
   * act on this, not on `state` (a saturated pool that serves everyone in time is UNHEALTHY).
   */
  failing: boolean;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface TenantStats {
  acquired: number;
  inUse: number;
  waiting: number;
  timeouts: number;
  waitP99Ms: number;
}

/** The occupancy figures of `PoolStats` that health reports and dashboards show next to a pool's name. */
export type PoolOccupancy = Pick<PoolStats, 'utilization' | 'size' | 'idle' | 'inUse' | 'pending' | 'max'>;

export interface PoolStats {
  name: string;
  /** Leases held longer than `leakDetectionMs` at the last maintenance tick (0 when leak detection is off). */
  overdueLeases: number;
  min: number;
  max: number;
  size: number;
  idle: number;
  inUse: number;
  pending: number;
  creating: number;
  created: number;
  destroyed: number;
  acquired: number;
  released: number;
  timeouts: number;
  createErrors: number;
  validationFailures: number;
  leaksDetected: number;
  /** Acquire wait in ms over the recent sample window. */
  acquireWaitMs: Percentiles;
  /** Lease hold time in ms over the recent sample window. */
  holdMs: Percentiles;
  /** inUse / max */
  utilization: number;
  trend: {
    slope: number;
    direction: TrendDirection;
    /** Estimated ms until utilization reaches 1 at the current slope; null when not rising. */
    timeToSaturationMs: number | null;
  };
  /** Per-tenant counters, bounded by maxTrackedTenants. */
  tenants: Record<string, TenantStats>;
  closed: boolean;
  /** Little's-law size for the measured load (arrival rate × baseline hold time), also when auto-sizing is off. */
  sizing: SizingAdvice;
  /** The auto-sizing state; undefined when `autoSize` is off. */
  autoSize: AutoSizeStats | undefined;
}

export interface AutoSizeStats {
  /** The effective limit: the pool lends at most this many resources. */
  limit: number;
  /** Where the controller is heading. */
  target: number;
  /** Why the last window left the limit where it is. */
  reason: AutoSizeReason;
  /** Limit changes since the pool started. */
  adjustments: number;
  /** The fleet budget share (`autoSize.fleet`); undefined without one. */
  fleet: FleetStats | undefined;
}

/** Everything emitted on `pool.events$`. */
export type PoolEvent =
  | { type: 'create'; pool: string }
  | { type: 'create-error'; pool: string; error: unknown; consecutive: number }
  | { type: 'destroy'; pool: string; reason: PoolDestroyReason }
  | { type: 'acquire'; pool: string; organisationId?: string; waitMs: number }
  | { type: 'release'; pool: string; organisationId?: string; holdMs: number }
  | { type: 'timeout'; pool: string; organisationId?: string; timeoutMs: number }
  | { type: 'leak'; pool: string; organisationId?: string; heldMs: number; stack: string }
  | { type: 'health'; pool: string; from: PoolHealthState; to: PoolHealthState; health: PoolHealth }
  | { type: 'resize'; pool: string; from: number; to: number; reason: AutoSizeReason }
  | { type: 'closed'; pool: string };
