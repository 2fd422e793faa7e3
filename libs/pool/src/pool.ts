/**
 * The framework-free pool core. Design notes (why each structure) are in docs/design.md ("Pool core"); the
 * short version, from docs/design.md "Facts we rely on" (what makes a pool fast):
 * - idle resources on a LIFO array stack; every live resource in one O(1) `Map` (the lease map);
 * - waiters in intrusive doubly-linked lists: one FIFO per tenant, tenants served round-robin,
 *   plus one list ordered by deadline that drives a single timer for all waiters; while a single
 *   tenant waits the deadline list alone is the queue (`fifo` mode), and served waiters are reused;
 * - the fast path (a resource is free) allocates one resolved promise, reads no clock and sets no timer;
 *   a wait reads the precise clock at most once per run of microtasks (`nearNow`);
 * - `acquiredAt` comes from a coarse cached clock; wait/hold percentiles are sampled 1 in SAMPLE_EVERY (all until MIN_SAMPLES,
 *   and the first `autoSize.minHoldSamples` leases of every sizing window);
 * - one unref'd maintenance interval does idle eviction, lifetime, leak detection, trend and health.
 */
import { Subject, type Observable } from 'rxjs';
import { SampleWindow, TrendWindow, withDeadline } from '@reservoir/core';
import { evaluateHealth } from './pool.health';
import { TimedSampleWindow } from './pool.samples';
import { GONE, IDLE, LEASED, Slot } from './pool.slot';
import { TenantPreparer } from './pool.tenant-prep';
import { findEvictions, scanLeases } from './pool.housekeeper';
import { PREPARING, SETTLED, TenantRecord, WAITING, WaitQueue, type Waiter } from './pool.wait-queue';
import { AutoSizeController, type AutoSizeReason } from './autosize/autosize.controller';
import { autoSizeDefaults } from './autosize/autosize.options';
import { FleetLease } from './autosize/fleet-budget';
import { SizingWindow, type PoolCounterSnapshot } from './autosize/autosize.window';
// The framework-free tenant entry: the tenant barrel also exports Nest modules, the core must not load them.
import { TenantRequiredError } from '@reservoir/tenant/core';
import { PoolClock } from './pool.clock';
import { ResourceCreator } from './pool.creator';
import { MIN_SAMPLES, SAMPLE_EVERY, TENANT_SAMPLE_WINDOW } from './pool.defaults';
import {
  PoolClosedError,
  PoolError,
  PoolExhaustedError,
  PoolReleaseError,
  PoolTimeoutError,
  PoolUnbindError,
} from './pool.errors';
import { defaultPoolLogger } from './pool.logger';
import { PoolMessages, type PoolCounts } from './pool.messages';
import {
  checkCallTenant,
  checkCallTimeout,
  checkMetricsTracker,
  resolvePoolOptions,
  type ResolvedPoolOptions,
} from './pool.options';
import type {
  AcquireOptions,
  LeaseInfo,
  PoolEvent,
  PoolHealth,
  PoolHealthState,
  PoolLogger,
  PoolMetricsTracker,
  PoolOptions,
  PoolStats,
  ResourceFactory,
  TenantBinding,
  TenantStats,
  UseOptions,
} from './pool.types';

type DestroyReason = Extract<PoolEvent, { type: 'destroy' }>['reason'];

/** The default tracker: one shared object with empty methods, so the call sites stay monomorphic. */
const NO_TRACKER: PoolMetricsTracker = {
  acquired: () => undefined,
  released: () => undefined,
  timeout: () => undefined,
  created: () => undefined,
  destroyed: () => undefined,
};

