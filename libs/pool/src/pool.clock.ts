/**
 * The pool's two times. A coarse monotonic reading (`coarse`) is cheap and safe for statistics,
 * tenant-record ages and the start of a lease; it may lag by up to a maintenance tick. Decisions that
 * destroy or keep a resource (lifetime) use `pastLifetime`, which reads the precise clock whenever the
 * coarse one is close enough to the deadline that its lag could make it run early.
 */
import { CLOCK_REUSE } from './pool.defaults';

const RESOLVED = Promise.resolve();

export class PoolClock {
  /** Last precise reading: refreshed by the maintenance tick and by every precise read. */
  coarse: number = performance.now();
  /** Uses left of `coarse` as a `nearNow()` answer; 0 = read the clock. */
  private reuse = 0;
  private stalePending = false;

  /**
   * @param lifetimeGuardMs how far before a deadline (on the coarse clock) `pastLifetime` reads the
   * precise clock: at least the coarse clock's worst lag.
   */
  constructor(readonly lifetimeGuardMs: number) {}

  /** `performance.now()`, remembered as the coarse reading. */
  precise(): number {
    const now = performance.now();
    this.coarse = now;
    return now;
  }

  /** A precise reading taken elsewhere (a timer's own read) refreshes the coarse one. */
  observe(now: number): void {
    this.coarse = now;
  }

  /**
   * `performance.now()`, or a read taken earlier in the same run of microtasks. Used where a clock is
   * needed on the hot path: a wait's start (its deadline) and sampled wait/hold times. A precise read
   * costs about as much as the rest of a hand-off, so one read serves every use until the microtasks
   * already queued at that moment have run, and at most CLOCK_REUSE uses: in a saturated pool that is
   * one read per ~10 hand-offs. The error is the run time of those microtasks (microseconds, unless
   * one of them blocks the thread), and never spans an idle gap, a timer or I/O.
   */
  nearNow(): number {
    if (this.reuse > 0) {
      this.reuse--;
      return this.coarse;
    }
    const now = performance.now();
    this.coarse = now;
    this.reuse = CLOCK_REUSE;
    if (!this.stalePending) {
      this.stalePending = true;
      void RESOLVED.then(this.stale);
    }
    return now;
  }

  private readonly stale = (): void => {
    this.stalePending = false;
    this.reuse = 0;
  };

  /** Whether `expiresAt` may be near enough that `pastLifetime` must read the precise clock. */
  nearDeadline(expiresAt: number): boolean {
    return expiresAt - this.coarse <= this.lifetimeGuardMs;
  }

  /**
   * Whether a deadline has really passed. Never early: within `lifetimeGuardMs` of it on the coarse
   * clock the precise clock decides. Far from it this is one comparison.
   */
  pastLifetime(expiresAt: number): boolean {
    if (expiresAt - this.coarse > this.lifetimeGuardMs) return false;
    return expiresAt <= this.precise();
  }
}
