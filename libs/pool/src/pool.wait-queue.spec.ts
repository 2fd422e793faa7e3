import { PREPARING, SETTLED, TenantRecord, WAITING, WaitQueue, type Waiter } from './pool.wait-queue';

type R = { id: number };

function setup(plainLend = false) {
  const expired: Waiter<R>[] = [];
  const fired: boolean[] = [];
  const q = new WaitQueue<R>(
    {
      expire: (w) => {
        q.settle(w);
        expired.push(w);
      },
      timerFired: (_now, e) => fired.push(e),
    },
    plainLend,
  );
  const waiter = (rec: TenantRecord<R>, deadline: number): Waiter<R> => {
    const w = q.take();
    w.rec = rec;
    w.org = rec.id;
    w.enqueuedAt = performance.now();
    w.deadline = deadline;
    return w;
  };
  return { q, expired, fired, waiter };
}

describe('WaitQueue', () => {
  afterEach(() => jest.useRealTimers());

  it('serves one FIFO per tenant, tenants round-robin', () => {
    const { q, waiter } = setup();
    const a = new TenantRecord<R>('A', Infinity);
    const b = new TenantRecord<R>('B', Infinity);
    const far = performance.now() + 60_000;
    const [a1, a2, a3, b1, b2] = [
      waiter(a, far),
      waiter(a, far),
      waiter(a, far),
      waiter(b, far),
      waiter(b, far),
    ];
    for (const w of [a1, a2, a3]) q.enqueue(a, w);
    for (const w of [b1, b2]) q.enqueue(b, w);
    expect(q.pending).toBe(5);
    const order = [q.pickWaiter(), q.pickWaiter(), q.pickWaiter(), q.pickWaiter(), q.pickWaiter()];
    expect(order).toEqual([a1, b1, a2, b2, a3]);
    expect(order.every((w) => w!.state === PREPARING)).toBe(true);
    expect(q.pickWaiter()).toBeNull();
    expect(q.pending).toBe(0);
    for (const w of order) q.settle(w!);
  });

  it('skips a tenant at its cap without losing its place', () => {
    const { q, waiter } = setup();
    const a = new TenantRecord<R>('A', 1);
    const b = new TenantRecord<R>('B', Infinity);
    const far = performance.now() + 60_000;
    const a1 = waiter(a, far);
    const b1 = waiter(b, far);
    q.enqueue(a, a1);
    q.enqueue(b, b1);
    a.held = 1;
    expect(q.pickWaiter()).toBe(b1);
    expect(q.pickWaiter()).toBeNull(); // A still capped
    a.held = 0;
    expect(q.pickWaiter()).toBe(a1);
    q.settle(a1);
    q.settle(b1);
  });

  it('requeueFront puts a waiter back at the head of its tenant', () => {
    const { q, waiter } = setup();
    const a = new TenantRecord<R>('A', Infinity);
    const far = performance.now() + 60_000;
    const a1 = waiter(a, far);
    const a2 = waiter(a, far);
    q.enqueue(a, a1);
    q.enqueue(a, a2);
    expect(q.pickWaiter()).toBe(a1);
    q.requeueFront(a1);
    expect(a1.state).toBe(WAITING);
    expect(q.pickWaiter()).toBe(a1);
    q.settle(a1);
    q.settle(q.pickWaiter()!);
    expect(q.dlHead).toBeNull();
  });

  it('one timer expires waiters in deadline order, including ones enqueued out of order', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick'] });
    const { q, expired, fired, waiter } = setup();
    const a = new TenantRecord<R>('A', Infinity);
    const b = new TenantRecord<R>('B', Infinity);
    const now = performance.now();
    const late = waiter(a, now + 50);
    const early = waiter(b, now + 10);
    q.enqueue(a, late);
    q.enqueue(b, early);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(11);
    expect(expired).toEqual([early]);
    expect(early.state).toBe(SETTLED);
    jest.advanceTimersByTime(40);
    expect(expired).toEqual([early, late]);
    expect(fired).toEqual([true, true]);
    expect(q.pending).toBe(0);
    expect(jest.getTimerCount()).toBe(0); // nobody waits: no timer left
  });

  it('fifo mode: with a single tenant and a plain pool the deadline list is the queue', () => {
    const { q, waiter } = setup(true);
    const a = new TenantRecord<R>('A', Infinity);
    const far = performance.now() + 60_000;
    const ws = [waiter(a, far), waiter(a, far + 1), waiter(a, far + 2)];
    for (const w of ws) q.enqueue(a, w);
    expect(a.inRing).toBe(false); // no ring links in fifo mode
    // Another tenant leaves fifo mode: everyone moves into the tenant queues, order kept.
    const b = new TenantRecord<R>('B', Infinity);
    const b1 = waiter(b, far);
    q.enqueue(b, b1);
    expect(a.inRing).toBe(true);
    const picked = [q.pickWaiter(), q.pickWaiter(), q.pickWaiter(), q.pickWaiter()];
    expect(picked).toEqual([ws[0], b1, ws[1], ws[2]]);
    for (const w of picked) q.settle(w!);
  });

  it('reuses served waiters from a bounded free list, cleared', () => {
    const { q, waiter } = setup();
    const a = new TenantRecord<R>('A', Infinity);
    const w = waiter(a, performance.now() + 1000);
    w.resolve = () => undefined;
    q.recycle(w);
    const again = q.take();
    expect(again).toBe(w);
    expect(again.rec).toBeUndefined();
    expect(again.resolve).toBeUndefined();
  });
});
