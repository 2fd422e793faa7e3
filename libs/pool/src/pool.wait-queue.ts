/**
 * The wait queue: one FIFO of waiters per tenant, tenants served round-robin (a ring of records
 * with waiters), and one list of every waiter (waiting or preparing) ordered by deadline, which
 * drives a single timer. While one tenant waits and the pool lends as is, the deadline list alone is
 * the queue (`fifo` mode). Served waiters are kept on a free list for reuse. Framework-free, no
 * clock of its own: deadlines are computed by the pool, the timer reads `performance.now()` when it fires.
 */
import type { SampleWindow } from '@reservoir/core';

// Waiter states.
export const WAITING = 0;
/** Out of its queue: a resource is being validated/bound for it (or it is about to settle). */
export const PREPARING = 1;
export const SETTLED = 2;

/** Per tenant (and one anonymous record): its FIFO of waiters, its cap, its counters. */
export class TenantRecord<T> {
  head: Waiter<T> | null = null;
  tail: Waiter<T> | null = null;
  size = 0;
  held = 0;
  rrNext: TenantRecord<T> | null = null;
  rrPrev: TenantRecord<T> | null = null;
  inRing = false;
  acquired = 0;
  timeouts = 0;
  waits: SampleWindow | undefined;
  lastSeen = 0;

  constructor(
    readonly id: string | undefined,
    readonly cap: number,
  ) {}
}

/**
 * A caller waiting for a resource. Reused: a waiter served straight from a release goes back to the
 * pool's free list (nothing refers to it any more), so a saturated pool allocates only the promise.
 */
export class Waiter<T> {
  state = WAITING;
  prev: Waiter<T> | null = null;
  next: Waiter<T> | null = null;
  tPrev: Waiter<T> | null = null;
  tNext: Waiter<T> | null = null;
  /** Whether the waiter is in the deadline list. */
  timed = false;
  onAbort: (() => void) | undefined = undefined;
  deadline = 0;
  rec: TenantRecord<T> = undefined!;
  org: string | undefined = undefined;
  /** Precise to the microtask run (see `Pool.nearNow`). */
  enqueuedAt = 0;
  timeoutMs = 0;
  signal: AbortSignal | undefined = undefined;
  stack: Error | undefined = undefined;
  resolve: (resource: T) => void = undefined!;
  reject: (err: unknown) => void = undefined!;
}

/** Served waiters kept for reuse. */
export const FREE_WAITERS = 64;

/** What the queue calls back into: the pool. */
export interface WaitQueueHost<T> {
  /** `w` is past its deadline: settle it (`settle`) and reject it. */
  expire(w: Waiter<T>, now: number): void;
  /** After a timer run; `expired` when at least one waiter timed out. */
  timerFired(now: number, expired: boolean): void;
}

