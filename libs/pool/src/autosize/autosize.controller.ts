/**
 * The auto-sizing controller: a pure state machine, one `step()` per window, no clock and no timers
 * (the pool, the simulator and the specs feed it windows). Reasoning in docs/design.md
 * ("Pool auto-sizing"); the short version:
 * - demand (callers still waiting, or acquire-wait p95 over a threshold) is the only reason to grow;
 * - congestion (median hold time above a slowly-rising baseline of the healthy hold time) forbids
 *   growth, so a slower database is never fed more connections;
 * - growth is capped by Little's law on the BASELINE hold time (L + k·√L), needs several windows of
 *   demand in a row and is at most √limit per window;
 * - acquire timeouts and create failures (PostgreSQL 53300 included) cut the limit multiplicatively;
 * - after a quiet period the limit decays toward the peak use seen in that period.
 */
import type { ResolvedAutoSizeOptions } from './autosize.options';

/** What the pool measured over one window. */
export interface AutoSizeSignals {
  /** Window length in ms (the arrival rate is `arrivals / durationMs`). */
  durationMs: number;
  /** Callers waiting at the end of the window. */
  waiters: number;
  /** Acquire-wait p95 in ms over the window (0 when nobody acquired). */
  waitP95Ms: number;
  /** Median lease hold time in ms over the window. */
  holdP50Ms: number;
  /** How many hold-time samples the median came from. */
  holdSamples: number;
  /** Acquires that timed out in the window. */
  timeouts: number;
  /** Failed creates in the window, `tooManyConnections` included. */
  createFailures: number;
  /** Failed creates the database refused for lack of connection slots (PostgreSQL SQLSTATE 53300). */
  tooManyConnections: number;
  /** Highest number of resources lent at once during the window. */
  inUsePeak: number;
  /** Acquire calls in the window. */
  arrivals: number;
  /** Live resources at the end of the window. */
  size: number;
}

export type AutoSizeReason =
  | 'initial'
  | 'demand'
  | 'hysteresis'
  | 'little-cap'
  | 'max'
  | 'congested'
  | 'cooldown'
  | 'timeout'
  | 'create-failure'
  | 'too-many-connections'
  | 'decay'
  | 'steady'
  /** The fleet budget (`autoSize.fleet`) granted this instance a different share, or Redis is unreachable. */
  | 'fleet-budget';

export interface AutoSizeDecision {
  from: number;
  limit: number;
  /** Where the controller is heading (the limit moves toward it at a bounded rate). */
  target: number;
  reason: AutoSizeReason;
}

/** The Little's-law recommendation and the numbers behind it. */
export interface SizingAdvice {
  /** ceil(L + littleSafety·√L), at least `min`; null until a window had enough hold samples. */
  recommended: number | null;
  /** Acquire calls per second in the last window. */
  arrivalRatePerSec: number;
  /** The healthy hold-time baseline in ms (null until measured). */
  baselineHoldMs: number | null;
  /** Median hold time in ms of the last window with enough samples (null before). */
  holdMs: number | null;
  /** L = arrival rate × baseline hold time: the average number of leases the load needs. */
  concurrency: number | null;
  littleSafety: number;
  windowMs: number;
}

export class AutoSizeController {
  private limitNow: number;
  private targetNow: number;
  private reasonNow: AutoSizeReason = 'initial';
  private baseline: number | undefined;
  private lastHold: number | undefined;
  private lastCongested = false;
  private rate = 0;
  private demandStreak = 0;
  private quietWindows = 0;
  private cooldown = 0;
  private readonly peaks: number[] = [];
  private readonly floor: number;
  /** Limit changes since construction. */
  adjustments = 0;

  constructor(private readonly o: ResolvedAutoSizeOptions) {
    this.floor = Math.max(1, o.min);
    this.limitNow = Math.min(o.max, Math.max(this.floor, o.initialLimit));
    this.targetNow = this.limitNow;
  }

