/**
 * The pool side of the controller: turns the pool's running counters into one `AutoSizeSignals`
 * per window, so the pool core only bumps a peak and forwards create failures.
 */
import type { AutoSizeSignals } from './autosize.controller';

/** The pool's monotonic counters and gauges at one instant. */
export interface PoolCounterSnapshot {
  acquired: number;
  timeouts: number;
  createErrors: number;
  pending: number;
  size: number;
  inUse: number;
}

/**
 * `true` when a create failed because the server has no connection slot left: PostgreSQL SQLSTATE
 * 53300 (too_many_connections), in `err` or its `cause` chain.
 */
export function isTooManyConnectionsError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === '53300') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export class SizingWindow {
  private startedAt: number;
  private base: PoolCounterSnapshot;
  private tooMany = 0;
  /** Highest in-use count seen this window; the pool raises it when it lends. */
  inUsePeak: number;
  /**
   * Leases sampled (precise wait/hold times) since the window opened. The pool samples every lease
   * until this reaches `minSamples`: its usual 1-in-8 sampling leaves a slow window (few, long
   * leases, exactly what a database slowdown produces) with no hold sample at all, and a window
   * without evidence would keep the previous "healthy" verdict while callers queue.
   */
  sampled = 0;

  constructor(
    now: number,
    snap: PoolCounterSnapshot,
    /** Sampled leases each window gets at least (the controller's `minHoldSamples`). */
    readonly minSamples: number,
  ) {
    this.startedAt = now;
    this.base = snap;
    this.inUsePeak = snap.inUse;
  }

  get since(): number {
    return this.startedAt;
  }

  createFailed(err: unknown): void {
    if (isTooManyConnectionsError(err)) this.tooMany++;
  }

  /** Closes the window at `now` and starts the next one. */
  roll(
    now: number,
    snap: PoolCounterSnapshot,
    waitP95Ms: number,
    hold: { p50: number; samples: number },
  ): AutoSizeSignals {
    const b = this.base;
    const timeouts = snap.timeouts - b.timeouts;
    const signals: AutoSizeSignals = {
      durationMs: now - this.startedAt,
      waiters: snap.pending,
      waitP95Ms,
      holdP50Ms: hold.p50,
      holdSamples: hold.samples,
      timeouts,
      createFailures: snap.createErrors - b.createErrors,
      tooManyConnections: this.tooMany,
      inUsePeak: Math.max(this.inUsePeak, snap.inUse),
      // Acquire calls = served + gave up + still queued beyond those queued at the start.
      arrivals: Math.max(0, snap.acquired - b.acquired + timeouts + snap.pending - b.pending),
      size: snap.size,
    };
    this.startedAt = now;
    this.base = snap;
    this.tooMany = 0;
    this.inUsePeak = snap.inUse;
    this.sampled = 0;
    return signals;
  }
}
