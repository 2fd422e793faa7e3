/**
 * A bounded map with O(1) least-frequently-used eviction (Shah, Mitra & Matani's constant-time LFU):
 * a doubly linked list of frequency buckets in ascending order, each holding its keys in insertion
 * order, so the victim is the oldest key of the first bucket. Written here because lru-cache (the
 * well-kept choice for LRU/TTL) has no LFU mode and no maintained LFU package is a dependency.
 */
interface Bucket {
  freq: number;
  keys: Set<string>;
  prev: Bucket | undefined;
  next: Bucket | undefined;
}

interface Item<V> {
  value: V;
  bucket: Bucket;
}

export class LfuMap<V> {
  private readonly items = new Map<string, Item<V>>();
  /** Sentinel before the lowest-frequency bucket. */
  private readonly head: Bucket = { freq: 0, keys: new Set(), prev: undefined, next: undefined };

  constructor(
    readonly max: number,
    private readonly onEvict: (key: string, value: V) => void = () => undefined,
  ) {}

  get size(): number {
    return this.items.size;
  }

  /** Reads and counts one use. */
  get(key: string): V | undefined {
    const item = this.items.get(key);
    if (item === undefined) return undefined;
    this.bump(key, item);
    return item.value;
  }

  peek(key: string): V | undefined {
    return this.items.get(key)?.value;
  }

  /** Frequency of `key` (0 when absent); for tests and stats. */
  frequency(key: string): number {
    return this.items.get(key)?.bucket.freq ?? 0;
  }

  set(key: string, value: V): void {
    const item = this.items.get(key);
    if (item !== undefined) {
      item.value = value;
      this.bump(key, item);
      return;
    }
    if (this.items.size >= this.max) this.evictOne();
    let first = this.head.next;
    if (first === undefined || first.freq !== 1) first = this.insertAfter(this.head, 1);
    first.keys.add(key);
    this.items.set(key, { value, bucket: first });
  }

  delete(key: string): boolean {
    const item = this.items.get(key);
    if (item === undefined) return false;
    this.items.delete(key);
    this.removeFrom(item.bucket, key);
    return true;
  }

  keys(): IterableIterator<string> {
    return this.items.keys();
  }

  clear(): void {
    this.items.clear();
    this.head.next = undefined;
  }

  private evictOne(): void {
    const bucket = this.head.next;
    if (bucket === undefined) return;
    const key = bucket.keys.values().next().value as string;
    const item = this.items.get(key) as Item<V>;
    this.items.delete(key);
    this.removeFrom(bucket, key);
    this.onEvict(key, item.value);
  }

  private bump(key: string, item: Item<V>): void {
    const cur = item.bucket;
    let next = cur.next;
    if (next === undefined || next.freq !== cur.freq + 1) next = this.insertAfter(cur, cur.freq + 1);
    next.keys.add(key);
    item.bucket = next;
    this.removeFrom(cur, key);
  }

  private insertAfter(at: Bucket, freq: number): Bucket {
    const b: Bucket = { freq, keys: new Set(), prev: at, next: at.next };
    if (at.next) at.next.prev = b;
    at.next = b;
    return b;
  }

  private removeFrom(bucket: Bucket, key: string): void {
    bucket.keys.delete(key);
    if (bucket.keys.size === 0 && bucket !== this.head) {
      (bucket.prev as Bucket).next = bucket.next;
      if (bucket.next) bucket.next.prev = bucket.prev;
    }
  }
}
