/**
 * A fixed-size ring of recent samples with percentiles. Fixed memory and O(1) record, so it can sit
 * on a hot path; percentiles sort a copy, which is fine at stats()/scrape frequency.
 */
export class SampleWindow {
  private readonly buf: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(readonly capacity = 1024) {
    this.buf = new Float64Array(capacity);
  }

  record(value: number): void {
    this.buf[this.next] = value;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    if (this.filled < this.capacity) this.filled++;
  }

  get count(): number {
    return this.filled;
  }

  /** The newest sample, or 0 when empty. */
  last(): number {
    if (this.filled === 0) return 0;
    return this.buf[(this.next - 1 + this.capacity) % this.capacity];
  }

  /** Percentiles for each `q` in [0, 1] (nearest-rank); all 0 when empty. */
  percentiles(qs: readonly number[]): number[] {
    if (this.filled === 0) return qs.map(() => 0);
    const sorted = this.buf.slice(0, this.filled).sort();
    return qs.map((q) => sorted[Math.min(this.filled - 1, Math.max(0, Math.ceil(q * this.filled) - 1))]);
  }

  clear(): void {
    this.next = 0;
    this.filled = 0;
  }
}

export type TrendDirection = 'rising' | 'stable' | 'falling';

export interface TrendSnapshot {
  /** Least-squares slope of the sampled value, in units per second. */
  slope: number;
  direction: TrendDirection;
  /** Number of points in the window. */
  points: number;
}

/**
 * A sliding time window of (time, value) points with a least-squares slope. Points older than
 * `windowMs` are dropped on insert, and at most `maxPoints` are kept, so memory is bounded.
 */
export class TrendWindow {
  private readonly times: number[] = [];
  private readonly values: number[] = [];

  constructor(
    readonly windowMs = 60_000,
    /** |slope| (units/s) under which the trend reads as stable. */
    readonly stableSlope = 0.001,
    readonly maxPoints = 600,
  ) {}

  add(atMs: number, value: number): void {
    this.times.push(atMs);
    this.values.push(value);
    const cutoff = atMs - this.windowMs;
    let drop = 0;
    while (drop < this.times.length && this.times[drop] < cutoff) drop++;
    if (this.times.length - drop > this.maxPoints) drop = this.times.length - this.maxPoints;
    if (drop > 0) {
      this.times.splice(0, drop);
      this.values.splice(0, drop);
    }
  }

  snapshot(): TrendSnapshot {
    const n = this.times.length;
    if (n < 2) return { slope: 0, direction: 'stable', points: n };
    const t0 = this.times[0];
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let sxy = 0;
    for (let i = 0; i < n; i++) {
      const x = (this.times[i] - t0) / 1000;
      const y = this.values[i];
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    const den = n * sxx - sx * sx;
    const slope = den === 0 ? 0 : (n * sxy - sx * sy) / den;
    const direction: TrendDirection =
      slope > this.stableSlope ? 'rising' : slope < -this.stableSlope ? 'falling' : 'stable';
    return { slope, direction, points: n };
  }

  /** The newest value, or undefined when empty. */
  latest(): number | undefined {
    return this.values.length ? this.values[this.values.length - 1] : undefined;
  }

  clear(): void {
    this.times.length = 0;
    this.values.length = 0;
  }
}
