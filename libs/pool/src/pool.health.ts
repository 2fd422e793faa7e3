/**
 * Pool health as a pure function of a snapshot and the thresholds: no clock, no state, no logging.
 * The pool builds the snapshot (every signal already restricted to the time window) and detects
 * transitions where state changes or on its maintenance tick, never on a read.
 */
import { PoolMessages } from './pool.messages';
import type { PoolHealth, PoolHealthThresholds } from './pool.types';

/** Everything health depends on, measured by the pool at one moment. */
export interface HealthSnapshot {
  closed: boolean;
  /** inUse / max */
  utilization: number;
  /** Acquire timeouts within the last `windowMs`. */
  timeoutsInWindow: number;
  consecutiveCreateFailures: number;
  /** p99 of acquire waits sampled within the last `windowMs`; 0 when none. */
  waitP99Ms: number;
  /** Leases held longer than `leakDetectionMs` right now (0 when leak detection is off). */
  overdueLeases: number;
  /** How long the pool has been UNHEALTHY without a break, as detected so far; 0 when not. */
  unhealthyForMs: number;
  /** How long the waiter nearest its deadline (with one timeout for all: the oldest) has waited; 0 when none. */
  oldestWaitMs: number;
}

/**
 * HEALTHY / DEGRADED / UNHEALTHY with the reasons, plus `failing`: whether this instance is failing
 * its callers, which is what a readiness probe should act on. A saturated pool that still serves
 * every caller in time is UNHEALTHY (the documented utilization rule) but not failing, however long
 * it stays saturated: the time rule needs callers waiting longer than `degradedWaitP99Ms` too.
 */
export function evaluateHealth(s: HealthSnapshot, t: Required<PoolHealthThresholds>): PoolHealth {
  const reasons: string[] = [];
  let unhealthy = false;
  let degraded = false;
  let failing = false;
  if (s.closed) {
    unhealthy = failing = true;
    reasons.push(PoolMessages.reasonClosed());
  }
  if (s.utilization >= t.unhealthyUtilization) {
    unhealthy = true;
    reasons.push(PoolMessages.reasonUtilization(s.utilization, t.unhealthyUtilization));
  } else if (s.utilization >= t.degradedUtilization) {
    degraded = true;
    reasons.push(PoolMessages.reasonUtilization(s.utilization, t.degradedUtilization));
  }
  if (t.unhealthyTimeouts > 0 && s.timeoutsInWindow >= t.unhealthyTimeouts) {
    unhealthy = failing = true;
    reasons.push(PoolMessages.reasonTimeouts(s.timeoutsInWindow, t.windowMs));
  }
  if (s.consecutiveCreateFailures >= t.unhealthyCreateFailures) {
    unhealthy = failing = true;
    reasons.push(PoolMessages.reasonCreateFailures(s.consecutiveCreateFailures));
  }
  if (t.degradedWaitP99Ms !== Infinity && s.waitP99Ms > t.degradedWaitP99Ms) {
    degraded = true;
    reasons.push(PoolMessages.reasonWaitP99(s.waitP99Ms, t.degradedWaitP99Ms));
  }
  if (s.overdueLeases > 0) {
    degraded = true;
    reasons.push(PoolMessages.reasonOverdueLeases(s.overdueLeases));
  }
  // A pool saturated for minutes that serves everyone quickly is busy, not failing (a 10-minute
  // saturated soak must never answer 503); one that has been UNHEALTHY that long while callers wait
  // past degradedWaitP99Ms (served late, or still queued) is failing them even before any timeout.
  const waitsTooLong =
    t.degradedWaitP99Ms !== Infinity &&
    (s.waitP99Ms > t.degradedWaitP99Ms || s.oldestWaitMs > t.degradedWaitP99Ms);
  if (unhealthy && !failing && waitsTooLong && s.unhealthyForMs >= t.failingAfterMs) {
    failing = true;
    reasons.push(
      PoolMessages.reasonUnhealthyFor(
        s.unhealthyForMs,
        t.failingAfterMs,
        Math.max(s.waitP99Ms, s.oldestWaitMs),
        t.degradedWaitP99Ms,
      ),
    );
  }
  return {
    state: unhealthy ? 'UNHEALTHY' : degraded ? 'DEGRADED' : 'HEALTHY',
    utilization: s.utilization,
    reasons,
    failing,
  };
}
