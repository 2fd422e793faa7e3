import type { PoolStats } from '@reservoir/pool';
import { sizingView } from './dashboard.service';

/** The parts of `pool.stats()` that `sizingView` reads. */
function stats(baselineHoldMs: number | null, concurrency: number | null): PoolStats {
  return {
    autoSize: undefined,
    sizing: {
      recommended: baselineHoldMs === null ? null : 1,
      arrivalRatePerSec: 1234.56,
      baselineHoldMs,
      holdMs: baselineHoldMs,
      concurrency,
      littleSafety: 4,
      windowMs: 1000,
    },
  } as unknown as PoolStats;
}

describe('dashboard sizingView', () => {
  it('keeps a sub-millisecond baseline hold visible (SQLite holds are hundredths of a ms)', () => {
    // Regression: rounded to 0.1 ms, a 0.04 ms baseline was shown (and served) as 0.
    const r = sizingView(stats(0.0412, 0.0509)).recommendation;
    expect(r.baselineHoldMs).toBe(0.041);
    expect(r.concurrency).toBe(0.051);
    expect(r.arrivalRatePerSec).toBe(1234.6);
  });

  it('rounds larger values to one decimal, and passes null through', () => {
    expect(sizingView(stats(21.5833, 12.345)).recommendation).toMatchObject({
      baselineHoldMs: 21.6,
      concurrency: 12.3,
    });
    expect(sizingView(stats(3.14159, 2.71828)).recommendation).toMatchObject({
      baselineHoldMs: 3.1,
      concurrency: 2.7,
    });
    expect(sizingView(stats(null, null)).recommendation).toMatchObject({
      baselineHoldMs: null,
      concurrency: null,
    });
  });
});
