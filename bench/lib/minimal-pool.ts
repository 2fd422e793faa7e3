/**
 * "The practical limit" (docs/design.md "Facts we rely on"): an array stack of idle resources and a ring buffer of
 * waiting resolvers. No timeouts, no stats, no validation: only the cost of handing resources out.
 */
export class MinimalPool<T> {
  private readonly idle: T[] = [];
  private ring: ((r: T) => void)[] = new Array(16);
  private head = 0;
  private count = 0;
  private size = 0;

  constructor(
    private readonly create: () => T,
    private readonly max: number,
  ) {}

  acquire(): Promise<T> {
    if (this.idle.length > 0) return Promise.resolve(this.idle.pop()!);
    if (this.size < this.max) {
      this.size++;
      return Promise.resolve(this.create());
    }
    return new Promise<T>((resolve) => {
      if (this.count === this.ring.length) this.grow();
      this.ring[(this.head + this.count++) & (this.ring.length - 1)] = resolve;
    });
  }

  release(r: T): void {
    if (this.count > 0) {
      const next = this.ring[this.head];
      this.head = (this.head + 1) & (this.ring.length - 1);
      this.count--;
      next(r);
    } else this.idle.push(r);
  }

  private grow(): void {
    const bigger: ((r: T) => void)[] = new Array(this.ring.length * 2);
    for (let i = 0; i < this.count; i++) bigger[i] = this.ring[(this.head + i) & (this.ring.length - 1)];
    this.ring = bigger;
    this.head = 0;
  }
}
