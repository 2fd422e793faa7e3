/**
 * A bounded ring of (time, value) samples whose percentiles cover only the samples younger than a
 * time window. Health and stats read it, so once load stops the numbers describe the window, not
 * the last burst however old it is (a count-based window kept a burst's p99 alive indefinitely).
 */
export class TimedSampleWindow {
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(readonly capacity = 1024) {
    this.values = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
  }

  /** `at` is a monotonic time in ms (performance.now() scale). */
  record(value: number, at: number): void {
    const i = this.next;
    this.values[i] = value;
    this.times[i] = at;
    this.next = i + 1 === this.capacity ? 0 : i + 1;
    if (this.filled < this.capacity) this.filled++;
  }

  /** Number of samples taken at or after `since`. */
  countSince(since: number): number {
    let n = 0;
    for (let k = 0; k < this.filled; k++) if (this.times[k] >= since) n++;
    return n;
  }

  /** Samples stored, however old (the sampling policy uses it to take every lease of a quiet pool). */
  get count(): number {
    return this.filled;
  }

  /** Nearest-rank percentiles for each `q` in [0, 1] over samples taken at or after `since`; 0 when none. */
  percentiles(qs: readonly number[], since: number): number[] {
    const picked = new Float64Array(this.filled);
    let n = 0;
    for (let k = 0; k < this.filled; k++) if (this.times[k] >= since) picked[n++] = this.values[k];
    if (n === 0) return qs.map(() => 0);
    const sorted = picked.subarray(0, n).sort();
    return qs.map((q) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]);
  }

  clear(): void {
    this.next = 0;
    this.filled = 0;
  }
}
