import { Test } from '@nestjs/testing';
import { SampleWindow, TrendWindow } from './window';
import { backoffDelay } from './backoff';
import { OptionChecker } from './validate';
import { ReservoirError } from './errors';

describe('SampleWindow', () => {
  it('reports nearest-rank percentiles over the most recent samples only', () => {
    const w = new SampleWindow(100);
    for (let i = 1; i <= 300; i++) w.record(i);
    expect(w.count).toBe(100);
    expect(w.percentiles([0.5, 0.99, 1])).toEqual([250, 299, 300]);
    expect(w.last()).toBe(300);
  });
  it('is all zeros when empty', () => {
    expect(new SampleWindow(4).percentiles([0.5, 0.99])).toEqual([0, 0]);
  });
});

describe('TrendWindow', () => {
  it('computes a rising slope in units per second and drops old points', () => {
    const t = new TrendWindow(10_000, 0.001);
    for (let s = 0; s <= 20; s++) t.add(s * 1000, s * 0.05);
    const snap = t.snapshot();
    expect(snap.points).toBe(11);
    expect(snap.slope).toBeCloseTo(0.05, 6);
    expect(snap.direction).toBe('rising');
  });
  it('reads flat series as stable', () => {
    const t = new TrendWindow();
    for (let s = 0; s < 5; s++) t.add(s * 1000, 0.4);
    expect(t.snapshot()).toEqual({ slope: 0, direction: 'stable', points: 5 });
  });
});

describe('backoffDelay', () => {
  const o = { initialDelayMs: 10, maxDelayMs: 5000, factor: 2, jitter: 0 };
  it('grows exponentially and caps', () => {
    expect([1, 2, 3, 4].map((r) => backoffDelay(r, o))).toEqual([10, 20, 40, 80]);
    expect(backoffDelay(30, o)).toBe(5000);
  });
  it('jitter stays within [delay*(1-j), delay]', () => {
    expect(backoffDelay(3, { ...o, jitter: 0.5 }, () => 0)).toBe(20);
    expect(backoffDelay(3, { ...o, jitter: 0.5 }, () => 1)).toBe(40);
  });
});

describe('OptionChecker', () => {
  class CfgError extends ReservoirError {}
  const c = new OptionChecker((opt, given, allowed) => new CfgError(`${opt}=${String(given)}: ${allowed}`));
  it('names the nested option, the value and the rule', () => {
    expect(() => c.nested('retry').integer('attempts', 0, 1)).toThrow('retry.attempts=0: an integer >= 1');
    expect(() => c.knownKeys({ nope: 1 }, ['a', 'b'])).toThrow(
      'nope=1: no such option; known options are a, b',
    );
  });
  it('runs under the hybrid Jest transform with Nest 12 ESM', async () => {
    const mod = await Test.createTestingModule({ providers: [{ provide: 'X', useValue: 1 }] }).compile();
    expect(mod.get('X')).toBe(1);
  });
});
