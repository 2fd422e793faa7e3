import { TimedSampleWindow } from './pool.samples';

describe('TimedSampleWindow', () => {
  it('computes percentiles only over samples inside the window', () => {
    const w = new TimedSampleWindow(8);
    w.record(3000, 0); // an old burst
    w.record(10, 100);
    w.record(20, 110);
    expect(w.percentiles([0.99], 0)).toEqual([3000]);
    expect(w.percentiles([0.5, 0.99], 50)).toEqual([10, 20]);
    expect(w.percentiles([0.99], 200)).toEqual([0]);
    expect(w.countSince(100)).toBe(2);
  });

  it('is bounded: the oldest sample is overwritten', () => {
    const w = new TimedSampleWindow(2);
    w.record(1, 1);
    w.record(2, 2);
    w.record(3, 3);
    expect(w.count).toBe(2);
    expect(w.percentiles([0, 1], 0)).toEqual([2, 3]);
    w.clear();
    expect(w.percentiles([0.5], 0)).toEqual([0]);
  });
});