  get limit(): number {
    return this.limitNow;
  }
  get target(): number {
    return this.targetNow;
  }
  get reason(): AutoSizeReason {
    return this.reasonNow;
  }
  get windowMs(): number {
    return this.o.windowMs;
  }

  /** L = rate × baseline hold, or undefined without a baseline. */
  private concurrency(): number | undefined {
    return this.baseline === undefined ? undefined : this.rate * this.baseline;
  }

  /** ceil(L + k·√L) for the current window, or undefined without a baseline. */
  private littleSize(): number | undefined {
    const l = this.concurrency();
    return l === undefined ? undefined : Math.ceil(l + this.o.littleSafety * Math.sqrt(l));
  }

  advice(): SizingAdvice {
    const l = this.concurrency();
    const little = this.littleSize();
    return {
      recommended: little === undefined ? null : Math.max(this.o.min, little),
      arrivalRatePerSec: this.rate * 1000,
      baselineHoldMs: this.baseline ?? null,
      holdMs: this.lastHold ?? null,
      concurrency: l ?? null,
      littleSafety: this.o.littleSafety,
      windowMs: this.o.windowMs,
    };
  }

  /** Feeds one window; returns the decision (compare `from` and `limit` to see a change). */
  step(s: AutoSizeSignals): AutoSizeDecision {
    const o = this.o;
    const from = this.limitNow;
    this.rate = s.durationMs > 0 ? s.arrivals / s.durationMs : 0;

    // Baseline: falls quickly toward a lower median, rises only by baselineDrift per window. A
    // symmetric average would follow the hold time up as the pool grows into contention, and each
    // step up would license the next (the unbounded growth of Gradient2 under mild overload).
    // Congestion is judged on any sample (a slow database yields few completed leases per window,
    // and sparse data must not read as healthy); the baseline moves only on windows with enough of
    // them. A window without a single completed lease keeps the previous verdict.
    let congested = this.lastCongested;
    if (s.holdSamples > 0 && s.holdP50Ms > 0) {
      const hold = s.holdP50Ms;
      congested = this.baseline !== undefined && hold > this.baseline * o.congestionRatio;
      if (s.holdSamples >= o.minHoldSamples) {
        this.lastHold = hold;
        if (this.baseline === undefined) this.baseline = hold;
        else if (hold < this.baseline) this.baseline += o.baselineAlpha * (hold - this.baseline);
        else this.baseline = Math.min(hold, this.baseline * (1 + o.baselineDrift));
      }
    }
    this.lastCongested = congested;

    this.peaks.push(s.inUsePeak);
    const keep = Math.max(1, Math.ceil(o.decayAfterMs / o.windowMs));
    while (this.peaks.length > keep) this.peaks.shift();

    const demand = s.waiters > 0 || s.waitP95Ms > o.demandWaitP95Ms;
    // Little's law on the baseline hold time, for the arrivals plus the backlog: draining W waiters
    // within one window needs W·baseline/window more leases. Both terms use the BASELINE hold, so a
    // slower database never raises this cap.
    const l = this.littleSize();
    const little =
      l === undefined || s.durationMs <= 0
        ? undefined
        : l + Math.ceil((s.waiters * this.baseline!) / s.durationMs);

    // Callers queued before a cut keep timing out for a while after it: like TCP, cut at most once
    // per cooldown for timeouts (create failures are the database's own answer, each one counts).
    const timeoutsCut = s.timeouts > 0 && this.cooldown === 0;
    if (s.tooManyConnections > 0 || s.createFailures > 0 || timeoutsCut) {
      // The database refused or callers gave up: cut now, not smoothed, then pause growth.
      let cut = Math.floor(this.limitNow * o.backoffFactor);
      let reason: AutoSizeReason = 'timeout';
      if (s.tooManyConnections > 0) {
        // The server has no slot left: what we hold is already too much.
        reason = 'too-many-connections';
        if (s.size > 0) cut = Math.min(cut, Math.floor(s.size * o.backoffFactor));
      } else if (s.createFailures > 0) {
        reason = 'create-failure';
      } else {
        // Back off, but not below what Little's law says the measured load needs at the healthy
        // hold time: below that the pool itself becomes the bottleneck.
        const l = this.concurrency();
        if (l !== undefined) cut = Math.max(cut, Math.min(this.limitNow, Math.ceil(l)));
      }
      this.set(Math.max(this.floor, Math.min(this.limitNow, cut)), reason);
      this.targetNow = this.limitNow;
      this.cooldown = o.cooldownWindows;
      this.demandStreak = 0;
      this.quietWindows = 0;
      return { from, limit: this.limitNow, target: this.targetNow, reason };
    }

    if (s.timeouts > 0) {
      // Timeouts inside the cooldown: no second cut, and certainly no growth.
      this.cooldown = Math.max(0, this.cooldown - 1);
      this.demandStreak = 0;
      this.quietWindows = 0;
      this.targetNow = this.limitNow;
      this.reasonNow = 'cooldown';
      return { from, limit: this.limitNow, target: this.targetNow, reason: 'cooldown' };
    }

    if (congested) {
      // Hold time above its baseline: more connections would only queue inside the database.
      this.demandStreak = 0;
      this.quietWindows = 0;
      this.targetNow = this.limitNow;
      this.reasonNow = 'congested';
      return { from, limit: this.limitNow, target: this.targetNow, reason: 'congested' };
    }

    if (demand) {
      this.quietWindows = 0;
      if (s.holdSamples === 0 || s.holdP50Ms <= 0) {
        // Callers wait, yet no lease completed in the window: the hold time is unknown, and a
        // database that just slowed down or stalled looks exactly like this. The previous window's
        // verdict is no evidence that this queue is healthy demand, so wait for one that has it.
        this.targetNow = this.limitNow;
        this.reasonNow = 'hysteresis';
        return { from, limit: this.limitNow, target: this.targetNow, reason: 'hysteresis' };
      }
      this.demandStreak++;
      const wanted = Math.max(this.limitNow + 1, s.inUsePeak + s.waiters);
      const cap = Math.min(o.max, little ?? o.max);
      this.targetNow = Math.max(this.limitNow, Math.min(wanted, cap));
      let reason: AutoSizeReason;
      if (this.cooldown > 0) {
        this.cooldown--;
        reason = 'cooldown';
      } else if (this.targetNow <= this.limitNow) {
        reason = this.limitNow >= o.max ? 'max' : 'little-cap';
      } else if (this.demandStreak < o.growAfterWindows) {
        reason = 'hysteresis';
      } else {
        const step = Math.max(1, Math.floor(Math.sqrt(this.limitNow)));
        this.set(Math.min(this.targetNow, this.limitNow + step), 'demand');
        // A new streak must build up before the next step only if demand was met; keep growing
        // every window while it persists.
        reason = 'demand';
      }
      this.reasonNow = reason;
      return { from, limit: this.limitNow, target: this.targetNow, reason };
    }

    this.demandStreak = 0;
    this.quietWindows++;
    if (this.cooldown > 0) this.cooldown--;
    // Toward the peak use of the quiet period, but no higher than the Little's-law size: a burst
    // peak in a Poisson stream is rarely needed again, the square-root staffing margin covers it.
    const peak = Math.max(...this.peaks);
    const cap = l === undefined ? peak : Math.min(peak, l);
    this.targetNow = Math.min(this.limitNow, Math.max(this.floor, cap));
    if (this.quietWindows * o.windowMs >= o.decayAfterMs && this.limitNow > this.targetNow) {
      const gap = this.limitNow - this.targetNow;
      this.set(this.limitNow - Math.max(1, Math.ceil(gap * o.decayFactor)), 'decay');
      return { from, limit: this.limitNow, target: this.targetNow, reason: 'decay' };
    }
    this.reasonNow = 'steady';
    return { from, limit: this.limitNow, target: this.targetNow, reason: 'steady' };
  }

  private set(limit: number, reason: AutoSizeReason): void {
    if (limit !== this.limitNow) this.adjustments++;
    this.limitNow = limit;
    this.reasonNow = reason;
  }
}
