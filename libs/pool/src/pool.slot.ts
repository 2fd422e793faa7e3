/**
 * One pooled resource and its lifecycle: IDLE (on the idle stack), LEASED (with a caller), BUSY
 * (being validated/bound/unbound, or between a release and its next home), GONE (retired). State
 * changes only through the named transitions below.
 */
import type { TenantRecord } from './pool.wait-queue';

// Slot states. Plain numbers rather than a const enum so isolated transpilers (swc) agree.
export const IDLE = 0;
export const LEASED = 1;
/** Not idle and not with a caller: validating/binding for a waiter, or unbinding after release. */
export const BUSY = 2;
export const GONE = 3;

export class Slot<T> {
  state = IDLE;
  /** Tenant whose session state the resource carries (tenantBinding only). */
  boundTenant: string | undefined = undefined;
  org: string | undefined = undefined;
  /** The tenant record whose held count this lease is in (set while LEASED). */
  rec: TenantRecord<T> | undefined = undefined;
  /** Coarse monotonic ms. */
  acquiredAt = 0;
  /**
   * When it last went idle. Precise when the factory validates (validation compares it); otherwise a
   * coarse stamp that the housekeeper replaces with its first sighting (`idleSeen`), so idle eviction
   * never acts on a time that may run early.
   */
  lastReturnedAt: number;
  idleSeen = true;
  /** Bumped on every lease: `use()` only ends the lease it started. */
  leaseGen = 0;
  /** Precise start of a sampled lease, or -1. */
  sampleStart = -1;
  stack: Error | undefined = undefined;
  leakReported = false;
  broken = false;
  /** What the resource reported when it broke while leased (kept for the error `use()` may throw). */
  brokenBy: unknown = undefined;
  /**
   * close() destroyed this resource while it was leased and owed an unbind (`unbindOnRelease`): in
   * transaction mode that unbind is the COMMIT, so the lease's work was rolled back. `use()` reads it.
   */
  forcedBeforeUnbind = false;
  /**
   * The unbind outcome of the lease `gen`, when that lease ended through `release()` rather than the
   * end of `use()`: a `use()` whose callback released its own resource reads it, so a failed unbind
   * (the COMMIT, in transaction mode) still fails the call. Set only with an unbind to report.
   */
  released: { gen: number; outcome: Promise<{ error: unknown } | undefined> } | undefined = undefined;
  /** Never lent yet: skip validate-on-borrow. */
  fresh = true;
  unwatch: (() => void) | undefined = undefined;

  constructor(
    readonly resource: T,
    readonly createdAt: number,
    readonly expiresAt: number,
  ) {
    this.lastReturnedAt = createdAt;
  }

  // Named transitions. The pool decides when; these only keep a slot's fields consistent.

  /** IDLE or BUSY -> LEASED: a caller has it. */
  lend(rec: TenantRecord<T>, org: string | undefined, stack: Error | undefined): void {
    this.state = LEASED;
    this.leaseGen++;
    this.org = org;
    this.rec = rec;
    this.fresh = false;
    this.stack = stack;
    this.leakReported = false;
  }

  /** LEASED -> BUSY: the lease ended; returns the record whose held count it was in. */
  endLease(): TenantRecord<T> {
    const rec = this.rec!;
    this.rec = undefined;
    this.stack = undefined;
    this.state = BUSY;
    return rec;
  }

  /** -> BUSY: being validated, bound or unbound (not idle, not with a caller). */
  reserve(): void {
    this.state = BUSY;
  }

  /** -> IDLE at `stamp`; `precise` false for a coarse stamp the housekeeper replaces on first sight. */
  park(stamp: number, precise: boolean): void {
    this.state = IDLE;
    this.lastReturnedAt = stamp;
    this.idleSeen = precise;
  }

  /** -> GONE; false when it already was (retiring is idempotent). */
  retire(): boolean {
    if (this.state === GONE) return false;
    this.state = GONE;
    return true;
  }
}
