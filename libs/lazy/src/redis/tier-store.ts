import { MemoryCacheStore, type LazyEntry } from '../cache-store';
import { TENANT_SEPARATOR } from '../lazy.constants';
import type { LazySharedStore, LazySharedStoreOptions } from '../lazy-shared';
import type { RedisTier, SharedTierStats, TierClaim, TierEvent, TierRef } from './redis-tier';

/** The organisation (undefined = global) and entry key of a loader store key. */
function split(sk: string): { tenant: string | undefined; key: string } {
  const i = sk.indexOf(TENANT_SEPARATOR);
  return i < 0 ? { tenant: undefined, key: sk } : { tenant: sk.slice(0, i), key: sk.slice(i + 1) };
}

/** A decorated method's entry key is `Class.method(args)`; its resource is `Class.method`. */
function resourceOf(key: string): string {
  const paren = key.indexOf('(');
  return paren > 0 ? key.slice(0, paren) : key;
}

type Lead = Extract<TierClaim, { kind: 'lead' }>;

/**
 * The loader's store and version source when a `RedisTier` is attached: L1 is the memory store, L2
 * and the versions come from the tier. The loader keeps its own single-flight, tenant scoping and
 * hit path (a hit never touches Redis); this class turns its miss path into the fleet protocol:
 * - `fetchRemote` (a local miss): an L2 hit or another instance's finished load is returned as the
 *   entry; otherwise this instance either holds the lease and a reserved version (which `next()` then
 *   hands to the load), or loads locally (tier unreachable, or the wait budget ran out);
 * - `set` of a load that holds a claim writes it to L2 by compare-and-set;
 * - messages from other instances drop L1 entries older than what they announce (apply only if newer).
 * Versions of local loads (tier unreachable, or `shared: false`) come from a local counter above
 * every version seen for the resource, so a key's versions never go backward in this instance.
 */
export class TierCacheStore implements LazySharedStore {
  private readonly l1: MemoryCacheStore<LazyEntry>;
  private readonly claims = new Map<string, Lead>();
  /**
   * Shared keys whose load is running (from `fetchRemote` to `set` or `loadFailed`), so a namespace
   * invalidation or stale-all reaches loads that have nothing in L1 yet.
   */
  private readonly loading = new Map<string, object>();
  /** Per store key: versions at or below this are known stale (from messages). Bounded. */
  private readonly floors = new Map<string, number>();
  private readonly latestByResource = new Map<string, number>();
  private remoteListeners: ((key: string) => void)[] = [];
  private readonly unsubscribe: () => void;
  /** Loader-clock time the tier stopped being connected; undefined while connected. */
  private degradedSince: number | undefined;

  constructor(
    readonly tier: RedisTier,
    private readonly o: LazySharedStoreOptions,
  ) {
    this.l1 = new MemoryCacheStore<LazyEntry>(o.maxEntries, o.policy);
    this.unsubscribe = tier.onEvent((e) => this.onTierEvent(e));
    if (tier.state !== 'connected') this.degradedSince = o.now();
  }

  // ---------------------------------------------------------------- CacheStore (L1)

  get size(): number {
    return this.l1.size;
  }

  get(key: string): LazyEntry | undefined {
    const e = this.l1.get(key);
    // The hit path pays one field check; the staleness bound only runs while the tier is away.
    if (this.degradedSince === undefined || e === undefined) return e;
    const since = Math.max(this.degradedSince, e.loadedAt);
    if (this.o.now() - since > this.tier.options.maxLocalStalenessMs && this.o.isShared(split(key).key))
      return undefined;
    return e;
  }

  peek(key: string): LazyEntry | undefined {
    return this.l1.peek(key);
  }

  /**
   * Stores in L1; for a shared resource the value must be encodable (else `LazyCodecError`, at the
   * first load), and a load that holds a claim is written to L2.
   */
  set(key: string, entry: LazyEntry): void {
    const { key: entryKey } = split(key);
    let encoded: string | undefined;
    if (this.o.isShared(entryKey)) {
      try {
        encoded = this.tier.options.codec.encode(entry.value);
      } catch (err) {
        // Not shareable (LazyCodecError): nothing is stored, so the load gives up its claim here.
        this.loadFailed(key);
        throw err;
      }
    }
    this.l1.set(key, entry);
    this.seen(resourceOf(entryKey), entry.version);
    this.loading.delete(key);
    const claim = this.claims.get(key);
    if (claim !== undefined && claim.version === entry.version) {
      this.claims.delete(key);
      claim.complete(entry.value, encoded).catch(() => undefined);
    }
    // Superseded while it loaded: another instance announced a newer version after this load (or
    // L2 read) began, and that message found nothing in L1 to drop. Kept, the old value would be
    // served until it went stale; dropped, the caller still gets it and the next read misses.
    if (encoded !== undefined && entry.version <= (this.floors.get(key) ?? 0)) this.dropRemote(key);
  }

  delete(key: string): boolean {
    return this.l1.delete(key);
  }

  keys(): Iterable<string> {
    return this.l1.keys();
  }

  clear(): void {
    this.l1.clear();
  }

  onEvict(listener: (key: string, value: LazyEntry) => void): void {
    this.l1.onEvict(listener);
  }

  onRemoteInvalidate(listener: (key: string) => void): void {
    this.remoteListeners.push(listener);
  }

  // ---------------------------------------------------------------- the miss path