// One shared executor instead of a closure per waiter: `new Promise(capture)` leaves its resolving
// functions here, and the caller moves them onto the Waiter straight away (synchronously).
let capturedResolve: (value: never) => void = () => undefined;
let capturedReject: (err: unknown) => void = () => undefined;
function capture(resolve: (value: never) => void, reject: (err: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** Already settled; `.then` on it schedules a callback after the microtasks queued so far. */

function isEmitter(r: unknown): r is {
  on(event: 'error', fn: (err: unknown) => void): unknown;
} {
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof (r as { on?: unknown }).on === 'function' &&
    typeof (r as { removeListener?: unknown }).removeListener === 'function'
  );
}

/**
 * A generic resource pool (database clients, sockets, workers, ...), usable without Nest.
 *
 * @example
 * const pool = new Pool({ factory: { create: () => connect(), destroy: (c) => c.end() }, min: 2, max: 10 });
 * await pool.start();
 * const rows = await pool.use((client) => client.query('SELECT 1'));
 * await pool.close();
 *
 * @publicApi
 */
export class Pool<T> {
  /** The pool's name, as used in errors, logs and DI tokens. */
  readonly name: string;
  /** Pool events and health transitions. Emitting costs nothing while nobody subscribes. */
  readonly events$: Observable<PoolEvent>;

  private readonly o: ResolvedPoolOptions<T>;
  private readonly factory: ResourceFactory<T>;
  private readonly binding: TenantBinding<T> | undefined;
  /** No binding and no validate: a resource is lent as is, never prepared. */
  private readonly plainLend: boolean;
  private readonly resolver: (() => string | undefined) | undefined;
  private readonly logger: PoolLogger;
  private readonly subject = new Subject<PoolEvent>();

  private readonly slots = new Map<T, Slot<T>>();
  private readonly idle: Slot<T>[] = [];
  private readonly anon: TenantRecord<T> = new TenantRecord<T>(undefined, Infinity);
  private readonly tenants = new Map<string, TenantRecord<T>>();
  /** The record `tenantRecord` returned last (always one still in `tenants`). */
  private lastRec: TenantRecord<T> | null = null;
  private readonly q: WaitQueue<T>;
  private readonly prep: TenantPreparer<T>;

  private size = 0;
  private destroying = 0;

  private created = 0;
  private destroyed = 0;
  private acquired = 0;
  private released = 0;
  private timeouts = 0;
  private validationFailures = 0;
  private leaksDetected = 0;
  /** Leases until the next sampled one. */
  private sampleIn = 1;

  /** Coarse and precise time (pool.clock.ts). */
  private readonly clock: PoolClock;
  private readonly waitSamples = new TimedSampleWindow(1024);
  private readonly holdSamples = new TimedSampleWindow(1024);
  private tracker: PoolMetricsTracker = NO_TRACKER;
  /** Start of the current UNHEALTHY run as detected (tick or state change), or -1. */
  private unhealthySince = -1;
  /** Leases past leakDetectionMs at the last tick. */
  private overdueLeases = 0;
  /** Tenant-record eviction (CLOCK): records touched since the last sweep survive it once. */
  private lastTenantSweep = 0;
  private readonly trend: TrendWindow;
  /** Times of the last `unhealthyTimeouts` timeouts: enough to answer "k timeouts within window?". */
  private readonly recentTimeouts: number[];
  private recentTimeoutsNext = 0;

  private bindFailures = 0;
  /** create, create timeout, backoff, abort (pool.creator.ts). */
  private readonly creator: ResourceCreator<T>;
  private readonly destroys = new Set<Promise<void>>();
  private readonly readyWaiters = new Set<{ resolve: () => void; reject: (e: unknown) => void }>();
  private drained: (() => void) | undefined;

  private closed = false;
  private closePromise: Promise<void> | undefined;
  private healthState: PoolHealthState = 'HEALTHY';
  private readonly maintenance: NodeJS.Timeout;
  /** Most resources the pool may hold and lend: `max`, or the auto-sizing limit when that is on. */
  private cap: number;
  /** Runs even with auto-sizing off: it owns the hold-time baseline behind `stats().sizing`. */
  private readonly sizer: AutoSizeController;
  private readonly sizingWindow: SizingWindow;
  /** The fleet budget share, when `autoSize.fleet` is set; `cap` never exceeds `fleetCap`. */
  private readonly fleet: FleetLease | undefined;
  private fleetCap = Infinity;

  constructor(options: PoolOptions<T>) {
    this.o = resolvePoolOptions(options);
    // The coarse clock is refreshed at least every tick; twice that covers a late tick.
    this.clock = new PoolClock(2 * this.o.maintenanceIntervalMs + 1000);
    this.name = this.o.name;
    this.factory = this.o.factory;
    this.binding = this.o.tenantBinding;
    this.plainLend = this.binding === undefined && this.factory.validate === undefined;
    this.q = new WaitQueue<T>(
      {
        expire: (w, now) => this.expire(w, now),
        timerFired: (now, expired) => {
          this.clock.observe(now);
          if (expired) this.evaluateHealth();
        },
      },
      this.plainLend,
    );
    this.resolver = this.o.tenantResolver;
    this.logger = this.o.logger ?? defaultPoolLogger(this.name);
    this.creator = new ResourceCreator<T>(
      this.name,
      this.factory,
      this.o.createTimeoutMs,
      this.o.createRetry,
      this.logger,
      {
        created: (r) => this.createSucceeded(r),
        failed: (err, n) => this.createFailed(err, n),
        discard: (r) => this.trackDestroy(this.runDestroy(r)),
        resume: () => this.ensureCapacity(),
      },
    );
    this.prep = new TenantPreparer<T>(this.name, this.factory, this.binding, this.logger, (r, hook) =>
      this.bounded(r, hook),
    );
    this.events$ = this.subject.asObservable();
    this.trend = new TrendWindow(this.o.health.windowMs);
    this.recentTimeouts = new Array<number>(Math.max(1, this.o.health.unhealthyTimeouts)).fill(-Infinity);
    if (this.o.metricsTracker !== undefined) this.tracker = this.o.metricsTracker;
    const sizing = this.o.autoSize ?? autoSizeDefaults(this.o.min, this.o.max);
    this.sizer = new AutoSizeController(sizing);
    this.cap = this.o.autoSize === undefined ? this.o.max : this.sizer.limit;
    const fleet = this.o.autoSize?.fleet;
    if (fleet !== undefined) {
      // Until Redis answers, only the floor: more could overrun a budget other instances already use.
      this.fleetCap = this.o.min;
      this.cap = Math.min(this.cap, this.fleetCap);
      this.fleet = new FleetLease(
        fleet,
        () => Math.max(this.o.min, this.sizer.limit),
        () => this.held(),
        (leased) => this.onFleetGrant(leased),
      );
      this.fleet.start();
    }
    this.sizingWindow = new SizingWindow(performance.now(), this.counterSnapshot(), sizing.minHoldSamples);
    this.maintenance = setInterval(this.tick, this.o.maintenanceIntervalMs);
    this.maintenance.unref();
  }

  // ---------------------------------------------------------------- public API

  /** Creates `min` resources; resolves once they exist. Rejects (the pool keeps retrying) after `acquireTimeoutMs`. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(PoolClosedError.create(this.name));
    this.ensureCapacity();
    if (this.size >= this.o.min) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const entry = {
        resolve: () => {
          clearTimeout(timer);
          this.readyWaiters.delete(entry);
          resolve();
        },
        reject: (err: unknown) => {
          clearTimeout(timer);
          this.readyWaiters.delete(entry);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        entry.reject(
          PoolTimeoutError.start(
            this.name,
            this.o.acquireTimeoutMs,
            this.o.min,
            this.size,
            this.creator.failingCause,
          ),
        );
      }, this.o.acquireTimeoutMs);
      // A start() nobody awaits must not keep the process alive.
      timer.unref();
      this.readyWaiters.add(entry);
    });
  }

  /**
   * Borrows a resource. Resolves at once when one is idle; otherwise waits (FIFO per tenant,
   * round-robin across tenants) up to `timeoutMs` (default `acquireTimeoutMs`).
   */
  acquire(opts?: AcquireOptions): Promise<T> {
    if (this.closed) return Promise.reject(PoolClosedError.create(this.name));
    let org: string | undefined;
    let timeoutMs = this.o.acquireTimeoutMs;
    let signal: AbortSignal | undefined;
    if (opts !== undefined) {
      try {
        if (opts.organisationId !== undefined) org = checkCallTenant(this.name, opts.organisationId);
        if (opts.timeoutMs !== undefined) timeoutMs = checkCallTimeout(this.name, opts.timeoutMs);
      } catch (err) {
        return Promise.reject(err);
      }
      signal = opts.signal;
      if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    }
    if (org === undefined) {
      // Only a configured resolver is consulted: no tenant features, no cost (docs/design.md "Facts we rely on": +26 %).
      if (this.resolver !== undefined) org = this.resolver();
      if (org === undefined && this.o.requireTenant) {
        return Promise.reject(new TenantRequiredError(PoolMessages.tenantRequired(this.name)));
      }
    }
    const rec = org === undefined ? this.anon : this.tenantRecord(org);

    if (this.q.pending === 0 && this.idle.length > 0 && rec.held < rec.cap) {
      let slot = this.binding === undefined ? this.idle.pop()! : this.takeIdleFor(org);
      if (this.clock.nearDeadline(slot.expiresAt)) {
        while (this.pastLifetime(slot)) {
          slot.reserve();
          void this.retire(slot, 'lifetime');
          if (this.idle.length === 0) return this.acquire(opts);
          slot = this.binding === undefined ? this.idle.pop()! : this.takeIdleFor(org);
        }
      }
      this.hold(rec, 1);
      if (this.plainLend || !this.needsPrep(slot, org, true)) {
        this.lease(slot, rec, org, this.o.leakDetectionMs > 0 ? new Error('acquired here') : undefined, -1);
        return Promise.resolve(slot.resource);
      }
      const promise = new Promise<T>(capture);
      const w = this.newWaiter(rec, org, timeoutMs, signal);
      this.q.linkDeadline(w);
      this.prepare(slot, w, true);
      return promise;
    }

    const maxWaiting = this.o.maxWaiting;
    if (
      this.q.pending >= maxWaiting &&
      this.idle.length === 0 &&
      this.q.pending >= maxWaiting + this.headroom()
    ) {
      return Promise.reject(PoolExhaustedError.create(this.name, maxWaiting, this.counts(), org));
    }
    const promise = new Promise<T>(capture);
    const w = this.newWaiter(rec, org, timeoutMs, signal);
    this.q.enqueue(rec, w);
    if (this.idle.length > 0) this.dispatchIdle();
    // Saturated (the usual reason to wait): no room to create, so skip ensureCapacity's arithmetic.
    else if (this.size + this.creator.creating + this.destroying < this.cap) this.ensureCapacity();
    return promise;
  }

  /** Returns a leased resource. Throws `PoolReleaseError` (and changes nothing) when it is not leased. */
  release(resource: T): void {
    const slot = this.slots.get(resource);
    if (slot === undefined) {
      // close() may have destroyed a loan that outlived shutdownTimeoutMs; its late release is harmless.
      if (this.closed) return;
      throw PoolReleaseError.unknown(this.name);
    }
    if (slot.state !== LEASED) throw PoolReleaseError.notLeased(this.name);
    const outcome = this.giveBack(slot);
    if (outcome !== undefined) slot.released = { gen: slot.leaseGen, outcome };
  }

  /**
   * Ends a lease: retire, unbind then recycle (`unbindOnRelease`), or recycle. Resolves to the unbind's
   * failure, if any, so `use()` can report it; undefined when no unbind runs.
   */
  private giveBack(slot: Slot<T>): Promise<{ error: unknown } | undefined> | undefined {
    this.released++;
    this.endLease(slot);
    if (slot.broken) {
      void this.retire(slot, 'broken');
      // A resource that broke during the lease (its backend died) cannot run the unbind, and in
      // transaction mode the unbind is the COMMIT: the lease's work was rolled back with the
      // connection, so use() must fail, never acknowledge it.
      if (this.owesUnbind(slot)) {
        const error = new PoolError(this.name, PoolMessages.brokenBeforeUnbind(this.name, slot.boundTenant), {
          cause: slot.brokenBy,
        });
        return Promise.resolve({ error });
      }
      return undefined;
    }
    if (this.owesUnbind(slot)) {
      // Also before a close or lifetime retire: in transaction mode the unbind is the COMMIT of the
      // lease's work, and destroying the connection first would silently roll it back.
      return this.unbindThenRecycle(slot);
    }
    if (this.closed || this.pastLifetime(slot)) {
      void this.retire(slot, this.closed ? 'close' : 'lifetime');
      return undefined;
    }
    this.recycle(slot);
    return undefined;
  }

  /** Evicts a leased resource (e.g. found broken); a replacement is created as demand requires. */
  destroy(resource: T): Promise<void> {
    const slot = this.slots.get(resource);
    if (slot === undefined) {
      return this.closed ? Promise.resolve() : Promise.reject(PoolReleaseError.unknown(this.name));
    }
    if (slot.state !== LEASED) return Promise.reject(PoolReleaseError.notLeased(this.name));
    this.endLease(slot);
    return this.retire(slot, 'explicit');
  }

  /**
   * Acquires, runs `fn`, always gives the resource back. If `fn` throws and `isBroken(err)` says so
   * (default: whenever a tenantBinding is set, since the session may be mid-transaction), the
   * resource is destroyed instead of reused.
   */
  async use<R>(fn: (resource: T) => Promise<R> | R, opts?: UseOptions): Promise<R> {
    const resource = await this.acquire(opts);
    const slot = this.slots.get(resource)!;
    // If fn ends the lease itself, the resource may already be someone else's: end only our lease.
    const gen = slot.leaseGen;
    const leaseOrg = slot.org ?? '';
    let result: R;
    try {
      result = await fn(resource);
    } catch (err) {
      let broken: boolean;
      try {
        if (opts?.isBroken !== undefined) broken = opts.isBroken(err);
        else broken = this.binding !== undefined || this.factory.isBroken?.(err) === true;
      } catch {
        broken = true;
      }
      if (slot.state === LEASED && slot.leaseGen === gen) {
        if (broken) void this.destroy(resource);
        else this.release(resource);
      }
      throw err;
    }
    if (slot.forcedBeforeUnbind && slot.leaseGen === gen) {
      // close() gave up waiting for this loan and destroyed it without its unbind (the COMMIT).
      const cause = new PoolError(
        this.name,
        PoolMessages.forcedBeforeUnbind(this.name, leaseOrg, this.o.shutdownTimeoutMs),
      );
      throw PoolUnbindError.create(this.name, leaseOrg, cause);
    }
    if (slot.released?.gen === gen) {
      // fn released the resource itself: its unbind (transaction mode: the COMMIT) ran there, and
      // a failure of it must fail this call just the same.
      const failed = await slot.released.outcome;
      if (failed !== undefined) throw PoolUnbindError.create(this.name, leaseOrg, failed.error);
    }
    if (slot.state === LEASED && slot.leaseGen === gen) {
      const org = slot.boundTenant;
      // With unbindOnRelease the lease's work is complete only once the unbind succeeded (transaction
      // mode: it is the COMMIT), so wait for it and fail the call if it failed: never acknowledge
      // work that was rolled back.
      const failed = await this.giveBack(slot);
      if (failed !== undefined) throw PoolUnbindError.create(this.name, org ?? '', failed.error);
    }
    return result;
  }

  /** `{ organisationId, acquiredAt }` of a leased resource, else undefined. */
  leaseInfo(resource: T): LeaseInfo | undefined {
    const slot = this.slots.get(resource);
    if (slot === undefined || slot.state !== LEASED) return undefined;
    const acquiredAt = Math.round(performance.timeOrigin + slot.acquiredAt);
    return slot.org === undefined ? { acquiredAt } : { organisationId: slot.org, acquiredAt };
  }

  stats(): PoolStats {
    const since = performance.now() - this.o.health.windowMs;
    const [w50, w95, w99] = this.waitSamples.percentiles([0.5, 0.95, 0.99], since);
    const [h50, h95, h99] = this.holdSamples.percentiles([0.5, 0.95, 0.99], since);
    const inUse = this.size - this.idle.length;
    const utilization = inUse / this.o.max;
    const t = this.trend.snapshot();
    const tenants: Record<string, TenantStats> = {};
    for (const [id, r] of this.tenants) {
      tenants[id] = {
        acquired: r.acquired,
        inUse: r.held,
        waiting: r.size,
        timeouts: r.timeouts,
        waitP99Ms: r.waits === undefined ? 0 : r.waits.percentiles([0.99])[0],
      };
    }
    return {
      name: this.name,
      overdueLeases: this.overdueLeases,
      min: this.o.min,
      max: this.o.max,
      size: this.size,
      idle: this.idle.length,
      inUse,
      pending: this.q.pending,
      creating: this.creator.creating,
      created: this.created,
      destroyed: this.destroyed,
      acquired: this.acquired,
      released: this.released,
      timeouts: this.timeouts,
      createErrors: this.creator.failures,
      validationFailures: this.validationFailures,
      leaksDetected: this.leaksDetected,
      acquireWaitMs: { p50: w50, p95: w95, p99: w99 },
      holdMs: { p50: h50, p95: h95, p99: h99 },
      utilization,
      trend: {
        slope: t.slope,
        direction: t.direction,
        timeToSaturationMs:
          t.direction === 'rising' && t.slope > 0 ? Math.max(0, ((1 - utilization) / t.slope) * 1000) : null,
      },
      tenants,
      closed: this.closed,
      sizing: this.sizer.advice(),
      autoSize:
        this.o.autoSize === undefined
          ? undefined
          : {
              limit: this.cap,
              target: this.sizer.target,
              reason: this.sizer.reason,
              adjustments: this.sizer.adjustments,
              fleet: this.fleet?.stats(),
            },
    };
  }

  /**
   * Current health. A pure read: transitions are logged and emitted on `events$` where state
   * changes (timeouts, create failures, close) and on the maintenance tick, never here.
   */
  health(): PoolHealth {
    return this.computeHealth(performance.now());
  }

  /**
   * Attaches (or, with undefined, detaches) the metrics tracker; see `PoolMetricsTracker`. One at a
   * time: a collector that wants to share it must fan out itself.
   */
  setMetricsTracker(tracker: PoolMetricsTracker | undefined): void {
    if (tracker !== undefined) checkMetricsTracker(this.name, tracker);
    this.tracker = tracker ?? NO_TRACKER;
  }

  /**
   * Graceful shutdown: stop lending, reject waiters with `PoolClosedError`, wait for loans up to
   * `shutdownTimeoutMs`, destroy everything, resolve once every destroy has finished. Idempotent.
   */
  close(): Promise<void> {
    if (this.closePromise === undefined) {
      this.closed = true;
      this.closePromise = this.shutdown();
    }
    return this.closePromise;
  }

  // ---------------------------------------------------------------- acquire internals

  /** Call right after `new Promise(capture)`: takes the promise's resolving functions. */
  private newWaiter(
    rec: TenantRecord<T>,
    org: string | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Waiter<T> {
    const w = this.q.take();
    const now = this.clock.nearNow();
    w.state = WAITING;
    w.rec = rec;
    w.org = org;
    w.enqueuedAt = now;
    w.timeoutMs = timeoutMs;
    w.deadline = now + timeoutMs;
    w.signal = signal;
    w.stack = this.o.leakDetectionMs > 0 ? new Error('acquired here') : undefined;
    w.resolve = capturedResolve as (resource: T) => void;
    w.reject = capturedReject;
    if (signal !== undefined) {
      w.onAbort = () => this.abortWaiter(w);
      signal.addEventListener('abort', w.onAbort, { once: true });
    }
    return w;
  }

  private tenantRecord(org: string): TenantRecord<T> {
    // Consecutive acquires usually carry the same tenant: skip the Map lookup for a repeat.
    const last = this.lastRec;
    if (last !== null && last.id === org) {
      last.lastSeen = this.clock.coarse;
      return last;
    }
    let rec = this.tenants.get(org);
    if (rec === undefined) {
      rec = new TenantRecord<T>(org, this.o.maxPerTenant);
      rec.lastSeen = this.clock.coarse;
      this.tenants.set(org, rec);
      if (this.tenants.size > this.o.maxTrackedTenants) this.evictTenants(rec);
      this.lastRec = rec;
      return rec;
    }
    rec.lastSeen = this.clock.coarse;
    this.lastRec = rec;
    return rec;
  }

  /**
   * Tenant-affine choice: an idle resource already bound to `org` (no round trip), else an unbound
   * one (bind only), else the most recently used (unbind + bind).
   */
  private takeIdleFor(org: string | undefined): Slot<T> {
    const idle = this.idle;
    let unbound = -1;
    for (let i = idle.length - 1; i >= 0; i--) {
      const b = idle[i].boundTenant;
      if (b === org) return this.takeIdleAt(i);
      if (b === undefined && unbound < 0) unbound = i;
    }
    return this.takeIdleAt(unbound >= 0 ? unbound : idle.length - 1);
  }

  private takeIdleAt(i: number): Slot<T> {
    const idle = this.idle;
    const slot = idle[i];
    if (i === idle.length - 1) idle.pop();
    else idle.splice(i, 1);
    return slot;
  }

  /** `fromIdle`: taken from the idle stack. A resource passed straight from a release was never idle. */
  private needsPrep(slot: Slot<T>, org: string | undefined, fromIdle: boolean): boolean {
    if (this.binding !== undefined && slot.boundTenant !== org) return true;
    return fromIdle && this.needsValidation(slot);
  }

  /** Never early (see PoolClock.pastLifetime). */
  private pastLifetime(slot: Slot<T>): boolean {
    return this.clock.pastLifetime(slot.expiresAt);
  }

  /** Whether ending `slot`'s lease must run the unbind (`unbindOnRelease`; transaction mode: the COMMIT). */
  private owesUnbind(slot: Slot<T>): slot is Slot<T> & { boundTenant: string } {
    return slot.boundTenant !== undefined && this.binding?.unbindOnRelease === true;
  }

  /** The only place a tenant's held count changes. */
  private hold(rec: TenantRecord<T>, delta: 1 | -1): void {
    rec.held += delta;
  }

  /**
   * The one dispatch step, run after anything that frees capacity or lowers a tenant's held count
   * (release, destroy, retire, create, prepare done): idle resources go to waiters that may now take
   * them, then creates start for waiters no idle resource can serve.
   */
  private dispatch(): void {
    if (this.q.pending > 0 && this.idle.length > 0) this.dispatchIdle();
    this.ensureCapacity();
  }

  private needsValidation(slot: Slot<T>): boolean {
    if (this.factory.validate === undefined || slot.fresh) return false;
    const after = this.o.validateAfterIdleMs;
    return after === 0 || performance.now() - slot.lastReturnedAt > after;
  }

  /** Hands `slot` to a caller. The tenant's `held` was already counted. */
  private lease(
    slot: Slot<T>,
    rec: TenantRecord<T>,
    org: string | undefined,
    stack: Error | undefined,
    /** When the caller started waiting (precise clock), or -1 for an immediate acquire. */
    enqueuedAt: number,
  ): void {
    slot.lend(rec, org, stack);
    rec.acquired++;
    this.acquired++;
    const inUse = this.size - this.idle.length;
    if (inUse > this.sizingWindow.inUsePeak) this.sizingWindow.inUsePeak = inUse;
    // Wait and hold times are sampled: a sampled lease reads the clock here and once on release. The
    // interval is random (mean SAMPLE_EVERY) so it cannot alias with a periodic request pattern, and
    // every lease is sampled until the window holds MIN_SAMPLES, so a quiet pool's stats are exact.
    // Each sizing window also gets a floor of sampled leases, so a slow window is never blind.
    const sw = this.sizingWindow;
    if (--this.sampleIn === 0 || this.holdSamples.count < MIN_SAMPLES || sw.sampled < sw.minSamples) {
      if (this.sampleIn <= 0) this.sampleIn = 1 + ((Math.random() * (2 * SAMPLE_EVERY - 1)) | 0);
      sw.sampled++;
      const now = this.clock.nearNow();
      slot.sampleStart = now;
      const waitMs = enqueuedAt < 0 ? 0 : now - enqueuedAt;
      this.waitSamples.record(waitMs, now);
      if (org !== undefined) (rec.waits ??= new SampleWindow(TENANT_SAMPLE_WINDOW)).record(waitMs);
      this.tracker.acquired(waitMs, org);
    } else {
      slot.sampleStart = -1;
      this.tracker.acquired(-1, org);
    }
    // Coarse clock (refreshed by any precise read above, and by the maintenance tick).
    slot.acquiredAt = this.clock.coarse;
    if (this.subject.observed) {
      const waitMs = enqueuedAt < 0 ? 0 : performance.now() - enqueuedAt;
      this.emit({ type: 'acquire', pool: this.name, organisationId: org, waitMs });
    }
  }

  private endLease(slot: Slot<T>): void {
    this.hold(slot.rec!, -1);
    if (slot.sampleStart >= 0) {
      const now = this.clock.nearNow();
      const holdMs = now - slot.sampleStart;
      this.holdSamples.record(holdMs, now);
      this.tracker.released(holdMs, slot.org);
    } else {
      this.tracker.released(-1, slot.org);
    }
    if (this.subject.observed) {
      this.emit({
        type: 'release',
        pool: this.name,
        organisationId: slot.org,
        holdMs: Math.max(0, performance.now() - slot.acquiredAt),
      });
    }
    slot.endLease();
  }

  /** Room for waiters served by creates that can still start (so maxWaiting: 0 still lets a pool grow). */
  private headroom(): number {
    return Math.max(0, this.cap - this.size - this.destroying);
  }

  private expire(w: Waiter<T>, now: number): void {
    // Counts first, so `waiting` includes this caller, as HikariCP reports it.
    const counts = this.counts();
    this.q.settle(w);
    this.timeouts++;
    w.rec.timeouts++;
    this.tracker.timeout(w.org);
    this.recentTimeouts[this.recentTimeoutsNext] = now;
    this.recentTimeoutsNext = (this.recentTimeoutsNext + 1) % this.recentTimeouts.length;
    if (this.subject.observed) {
      this.emit({ type: 'timeout', pool: this.name, organisationId: w.org, timeoutMs: w.timeoutMs });
    }
    w.reject(PoolTimeoutError.acquire(this.name, w.timeoutMs, counts, w.org, this.creator.failingCause));
  }

  private abortWaiter(w: Waiter<T>): void {
    if (w.state === SETTLED) return;
    w.onAbort = undefined; // `once` already removed it
    const reason: unknown = w.signal!.reason;
    this.q.settle(w);
    w.reject(reason ?? new Error(PoolMessages.abortedDefault(this.name)));
  }

  // ---------------------------------------------------------------- hand-off

  /** A resource became available (created, released, unbound): first eligible waiter, else idle. */
  private recycle(slot: Slot<T>): void {
    if (this.closed || slot.broken) {
      void this.retire(slot, slot.broken ? 'broken' : 'close');
      return;
    }
    if (this.size > this.cap) {
      // Above a lowered auto-size limit: the resource is free now, so retiring it takes no lease.
      void this.retire(slot, 'idle');
      return;
    }
    if (this.q.pending > 0) {
      const w = this.q.pickWaiter();
      if (w !== null) {
        this.handTo(slot, w, false);
        if (this.q.pending > 0 && this.idle.length > 0) this.dispatchIdle();
        return;
      }
    }
    if (this.factory.validate === undefined) slot.park(this.clock.coarse, false);
    else slot.park(performance.now(), true);
    this.idle.push(slot);
  }

  /** Idle resources while callers wait: only after a tenant dropped below its cap. */
  private dispatchIdle(): void {
    while (this.idle.length > 0 && this.q.pending > 0) {
      const w = this.q.pickWaiter();
      if (w === null) return;
      const slot = this.binding === undefined ? this.idle.pop()! : this.takeIdleFor(w.org);
      if (this.pastLifetime(slot)) {
        slot.reserve();
        this.q.requeueFront(w);
        void this.retire(slot, 'lifetime');
        return; // retire dispatches again
      }
      this.handTo(slot, w, true);
    }
  }

  /** `w` was just dequeued. */
  private handTo(slot: Slot<T>, w: Waiter<T>, fromIdle: boolean): void {
    const rec = w.rec;
    this.hold(rec, 1);
    if (!this.plainLend && this.needsPrep(slot, w.org, fromIdle)) {
      w.state = PREPARING;
      this.prepare(slot, w, fromIdle);
      return;
    }
    // Already out of its queue (PREPARING): settle only unlinks it and drops its abort listener.
    this.q.settle(w);
    this.lease(slot, rec, w.org, w.stack, w.enqueuedAt);
    w.resolve(slot.resource);
    // Nothing refers to `w` now (an abort listener would, hence the signal check): reuse it.
    if (w.signal === undefined) this.q.recycle(w);
  }

  /**
   * Validate and/or (re)bind `slot` for waiter `w` (state PREPARING, its tenant's `held` counted).
   * A resource that fails is destroyed and the waiter goes back to the front of its queue.
   */
  private prepare(slot: Slot<T>, w: Waiter<T>, validate: boolean): void {
    slot.reserve();
    w.state = PREPARING;
    void this.prep.prepare(slot, w.org, validate && this.needsValidation(slot)).then((result) => {
      // The resource reported an error while it was being prepared (its connection died after the
      // bind's query answered): never lend it.
      const reason = result === undefined && slot.broken ? 'broken' : result;
      if (reason !== undefined) {
        if (reason === 'validation') this.validationFailures++;
        this.hold(w.rec, -1);
        // A bind that keeps failing would otherwise spin create -> bind -> destroy; back off like creates.
        if (reason === 'broken') this.creator.backOff(++this.bindFailures);
        // Back in the queue first, so the dispatch that retire runs can serve it.
        if (w.state === PREPARING) this.q.requeueFront(w);
        void this.retire(slot, reason);
        return;
      }
      if (w.state !== PREPARING) {
        // The caller timed out or aborted meanwhile; the resource (now bound to w.org) is still good.
        this.hold(w.rec, -1);
        this.recycle(slot);
        this.dispatch();
        return;
      }
      this.bindFailures = 0;
      this.q.settle(w);
      this.lease(slot, w.rec, w.org, w.stack, w.enqueuedAt);
      w.resolve(slot.resource);
    });
  }

  private unbindThenRecycle(slot: Slot<T>): Promise<{ error: unknown } | undefined> {
    return this.prep.unbindResult(slot).then((failed) => {
      if (failed !== undefined) void this.retire(slot, 'unbind-failed');
      // close() may have force-retired the slot while the unbind ran.
      else if (slot.state !== GONE) {
        if (this.pastLifetime(slot)) void this.retire(slot, 'lifetime');
        else this.recycle(slot);
      }
      return failed;
    });
  }

  // ---------------------------------------------------------------- create / destroy

  private ensureCapacity(): void {
    if (this.closed || this.creator.paused) return;
    let want = this.o.min - this.size - this.creator.creating;
    // Never more creates than waiters not already covered by one (docs/design.md "Facts we rely on"); none while idle
    // resources exist, since then every waiter is held back by its tenant cap, not by capacity.
    if (this.idle.length === 0) {
      const forWaiters = this.q.pending - this.creator.creating;
      if (forWaiters > want) want = forWaiters;
    }
    const room = this.cap - this.size - this.creator.creating - this.destroying;
    if (want > room) want = room;
    for (let i = 0; i < want; i++) this.creator.start();
  }

  private createSucceeded(resource: T): void {
    const now = this.clock.precise();
    const o = this.o;
    const expiresAt =
      o.maxLifetimeMs > 0 ? now + o.maxLifetimeMs * (1 - o.maxLifetimeJitter * Math.random()) : Infinity;
    const slot = new Slot<T>(resource, now, expiresAt);
    this.slots.set(resource, slot);
    this.size++;
    this.created++;
    this.watch(slot);
    this.tracker.created();
    if (this.subject.observed) this.emit({ type: 'create', pool: this.name });
    this.recycle(slot);
    if (this.readyWaiters.size > 0 && this.size >= o.min) for (const r of [...this.readyWaiters]) r.resolve();
    if (this.healthState !== 'HEALTHY') this.evaluateHealth();
  }

  private createFailed(err: unknown, consecutive: number): void {
    this.sizingWindow.createFailed(err);
    if (this.subject.observed) {
      this.emit({ type: 'create-error', pool: this.name, error: err, consecutive });
    }
    if (!this.closed) this.evaluateHealth();
  }

  /** An idle resource that errors (pg.Client whose backend died) is removed instead of crashing the process. */
  private watch(slot: Slot<T>): void {
    const onBroken = (err: unknown): void => {
      if (slot.state === GONE) return;
      if (slot.state === IDLE) {
        void this.retire(slot, 'broken');
        this.logger.warn(PoolMessages.brokenIdle(this.name, err));
      } else if (!slot.broken) {
        // Leased or being prepared: it goes when it comes back, and is only said to be removed then.
        slot.broken = true;
        slot.brokenBy = err;
        this.logger.warn(PoolMessages.brokenLeased(this.name, err));
      }
    };
    if (this.factory.watch !== undefined) {
      const unwatch = this.factory.watch(slot.resource, onBroken);
      if (typeof unwatch === 'function') slot.unwatch = unwatch;
    } else if (isEmitter(slot.resource)) {
      // Left attached after destroy on purpose: a client may still emit 'error' while ending.
      slot.resource.on('error', onBroken);
    }
  }

  /** Removes a live resource from the pool and destroys it; resolves when the destroy finished. */
  private retire(slot: Slot<T>, reason: DestroyReason): Promise<void> {
    // Idempotent: close() force-retires busy slots, and the hook that was running on one may finish
    // later and try to retire it again.
    if (slot.state === IDLE) {
      const i = this.idle.indexOf(slot);
      if (i >= 0) this.idle.splice(i, 1);
    }
    if (!slot.retire()) return Promise.resolve();
    this.slots.delete(slot.resource);
    this.size--;
    this.destroyed++;
    if (slot.unwatch !== undefined) {
      try {
        slot.unwatch();
      } catch {
        // an unwatch that throws must not stop the destroy
      }
    }
    this.tracker.destroyed(reason);
    if (this.subject.observed) this.emit({ type: 'destroy', pool: this.name, reason });
    this.destroying++;
    const p = this.runDestroy(slot.resource).then(() => {
      this.destroying--;
      this.dispatch();
    });
    this.trackDestroy(p);
    this.dispatch();
    if (this.drained !== undefined && this.size === this.idle.length) this.drained();
    return p;
  }

  private trackDestroy(p: Promise<void>): void {
    this.destroys.add(p);
    void p.then(() => this.destroys.delete(p));
  }

  /**
   * A hook's result (validate, bind, unbind, rebind), bounded by createTimeoutMs: a hung hook must not
   * pin a slot (and with it pool capacity and close()) forever. A timeout rejects, so the caller
   * treats the resource as broken and destroys it.
   */
  private bounded<V>(result: V | PromiseLike<V>, hook: string): Promise<V> {
    const ms = this.o.createTimeoutMs;
    return withDeadline(result, ms, () => new Error(PoolMessages.hookTimedOut(this.name, hook, ms)));
  }

  /** factory.destroy, bounded by createTimeoutMs so a hung destroy cannot pin capacity forever. Never rejects. */
  private runDestroy(resource: T): Promise<void> {
    let r: Promise<void> | void;
    try {
      r = this.factory.destroy(resource);
    } catch (err) {
      this.logger.warn(PoolMessages.destroyFailed(this.name, err));
      return Promise.resolve();
    }
    const ms = this.o.createTimeoutMs;
    const timedOut = new Error('destroy timed out');
    return withDeadline(r, ms, () => timedOut).then(
      () => undefined,
      (err: unknown) => {
        this.logger.warn(
          err === timedOut
            ? PoolMessages.destroyTimedOut(this.name, ms)
            : PoolMessages.destroyFailed(this.name, err),
        );
      },
    );
  }

  // ---------------------------------------------------------------- maintenance, health, close

  private readonly tick = (): void => {
    const now = this.clock.precise();
    if (this.closed) return;
    const o = this.o;
    if (this.idle.length > 0 && (o.idleTimeoutMs > 0 || o.maxLifetimeMs > 0)) {
      const victims = findEvictions(this.idle, this.size - o.min, o.idleTimeoutMs, now);
      for (const [s, reason] of victims) void this.retire(s, reason);
    }
    if (o.leakDetectionMs > 0) {
      const { overdue, newLeaks } = scanLeases(this.slots.values(), o.leakDetectionMs, now);
      for (const s of newLeaks) {
        this.leaksDetected++;
        const heldMs = Math.round(now - s.acquiredAt);
        const stack = (s.stack?.stack ?? '').split('\n').slice(1).join('\n');
        this.logger.warn(PoolMessages.leak(this.name, heldMs, s.org, stack));
        if (this.subject.observed) {
          this.emit({ type: 'leak', pool: this.name, organisationId: s.org, heldMs, stack });
        }
      }
      this.overdueLeases = overdue;
    }
    this.trend.add(now, (this.size - this.idle.length) / o.max);
    if (now - this.sizingWindow.since >= this.sizer.windowMs) this.stepSizing(now);
    if (this.tenants.size > 0 && this.waitSamples.countSince(now - o.health.windowMs) === 0) {
      // Per-tenant p99s are count-based: forget them after a quiet window, like the pool's own.
      for (const r of this.tenants.values()) r.waits?.clear();
    }
    this.dispatch();
    this.evaluateHealth();
  };

  private counterSnapshot(): PoolCounterSnapshot {
    return {
      acquired: this.acquired,
      timeouts: this.timeouts,
      createErrors: this.creator.failures,
      pending: this.q.pending,
      size: this.size,
      inUse: this.size - this.idle.length,
    };
  }

  /** Closes a sizing window; with auto-sizing on, applies the controller's limit. */
  private stepSizing(now: number): void {
    const since = this.sizingWindow.since;
    const [waitP95] = this.waitSamples.percentiles([0.95], since);
    const [holdP50] = this.holdSamples.percentiles([0.5], since);
    const signals = this.sizingWindow.roll(now, this.counterSnapshot(), waitP95, {
      p50: holdP50,
      samples: this.holdSamples.countSince(since),
    });
    const d = this.sizer.step(signals);
    if (this.o.autoSize === undefined) return;
    this.applyCap(d.reason);
    this.fleet?.poke();
  }

  /** Resources this pool holds or is about to hold: what counts against `cap` and the fleet share. */
  private held(): number {
    return this.size + this.creator.creating + this.destroying;
  }

  /**
   * A fleet lease answer (or, with undefined, a failed Redis call). On failure the pool freezes at
   * what it holds, never more: the share may have expired in Redis and been granted to another
   * instance, so no new resource may be created on it.
   */
  private onFleetGrant(leased: number | undefined): void {
    if (this.closed) return;
    this.fleetCap =
      leased === undefined
        ? Math.max(this.o.min, Math.min(this.fleetCap, this.held()))
        : Math.max(this.o.min, leased);
    this.applyCap('fleet-budget');
  }

  /** Sets `cap` to the controller's limit within the fleet share; shrinks only by retiring idle resources. */
  private applyCap(reason: AutoSizeReason): void {
    const limit = Math.min(this.sizer.limit, this.fleetCap);
    if (limit === this.cap) return;
    const from = this.cap;
    this.cap = limit;
    if (limit < from) {
      // Shrink only by retiring idle resources; leases above the limit retire when they come back.
      let excess = this.size - limit;
      while (excess-- > 0 && this.idle.length > 0) void this.retire(this.idle[0], 'idle');
    } else if (reason === 'fleet-budget' && this.q.pending > 0) {
      // A grant arrives between two acquires: create for the callers already waiting on it. (The
      // controller's own growth keeps its tested behaviour: creates follow the next acquire/release.)
      this.ensureCapacity();
    }
    if (this.subject.observed)
      this.emit({
        type: 'resize',
        pool: this.name,
        from,
        to: limit,
        reason: limit === this.sizer.limit ? reason : 'fleet-budget',
      });
  }

  /** Detects a transition (called where state changes and on the tick): logs it and emits it. */
  private evaluateHealth(): PoolHealth {
    const now = performance.now();
    let h = this.computeHealth(now);
    if (h.state === 'UNHEALTHY') {
      if (this.unhealthySince < 0) {
        this.unhealthySince = now;
        h = this.computeHealth(now);
      }
    } else {
      this.unhealthySince = -1;
    }
    if (h.state !== this.healthState) {
      const from = this.healthState;
      this.healthState = h.state;
      const line = PoolMessages.healthChanged(this.name, from, h.state, h.reasons);
      // A graceful close is not a health alert.
      if (h.state === 'HEALTHY' || this.closed) this.logger.log(line);
      else this.logger.warn(line);
      if (this.subject.observed) this.emit({ type: 'health', pool: this.name, from, to: h.state, health: h });
    }
    return h;
  }

  private computeHealth(now: number): PoolHealth {
    const t = this.o.health;
    const since = now - t.windowMs;
    let timeoutsInWindow = 0;
    if (t.unhealthyTimeouts > 0) for (const at of this.recentTimeouts) if (at >= since) timeoutsInWindow++;
    return evaluateHealth(
      {
        closed: this.closed,
        utilization: (this.size - this.idle.length) / this.o.max,
        timeoutsInWindow,
        consecutiveCreateFailures: this.creator.consecutiveFailures,
        waitP99Ms: t.degradedWaitP99Ms === Infinity ? 0 : this.waitSamples.percentiles([0.99], since)[0],
        overdueLeases: this.overdueLeases,
        unhealthyForMs: this.unhealthySince < 0 ? 0 : now - this.unhealthySince,
        oldestWaitMs: this.q.dlHead === null ? 0 : Math.max(0, now - this.q.dlHead.enqueuedAt),
      },
      t,
    );
  }

  private async shutdown(): Promise<void> {
    for (const r of [...this.readyWaiters]) r.reject(PoolClosedError.create(this.name));
    // 1. stop lending (closed = true), 2. reject every waiter.
    while (this.q.dlHead !== null) {
      const w = this.q.dlHead;
      this.q.settle(w);
      w.reject(PoolClosedError.create(this.name, true));
    }
    this.creator.close(PoolClosedError.create(this.name));
    // Idle resources will never be lent again: no reason to hold them while loans drain.
    while (this.idle.length > 0) void this.retire(this.idle[this.idle.length - 1], 'close');
    // 3. wait for loans (and in-flight validate/bind/unbind) up to shutdownTimeoutMs.
    if (this.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, this.o.shutdownTimeoutMs);
      });
      clearTimeout(timer);
      this.drained = undefined;
      if (this.size > 0) {
        this.logger.warn(PoolMessages.shutdownForced(this.name, this.size, this.o.shutdownTimeoutMs));
        // 4. destroy everything. A loan that still owed its unbind loses its work (transaction mode:
        // the COMMIT never runs); mark it so a use() still running fails instead of acknowledging it.
        for (const s of [...this.slots.values()]) {
          if (s.state === LEASED && this.owesUnbind(s)) s.forcedBeforeUnbind = true;
          void this.retire(s, 'close');
        }
      }
    }
    // Creates were aborted; a factory that ignores the signal is still bounded by createTimeoutMs.
    await this.creator.settled();
    // 5. resolve only after every destroy has finished.
    while (this.destroys.size > 0) await Promise.all([...this.destroys]);
    // Only now, with nothing held, may another instance use this share.
    await this.fleet?.close();
    clearInterval(this.maintenance);
    this.evaluateHealth();
    if (this.subject.observed) this.emit({ type: 'closed', pool: this.name });
    this.subject.complete();
  }

  // ---------------------------------------------------------------- helpers

  private counts(): PoolCounts {
    return {
      total: this.size,
      inUse: this.size - this.idle.length,
      idle: this.idle.length,
      waiting: this.q.pending,
    };
  }

  private emit(event: PoolEvent): void {
    this.subject.next(event);
  }

  /**
   * Keeps per-tenant stats bounded with a CLOCK sweep in insertion order: a quiet record (nothing
   * held or waiting) not seen since the last sweep is dropped; one seen since gets a second chance
   * and moves to the end. Amortised O(1) per new tenant, with no sort.
   */
  private evictTenants(keep: TenantRecord<T>): void {
    const target = Math.floor(this.o.maxTrackedTenants * 0.9);
    const sweptAt = this.lastTenantSweep;
    this.lastTenantSweep = this.clock.coarse;
    let budget = this.tenants.size;
    for (const r of this.tenants.values()) {
      if (this.tenants.size <= target || budget-- === 0) break;
      if (r === keep) continue;
      if (r.held === 0 && r.size === 0 && !r.inRing && r.lastSeen <= sweptAt) {
        this.tenants.delete(r.id!);
        if (r === this.lastRec) this.lastRec = null;
      } else {
        // Second chance: to the end of the insertion order.
        this.tenants.delete(r.id!);
        this.tenants.set(r.id!, r);
      }
    }
  }
}
