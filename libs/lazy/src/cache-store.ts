import { LRUCache } from 'lru-cache';
import { LfuMap } from './lfu-map';
import type { LazyEvictionPolicy } from './lazy.options';

/**
 * One cached value with its bookkeeping. Plain data (no functions, no references to loader state), so
 * a shared tier can serialize it. Deliberately small (four fields, integer times): the entry is most
 * of the per-entry memory. What can be derived is not stored: the resource, organisation and entry key
 * come from the store key, and the stale/expiry deadlines from `loadedAt` plus the resource's
 * `staleAfterMs` / `ttlMs`.
 *
 * @publicApi
 */
export interface LazyEntry<T = unknown> {
  value: T;
  /** Handed out by the loader's `VersionSource`: greater than every earlier version of the resource. */
  version: number;
  /** Clock time of the load, in whole ms (rounded down). */
  loadedAt: number;
  /** `versionOf(value)` when the resource has one, else undefined. */
  sourceVersion: unknown;
}

/**
 * The storage seam under `LazyLoader`. The loader reads synchronously (`get`) so a hit needs no
 * promise; a shared tier (Redis, ...) goes behind the optional async hooks, without touching the
 * loader or `@LazyResource()`.
 *
 * @publicApi
 */
export interface CacheStore<V = LazyEntry> {
  readonly size: number;
  /** Reads an entry and records the access for the eviction policy. */
  get(key: string): V | undefined;
  /** Reads an entry without recording an access. */
  peek(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): boolean;
  keys(): Iterable<string>;
  clear(): void;
  /** The loader subscribes once, to count and report entries the store evicts on its own. */
  onEvict?(listener: (key: string, value: V) => void): void;
  /** Shared tier: consulted on a local miss, before the loader function runs. */
  fetchRemote?(key: string, reload?: boolean): Promise<V | undefined>;
  /** Shared tier: invalidations published by other instances; the loader drops its in-flight state. */
  onRemoteInvalidate?(listener: (key: string) => void): void;
}

/**
 * The built-in memory store, bounded by `maxEntries`:
 * - `'lru'`: lru-cache, least recently used leaves first;
 * - `'ttl'`: lru-cache read with `peek`, so the order stays write order and the oldest write (the
 *   entry nearest to its expiry) leaves first;
 * - `'lfu'`: `LfuMap`, least frequently used leaves first (lru-cache has no LFU).
 *
 * @publicApi
 */
export class MemoryCacheStore<V extends object = LazyEntry> implements CacheStore<V> {
  private listener: ((key: string, value: V) => void) | undefined;
  private readonly lru: LRUCache<string, V> | undefined;
  private readonly lfu: LfuMap<V> | undefined;
  private readonly readsRecordAccess: boolean;

  constructor(
    readonly maxEntries: number,
    readonly policy: LazyEvictionPolicy = 'lru',
  ) {
    this.readsRecordAccess = policy !== 'ttl';
    if (policy === 'lfu') {
      this.lfu = new LfuMap<V>(maxEntries, (k, v) => this.listener?.(k, v));
    } else {
      this.lru = new LRUCache<string, V>({
        max: maxEntries,
        dispose: (v, k, reason) => {
          if (reason === 'evict') this.listener?.(k, v);
        },
      });
    }
  }

  get size(): number {
    return this.lru ? this.lru.size : (this.lfu as LfuMap<V>).size;
  }

  get(key: string): V | undefined {
    if (this.lru) return this.readsRecordAccess ? this.lru.get(key) : this.lru.peek(key);
    return (this.lfu as LfuMap<V>).get(key);
  }

  peek(key: string): V | undefined {
    return this.lru ? this.lru.peek(key) : (this.lfu as LfuMap<V>).peek(key);
  }

  set(key: string, value: V): void {
    if (this.lru) {
      // 'ttl' keeps write order: a rewrite moves the entry to the young end, as a new write should.
      this.lru.set(key, value);
    } else (this.lfu as LfuMap<V>).set(key, value);
  }

  delete(key: string): boolean {
    return this.lru ? this.lru.delete(key) : (this.lfu as LfuMap<V>).delete(key);
  }

  keys(): Iterable<string> {
    return this.lru ? [...this.lru.keys()] : [...(this.lfu as LfuMap<V>).keys()];
  }

  clear(): void {
    if (this.lru) this.lru.clear();
    else (this.lfu as LfuMap<V>).clear();
  }

  onEvict(listener: (key: string, value: V) => void): void {
    this.listener = listener;
  }
}