export class WaitQueue<T> {
  /** Waiters still in a tenant queue (not preparing). */
  pending = 0;
  /** Set while the deadline list doubles as the only queue (see `enqueue`): the one waiting tenant. */
  private fifo: TenantRecord<T> | null = null;
  /** Round-robin cursor into the ring of tenant records that have waiters. */
  private rr: TenantRecord<T> | null = null;
  /** All waiters (waiting or preparing) ordered by deadline; one timer serves the head. */
  dlHead: Waiter<T> | null = null;
  private dlTail: Waiter<T> | null = null;
  /** Served waiters ready for reuse (see `Waiter`); at most FREE_WAITERS. */
  private readonly freeWaiters: Waiter<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly host: WaitQueueHost<T>,
    /** The pool lends resources as is (no binding, no validate): `fifo` mode is allowed. */
    private readonly plainLend: boolean,
  ) {}

  /** A reused waiter, or a new one. */
  take(): Waiter<T> {
    return this.freeWaiters.pop() ?? new Waiter<T>();
  }

  /** Back to the free list: a served waiter nothing refers to any more. */
  recycle(w: Waiter<T>): void {
    if (this.freeWaiters.length < FREE_WAITERS) {
      w.rec = undefined!;
      w.org = undefined;
      w.stack = undefined;
      w.resolve = w.reject = undefined!;
      this.freeWaiters.push(w);
    }
  }

  /** Out of its queue (if still in it) and out of the deadline list, abort listener removed. */
  settle(w: Waiter<T>): void {
    if (w.state === WAITING) this.dequeue(w);
    w.state = SETTLED;
    this.unlinkDeadline(w);
    if (w.onAbort !== undefined) {
      w.signal!.removeEventListener('abort', w.onAbort);
      w.onAbort = undefined;
    }
  }

  /** Stops the timer (close). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /**
   * Queues a new waiter and links it into the deadline list. While a single tenant (or only
   * untenanted callers) waits, the pool lends as is (`plainLend`) and every wait arrives in deadline
   * order, the deadline list *is* that tenant's FIFO and the queue/ring links are skipped (`fifo` mode). The first waiter that
   * breaks this (another tenant, or an earlier deadline) moves everyone into the tenant queues, once;
   * the pool returns to `fifo` mode only after the queue has emptied.
   */
  enqueue(rec: TenantRecord<T>, w: Waiter<T>): void {
    w.state = WAITING;
    rec.size++;
    if (this.pending++ === 0 && this.plainLend) this.fifo = rec;
    const fifo = this.fifo;
    if (fifo !== null) {
      const tail = this.dlTail;
      if (fifo === rec && (tail === null || w.deadline >= tail.deadline)) {
        // linkDeadline at the tail, which here is also the end of the queue.
        w.tPrev = tail;
        w.tNext = null;
        if (tail === null) this.dlHead = w;
        else tail.tNext = w;
        this.dlTail = w;
        w.timed = true;
        if (this.timer === undefined || w.deadline < this.timerAt) this.armTimer(w.deadline, w.enqueuedAt);
        return;
      }
      this.leaveFifo();
    }
    w.next = null;
    w.prev = rec.tail;
    if (rec.tail === null) rec.head = w;
    else rec.tail.next = w;
    rec.tail = w;
    if (!rec.inRing) this.ringInsert(rec);
    this.linkDeadline(w);
  }

  /** Leaves `fifo` mode: the deadline list (all waiters of the `fifo` tenant, in order) becomes its queue. */
  private leaveFifo(): void {
    const rec = this.fifo!;
    this.fifo = null;
    for (let w = this.dlHead; w !== null; w = w.tNext) {
      if (w.state !== WAITING || w.rec !== rec) continue;
      w.next = null;
      w.prev = rec.tail;
      if (rec.tail === null) rec.head = w;
      else rec.tail.next = w;
      rec.tail = w;
    }
    if (rec.head !== null && !rec.inRing) this.ringInsert(rec);
  }

  /** Back to the front of its tenant's queue: a waiter whose resource failed validation/bind. */
  requeueFront(w: Waiter<T>): void {
    if (this.fifo !== null) this.leaveFifo(); // not reached (fifo mode needs plainLend), but safe
    const rec = w.rec;
    w.state = WAITING;
    w.prev = null;
    w.next = rec.head;
    if (rec.head === null) rec.tail = w;
    else rec.head.prev = w;
    rec.head = w;
    rec.size++;
    this.pending++;
    if (!rec.inRing) {
      this.ringInsert(rec);
      this.rr = rec;
    }
  }

  /** Takes a waiting `w` out of its queue (it stays in the deadline list until settled). */
  dequeue(w: Waiter<T>): void {
    const rec = w.rec;
    // Out of the queue: being handed a resource, or about to be settled.
    w.state = PREPARING;
    rec.size--;
    this.pending--;
    if (this.fifo !== null) return;
    if (w.prev === null) rec.head = w.next;
    else w.prev.next = w.next;
    if (w.next === null) rec.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = null;
    if (rec.size === 0) this.ringRemove(rec);
  }

  /** New tenants join at the end of the current round, i.e. just before the cursor. */
  private ringInsert(rec: TenantRecord<T>): void {
    rec.inRing = true;
    const cur = this.rr;
    if (cur === null) {
      rec.rrNext = rec.rrPrev = rec;
      this.rr = rec;
      return;
    }
    const last = cur.rrPrev!;
    rec.rrPrev = last;
    rec.rrNext = cur;
    last.rrNext = rec;
    cur.rrPrev = rec;
  }

  private ringRemove(rec: TenantRecord<T>): void {
    rec.inRing = false;
    if (rec.rrNext === rec) {
      this.rr = null;
    } else {
      rec.rrPrev!.rrNext = rec.rrNext;
      rec.rrNext!.rrPrev = rec.rrPrev;
      if (this.rr === rec) this.rr = rec.rrNext;
    }
    rec.rrNext = rec.rrPrev = null;
  }

  /** Next waiter by round-robin over tenants, skipping tenants at `maxPerTenant`; dequeued. */
  pickWaiter(): Waiter<T> | null {
    const fifo = this.fifo;
    if (fifo !== null) {
      const w = this.dlHead;
      if (w === null || fifo.held >= fifo.cap) return null;
      this.dequeue(w);
      return w;
    }
    const start = this.rr;
    if (start === null) return null;
    let rec = start;
    do {
      if (rec.held < rec.cap) {
        const next = rec.rrNext!;
        const w = rec.head!;
        this.dequeue(w);
        if (this.rr !== null) this.rr = rec.inRing ? rec.rrNext : next;
        return w;
      }
      rec = rec.rrNext!;
    } while (rec !== start);
    return null;
  }

  linkDeadline(w: Waiter<T>): void {
    const d = w.deadline;
    let after = this.dlTail;
    while (after !== null && after.deadline > d) after = after.tPrev;
    w.tPrev = after;
    if (after === null) {
      w.tNext = this.dlHead;
      this.dlHead = w;
    } else {
      w.tNext = after.tNext;
      after.tNext = w;
    }
    if (w.tNext === null) this.dlTail = w;
    else w.tNext.tPrev = w;
    w.timed = true;
    if (this.timer === undefined || d < this.timerAt) this.armTimer(d, w.enqueuedAt);
  }

  unlinkDeadline(w: Waiter<T>): void {
    if (!w.timed) return;
    w.timed = false;
    if (w.tPrev === null) this.dlHead = w.tNext;
    else w.tPrev.tNext = w.tNext;
    if (w.tNext === null) this.dlTail = w.tPrev;
    else w.tNext.tPrev = w.tPrev;
    w.tPrev = w.tNext = null;
    // The timer is left armed for a served head (it re-arms when it fires) unless nobody waits at all,
    // so a busy pool re-arms about once per timeout rather than once per hand-off.
    if (this.dlHead === null && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
    }
  }

  private armTimer(deadline: number, now: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(deadline - now)));
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    let expired = false;
    // setTimeout may fire up to ~1 ms early relative to performance.now(); treat that as due.
    while (this.dlHead !== null && this.dlHead.deadline <= now + 1) {
      this.host.expire(this.dlHead, now);
      expired = true;
    }
    if (this.dlHead !== null) this.armTimer(this.dlHead.deadline, now);
    this.host.timerFired(now, expired);
  };
}
