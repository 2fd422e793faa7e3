import { AutoSizeController, type AutoSizeSignals } from './autosize.controller';
import { autoSizeDefaults, type ResolvedAutoSizeOptions } from './autosize.options';

function controller(over: Partial<ResolvedAutoSizeOptions> = {}): AutoSizeController {
  return new AutoSizeController({ ...autoSizeDefaults(0, 100), ...over });
}

/** A healthy window: 100 arrivals/s at 20 ms hold, nobody waiting. */
function win(over: Partial<AutoSizeSignals> = {}): AutoSizeSignals {
  return {
    durationMs: 2000,
    waiters: 0,
    waitP95Ms: 0,
    holdP50Ms: 20,
    holdSamples: 50,
    timeouts: 0,
    createFailures: 0,
    tooManyConnections: 0,
    inUsePeak: 4,
    arrivals: 200,
    size: 4,
    ...over,
  };
}

describe('AutoSizeController', () => {
  it('grows only after growAfterWindows demand windows in a row, by at most √limit per window', () => {
    // Heavy arrivals so Little's law does not cap: 5000/s × 20 ms = L 100.
    const c = controller({ initialLimit: 9, growAfterWindows: 3 });
    const busy = win({ waiters: 30, inUsePeak: 9, arrivals: 10_000 });
    expect(c.step(busy)).toMatchObject({ limit: 9, reason: 'hysteresis' });
    expect(c.step(busy)).toMatchObject({ limit: 9, reason: 'hysteresis' });
    expect(c.step(busy)).toMatchObject({ from: 9, limit: 12, reason: 'demand' }); // +√9
    expect(c.step(busy)).toMatchObject({ from: 12, limit: 15, reason: 'demand' }); // +⌊√12⌋
    // One window without demand resets the streak.
    c.step(win({ inUsePeak: 15, arrivals: 10_000 }));
    expect(c.step(busy)).toMatchObject({ limit: 15, reason: 'hysteresis' });
    expect(c.adjustments).toBe(2);
  });

  it('never grows on a window where callers wait but no lease completed (a stall looks like this)', () => {
    const c = controller({ initialLimit: 9, growAfterWindows: 1 });
    c.step(win()); // a healthy verdict and a baseline of 20 ms
    const stalled = win({ waiters: 30, inUsePeak: 9, arrivals: 10_000, holdSamples: 0, holdP50Ms: 0 });
    for (let i = 0; i < 5; i++) expect(c.step(stalled)).toMatchObject({ limit: 9, reason: 'hysteresis' });
    // The same demand with completed, healthy leases grows.
    expect(c.step(win({ waiters: 30, inUsePeak: 9, arrivals: 10_000 }))).toMatchObject({
      from: 9,
      limit: 12,
      reason: 'demand',
    });
  });

  it('caps growth at the Little-law size on the baseline hold time (L + k√L)', () => {
    // 400/s × 20 ms = 8 leases needed on average; ceil(8 + 2·√8) = 14.
    const c = controller({ initialLimit: 4, growAfterWindows: 1, littleSafety: 2 });
    const limits: number[] = [];
    for (let i = 0; i < 20; i++)
      limits.push(c.step(win({ waitP95Ms: 500, inUsePeak: 40, arrivals: 800 })).limit);
    expect(Math.max(...limits)).toBe(14);
    expect(c.reason).toBe('little-cap');
    // A backlog raises the cap by what draining it within one window takes: 500 waiters × 20 ms / 2 s = +5.
    expect(c.step(win({ waiters: 500, inUsePeak: 14, arrivals: 800 })).target).toBe(19);
    expect(c.advice()).toMatchObject({
      recommended: 14,
      arrivalRatePerSec: 400,
      baselineHoldMs: 20,
      concurrency: 8,
    });
  });

  it('never grows while the hold time is above its baseline, however long callers wait', () => {
    const c = controller({ initialLimit: 10, growAfterWindows: 1 });
    for (let i = 0; i < 5; i++) c.step(win({ inUsePeak: 10, arrivals: 10_000 }));
    // The database becomes 5× slower: hold time 100 ms, a growing queue, no timeouts yet.
    for (let i = 0; i < 30; i++) {
      const d = c.step(
        win({ holdP50Ms: 100, waiters: 200, waitP95Ms: 5000, inUsePeak: 10, arrivals: 10_000 }),
      );
      expect(d.limit).toBeLessThanOrEqual(10);
      expect(d.reason).toBe('congested');
    }
    // Sparse samples (a slow database completes few leases per window) still count as congestion,
    // and a window with none keeps the verdict: no growth on missing data.
    expect(
      c.step(win({ holdP50Ms: 100, holdSamples: 2, waiters: 200, inUsePeak: 10, arrivals: 10_000 })).reason,
    ).toBe('congested');
    expect(
      c.step(win({ holdSamples: 0, holdP50Ms: 0, waiters: 200, inUsePeak: 10, arrivals: 10_000 })).reason,
    ).toBe('congested');
    // The baseline rose only slowly (0.5 % per window), so the slowdown is still seen as congestion.
    expect(c.advice().baselineHoldMs!).toBeLessThan(20 * 1.2);
  });

  it('backs off multiplicatively on create failures and on 53300 (at most what is held)', () => {
    const c = controller({ initialLimit: 50 });
    expect(c.step(win({ createFailures: 1 }))).toMatchObject({ limit: 40, reason: 'create-failure' });
    expect(c.step(win({ createFailures: 2, tooManyConnections: 2, size: 20 }))).toMatchObject({
      limit: 16,
      reason: 'too-many-connections',
    });
    // Cooldown: demand does not grow the limit for cooldownWindows windows.
    const busy = win({ waiters: 10, inUsePeak: 16, arrivals: 10_000 });
    for (let i = 0; i < 5; i++) expect(c.step(busy)).toMatchObject({ limit: 16, reason: 'cooldown' });
  });

  it('backs off on timeouts once per cooldown, not below L at the baseline hold time', () => {
    const c = controller({ initialLimit: 40, cooldownWindows: 2, baselineDrift: 0 });
    c.step(win({ arrivals: 2000 })); // baseline 20 ms; 1000/s × 20 ms = L 20
    const limits: number[] = [];
    for (let i = 0; i < 12; i++)
      limits.push(c.step(win({ timeouts: 3, holdP50Ms: 60, arrivals: 2000 })).limit);
    // 40 → 32 (cut), two cooldown windows, → 25, cooldown, → 20 = L, then held there.
    expect(limits).toEqual([32, 32, 32, 25, 25, 25, 20, 20, 20, 20, 20, 20]);
    expect(c.reason).toBe('cooldown');
  });

  it('decays toward the peak use of a quiet period, smoothly, then stays put', () => {
    const c = controller({ initialLimit: 40, windowMs: 2000 }); // decay after 30 s = 15 windows of 2 s
    const limits: number[] = [];
    for (let i = 0; i < 40; i++) limits.push(c.step(win({ inUsePeak: i === 3 ? 7 : 5 })).limit);
    expect(limits.slice(0, 14).every((l) => l === 40)).toBe(true);
    expect(limits[14]).toBe(31); // 40 - ceil(33 × 0.25)
    // Monotone, and never below the peak of the period (7 was seen within the last 30 s until window 18).
    for (let i = 1; i < limits.length; i++) expect(limits[i]).toBeLessThanOrEqual(limits[i - 1]);
    expect(limits[limits.length - 1]).toBe(5);
    expect(c.reason).toBe('steady');
  });

  it('holds still under steady load: no demand, no decay below peak use', () => {
    const c = controller({ initialLimit: 8 });
    let changes = 0;
    for (let i = 0; i < 60; i++) {
      const d = c.step(win({ inUsePeak: 8, arrivals: 500, waitP95Ms: 2 }));
      if (d.limit !== d.from) changes++;
    }
    expect(changes).toBe(0);
  });

  it('never leaves [max(min, 1), max]', () => {
    const c = controller({ initialLimit: 3, min: 3, max: 6, growAfterWindows: 1 });
    for (let i = 0; i < 10; i++) expect(c.step(win({ createFailures: 1 })).limit).toBe(3);
    for (let i = 0; i < 20; i++) c.step(win({ waiters: 100, inUsePeak: 6, arrivals: 100_000 }));
    expect(c.limit).toBe(6);
    expect(c.reason).toBe('max');
  });
});
