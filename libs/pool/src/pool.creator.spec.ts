import { ResourceCreator, type CreatorHost } from './pool.creator';
import { PoolTimeoutError } from './pool.errors';
import { FakeFactory, captureLogger, type FakeResource } from './fake-factory.helper-spec';

const RETRY = { initialDelayMs: 100, maxDelayMs: 400, factor: 2, jitter: 0 };

function setup(timeoutMs = 1000) {
  const factory = new FakeFactory();
  const logger = captureLogger();
  const seen = {
    created: [] as FakeResource[],
    failed: [] as [unknown, number][],
    discarded: [] as FakeResource[],
    resumed: 0,
  };
  const host: CreatorHost<FakeResource> = {
    created: (r) => seen.created.push(r),
    failed: (err, n) => seen.failed.push([err, n]),
    discard: (r) => seen.discarded.push(r),
    resume: () => seen.resumed++,
  };
  const creator = new ResourceCreator<FakeResource>('p', factory, timeoutMs, RETRY, logger, host);
  return { factory, logger, seen, creator };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('ResourceCreator', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] }));
  afterEach(() => jest.useRealTimers());

  it('counts a running create and hands the resource to the host', async () => {
    const { creator, seen, factory } = setup();
    creator.start();
    expect(creator.creating).toBe(1);
    await flush();
    expect(creator.creating).toBe(0);
    expect(seen.created).toHaveLength(1);
    expect(factory.live.has(seen.created[0])).toBe(true);
    expect(jest.getTimerCount()).toBe(0); // the create timeout was cleared
  });

  it('bounds a hung create by the timeout, aborts it, backs off, and discards a late result', async () => {
    const { creator, seen, factory, logger } = setup(500);
    factory.createDelayMs = 600; // longer than the bound
    factory.ignoreAbort = true; // a driver that keeps going after the abort
    let signal: AbortSignal | undefined;
    const create = factory.create.bind(factory);
    factory.create = (ctx) => {
      signal = ctx.signal;
      return create(ctx);
    };
    creator.start();
    jest.advanceTimersByTime(499);
    expect(seen.failed).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(seen.failed).toHaveLength(1);
    expect(seen.failed[0][0]).toBeInstanceOf(PoolTimeoutError);
    expect(seen.failed[0][1]).toBe(1);
    expect(signal!.aborted).toBe(true);
    expect(creator.creating).toBe(0);
    expect(creator.failures).toBe(1);
    expect(creator.failingCause).toBe(seen.failed[0][0]);
    expect(creator.paused).toBe(true);
    expect(logger.lines.some((l) => l.startsWith('warn'))).toBe(true);
    jest.advanceTimersByTime(100); // initialDelayMs, jitter 0
    expect(seen.resumed).toBe(1);
    expect(creator.paused).toBe(false);
    jest.advanceTimersByTime(500); // the create lands after its timeout
    await flush();
    expect(seen.created).toHaveLength(0);
    expect(seen.discarded).toHaveLength(1);
  });

  it('backs off exponentially while creates fail, and a success resets the failure run', async () => {
    const { creator, seen, factory, logger } = setup();
    factory.failing = true;
    const pauses: number[] = [];
    for (let i = 0; i < 4; i++) {
      creator.start();
      await flush();
      let waited = 0;
      while (creator.paused) {
        jest.advanceTimersByTime(10);
        waited += 10;
      }
      pauses.push(waited);
    }
    expect(pauses).toEqual([100, 200, 400, 400]); // capped at maxDelayMs
    expect(seen.failed.map(([, n]) => n)).toEqual([1, 2, 3, 4]);
    expect(creator.consecutiveFailures).toBe(4);
    factory.failing = false;
    creator.start();
    await flush();
    expect(seen.created).toHaveLength(1);
    expect(creator.consecutiveFailures).toBe(0);
    expect(creator.failingCause).toBeUndefined();
    expect(creator.failures).toBe(4);
    expect(logger.lines.filter((l) => l.startsWith('log'))).toHaveLength(1); // recovered
  });

  it('turns a factory that throws synchronously into a failed create', async () => {
    const { creator, seen, factory } = setup();
    factory.create = () => {
      throw new Error('sync boom');
    };
    creator.start();
    await flush();
    expect(seen.failed).toHaveLength(1);
    expect((seen.failed[0][0] as Error).message).toBe('sync boom');
    expect(creator.creating).toBe(0);
  });

  it('close() aborts running creates, stops backoff, and settles once every create has', async () => {
    const { creator, seen, factory } = setup();
    factory.hang = true;
    creator.start();
    creator.start();
    creator.backOff(1);
    let settled = false;
    const reason = new Error('closed');
    creator.close(reason);
    void creator.settled().then(() => (settled = true));
    expect(creator.paused).toBe(true);
    await flush();
    expect(settled).toBe(true);
    expect(jest.getTimerCount()).toBe(0); // both create timeouts and the backoff were cleared
    expect(seen.failed.map(([e]) => e)).toEqual([reason, reason]);
    expect(seen.resumed).toBe(0);
  });

  it('discards a resource whose create succeeds after close()', async () => {
    const { creator, seen, factory } = setup();
    factory.ignoreAbort = true;
    factory.createDelayMs = 50;
    creator.start();
    creator.close(new Error('closed'));
    jest.advanceTimersByTime(50);
    await flush();
    expect(seen.created).toHaveLength(0);
    expect(seen.discarded).toHaveLength(1);
    await expect(creator.settled()).resolves.toBeUndefined();
  });
});
