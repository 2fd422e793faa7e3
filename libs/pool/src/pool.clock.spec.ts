import { PoolClock } from './pool.clock';
import { CLOCK_REUSE } from './pool.defaults';

describe('PoolClock', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] }));
  afterEach(() => jest.useRealTimers());

  it('precise() reads performance.now and refreshes the coarse reading', () => {
    const clock = new PoolClock(100);
    const start = clock.coarse;
    jest.advanceTimersByTime(250);
    expect(clock.coarse).toBe(start); // coarse does not move on its own
    expect(clock.precise()).toBe(performance.now());
    expect(clock.coarse).toBe(start + 250);
    clock.observe(start + 999);
    expect(clock.coarse).toBe(start + 999);
  });

  it('nearNow() reuses one read within a run of microtasks, at most CLOCK_REUSE times', async () => {
    const clock = new PoolClock(100);
    const first = clock.nearNow();
    jest.advanceTimersByTime(5); // time moves but no microtask has run: the read is reused
    for (let i = 0; i < CLOCK_REUSE; i++) expect(clock.nearNow()).toBe(first);
    expect(clock.nearNow()).toBe(first + 5); // reuse budget spent: a fresh read
    jest.advanceTimersByTime(7);
    await Promise.resolve(); // the queued microtasks ran: the read is stale now
    await Promise.resolve();
    expect(clock.nearNow()).toBe(first + 12);
  });

  it('pastLifetime is never early: near a deadline it reads the precise clock, not the stale coarse one', () => {
    const clock = new PoolClock(2000);
    const t0 = clock.coarse;
    // Coarse lags 1500 ms behind (a late tick); a deadline 1000 ms after t0 has really passed.
    jest.advanceTimersByTime(1500);
    expect(clock.coarse).toBe(t0);
    expect(clock.nearDeadline(t0 + 1000)).toBe(true);
    expect(clock.pastLifetime(t0 + 1000)).toBe(true);
    expect(clock.coarse).toBe(t0 + 1500); // the precise read refreshed it
    // A deadline still ahead on the precise clock is not past, even though it is inside the guard.
    expect(clock.pastLifetime(t0 + 1600)).toBe(false);
  });

  it('far from a deadline pastLifetime decides on the coarse clock without reading the precise one', () => {
    const clock = new PoolClock(100);
    const t0 = clock.coarse;
    const spy = jest.spyOn(performance, 'now');
    expect(clock.nearDeadline(t0 + 10_000)).toBe(false);
    expect(clock.pastLifetime(t0 + 10_000)).toBe(false);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });
});
