/**
 * Jest-free fake timers for the auto-size simulator: replaces setTimeout/setInterval/clearX,
 * performance.now, Date.now and Math.random (seeded) on the global object, so the REAL Pool runs
 * on virtual time. Between two timer firings every pending microtask runs (one real setImmediate),
 * so promise chains settle exactly as they would on real time, only without waiting.
 */
type Callback = (...args: unknown[]) => void;

class FakeTimer {
  cancelled = false;
  constructor(
    readonly id: number,
    public at: number,
    readonly cb: Callback,
    readonly args: unknown[],
    readonly every: number | undefined,
  ) {}
  unref(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

/** mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class VirtualClock {
  now = 0;
  private seq = 0;
  private heap: FakeTimer[] = [];
  private readonly saved: Record<string, unknown> = {};
  private readonly realImmediate = setImmediate;

  install(seed: number): void {
    const g = globalThis as unknown as Record<string, unknown>;
    for (const k of ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval']) this.saved[k] = g[k];
    this.saved.perfNow = performance.now;
    this.saved.dateNow = Date.now;
    this.saved.random = Math.random;
    const add = (cb: Callback, ms: number | undefined, args: unknown[], every: boolean): FakeTimer => {
      // Sub-millisecond delays are kept (Node would round them up to 1 ms) so seeded arrivals keep their rate.
      const d = Math.max(0.001, Number(ms) || 0);
      const t = new FakeTimer(++this.seq, this.now + d, cb, args, every ? d : undefined);
      this.push(t);
      return t;
    };
    const clear = (t: unknown): void => {
      if (t instanceof FakeTimer) t.cancelled = true;
    };
    g.setTimeout = (cb: Callback, ms?: number, ...args: unknown[]) => add(cb, ms, args, false);
    g.setInterval = (cb: Callback, ms?: number, ...args: unknown[]) => add(cb, ms, args, true);
    g.clearTimeout = clear;
    g.clearInterval = clear;
    Object.defineProperty(performance, 'now', { value: () => this.now, configurable: true, writable: true });
    Date.now = () => 1_700_000_000_000 + Math.floor(this.now);
    Math.random = seededRandom(seed ^ 0x9e3779b9);
  }

  uninstall(): void {
    const g = globalThis as unknown as Record<string, unknown>;
    for (const k of ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval']) g[k] = this.saved[k];
    Object.defineProperty(performance, 'now', {
      value: this.saved.perfNow,
      configurable: true,
      writable: true,
    });
    Date.now = this.saved.dateNow as () => number;
    Math.random = this.saved.random as () => number;
    this.heap = [];
  }

  /** Lets every queued microtask run (a real macrotask turn). */
  settle(): Promise<void> {
    return new Promise((r) => this.realImmediate(r));
  }

  /** Fires timers in time order until `end`, settling microtasks after each. */
  async runUntil(end: number): Promise<void> {
    for (;;) {
      const t = this.heap[0];
      if (t === undefined || t.at > end) break;
      this.pop();
      if (t.cancelled) continue;
      this.now = t.at;
      if (t.every !== undefined) {
        t.at += t.every;
        this.push(t);
      }
      t.cb(...t.args);
      await this.settle();
    }
    this.now = end;
  }

  private less(a: FakeTimer, b: FakeTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.id < b.id);
  }
  private push(t: FakeTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