  /** See the class comment. `reload` skips L2 and the lease: a reload always loads. */
  async fetchRemote(key: string, reload = false): Promise<LazyEntry | undefined> {
    const { tenant, key: entryKey } = split(key);
    if (!this.o.isShared(entryKey)) return undefined;
    const ref: TierRef = { resource: resourceOf(entryKey), key: entryKey, tenant };
    // This is the key's one live load (the loader detaches any other): a claim still here belongs
    // to a load that ended without storing, and must neither hold the lease nor lend its version.
    this.loadFailed(key);
    const live = {};
    this.loading.set(key, live);
    const floor = Math.max(this.floors.get(key) ?? 0, this.l1.peek(key)?.version ?? 0);
    let c: TierClaim;
    try {
      c = await this.tier.claim(ref, floor, reload);
    } catch (err) {
      // Not Redis being unreachable (claim answers 'local' for that) but a bug or a codec error:
      // the load goes no further, so it must not stay listed as running.
      if (this.loading.get(key) === live) this.loading.delete(key);
      throw err;
    }
    if (c.kind === 'hit') {
      return {
        value: c.entry.value,
        version: c.entry.version,
        loadedAt: Math.floor(this.o.now()),
        sourceVersion: undefined,
      };
    }
    if (c.kind === 'lead') {
      // Dropped while it claimed (an invalidation, or the loader moved on to a newer load): the
      // claim came too late to be released with it, so it is released here instead of kept.
      if (this.loading.get(key) === live) this.claims.set(key, c);
      else c.abandon();
    }
    return undefined;
  }

  /** The load of `key` failed: release its claim so another instance may load at once. */
  loadFailed(key: string): void {
    this.loading.delete(key);
    const c = this.claims.get(key);
    if (c !== undefined) {
      this.claims.delete(key);
      c.abandon();
    }
  }

  /** Publishes an invalidation of one entry to the fleet (queued while Redis is unreachable). */
  invalidateShared(key: string): void {
    const { tenant, key: entryKey } = split(key);
    if (!this.o.isShared(entryKey)) return;
    this.loadFailed(key);
    const floor = Math.max(this.floors.get(key) ?? 0, this.l1.peek(key)?.version ?? 0);
    this.tier
      .invalidate({ resource: resourceOf(entryKey), key: entryKey, tenant }, floor)
      .catch(() => undefined);
  }

  /** Publishes an invalidation of every shared entry of `organisationId` (O(1) in Redis). */
  invalidateTenantShared(organisationId: string | undefined): void {
    this.tier.invalidateTenant(organisationId).catch(() => undefined);
  }

  // ---------------------------------------------------------------- VersionSource

  next(resource: string, storeKey: string): number {
    const claim = this.claims.get(storeKey);
    if (claim !== undefined) return claim.version;
    // A local load: above everything seen for the resource, so this key never goes backward here.
    const v = Math.max(this.latest(resource), this.floors.get(storeKey) ?? 0) + 1;
    this.seen(resource, v);
    return v;
  }

  latest(resource: string): number {
    return this.latestByResource.get(resource) ?? 0;
  }

  seen(resource: string, version: number): void {
    if (version > (this.latestByResource.get(resource) ?? 0)) this.latestByResource.set(resource, version);
  }

  // ---------------------------------------------------------------- the bus

  stats(): SharedTierStats {
    return this.tier.stats();
  }

  /** Detaches from the tier (the tier itself belongs to the application, which closes it). */
  detach(): void {
    this.unsubscribe();
    for (const c of this.claims.values()) c.abandon();
    this.claims.clear();
    this.loading.clear();
  }

  private onTierEvent(e: TierEvent): void {
    switch (e.type) {
      case 'set':
      case 'invalidate': {
        const sk = e.tenant === undefined ? e.key : e.tenant + TENANT_SEPARATOR + e.key;
        // Apply only if newer: an announced `set` of v makes every version below v stale; an
        // invalidation to v makes v itself (and below) stale.
        const staleUpTo = e.type === 'set' ? e.version - 1 : e.version;
        if (staleUpTo > (this.floors.get(sk) ?? 0)) this.setFloor(sk, staleUpTo);
        this.seen(e.resource, e.version);
        const cur = this.l1.peek(sk);
        if (cur !== undefined && cur.version <= staleUpTo) this.dropRemote(sk);
        else if (cur === undefined && e.type === 'invalidate') this.dropRemote(sk); // in-flight loads
        return;
      }
      // Loads still running are dropped too, like the in-flight branch above: they read L2 or
      // reserved their version under the old namespace, and no later message would correct them.
      case 'tenant':
        for (const sk of [...this.l1.keys(), ...this.loading.keys()])
          if (split(sk).tenant === e.tenant) this.dropRemote(sk);
        return;
      case 'stale-all':
        for (const sk of [...this.l1.keys(), ...this.loading.keys()])
          if (this.o.isShared(split(sk).key)) this.dropRemote(sk);
        return;
      case 'state':
        if (e.state === 'connected') this.degradedSince = undefined;
        else if (this.degradedSince === undefined) this.degradedSince = this.o.now();
        return;
      default:
        return;
    }
  }

  /** The loader removes the entry (keeping its counts right) and drops its in-flight load. */
  private dropRemote(sk: string): void {
    for (const l of this.remoteListeners) l(sk);
    this.l1.delete(sk);
    // The loader discarded the load in flight, so it never stores it and its claim would never be
    // completed: release the lease now, or it stays renewed (up to maxLeaseHoldMs) and every
    // instance, this one included, waits fleetWaitMs on each miss of the key.
    this.loadFailed(sk);
  }

  private setFloor(sk: string, v: number): void {
    this.floors.delete(sk);
    this.floors.set(sk, v);
    // Bounded like L1: the oldest floors go first (a forgotten floor only costs an L2 read).
    if (this.floors.size > this.o.maxEntries * 2) {
      const oldest = this.floors.keys().next().value;
      if (oldest !== undefined) this.floors.delete(oldest);
    }
  }
}
