/**
 * The one owner of lazy versions. Every successful load asks the source for the entry's version, and
 * `stats().resources[r].latestVersion`, `load`/`hit` events, the health indicator, `/metrics` and the
 * demo dashboard all read what this source handed out; nothing else counts versions.
 *
 * A version is a per-resource sequence number, not a per-key one: each load of any key of a resource
 * takes the next number. So a key's next version is greater than every version it had before, even
 * after its entry expired, was evicted or invalidated (no per-key memory is needed for that), and the
 * memory is one counter per registered resource, however many keys and tenants it has.
 *
 * This is a seam: a shared tier replaces it with an external counter (for example Redis `INCR` on
 * `<prefix>:<resource>`), so every instance hands out versions from one sequence. `next()` may then
 * return a promise; the loader awaits it before storing the entry.
 *
 * @publicApi
 */
export interface VersionSource {
  /**
   * The version of a new load of `storeKey` (an entry of `resource`): strictly greater than every
   * version this source returned, or was told about through `seen()`, for `resource` before.
   */
  next(resource: string, storeKey: string): number | PromiseLike<number>;
  /** The highest version handed out or seen for `resource`; 0 before its first load. */
  latest(resource: string): number;
  /** An entry of `resource` with `version` arrived from elsewhere (a shared store): never go below it. */
  seen(resource: string, version: number): void;
}

/**
 * The default `VersionSource`: one in-process counter per resource.
 *
 * @publicApi
 */
export class MemoryVersionSource implements VersionSource {
  private readonly counters = new Map<string, number>();

  next(resource: string): number {
    const v = (this.counters.get(resource) ?? 0) + 1;
    this.counters.set(resource, v);
    return v;
  }

  latest(resource: string): number {
    return this.counters.get(resource) ?? 0;
  }

  seen(resource: string, version: number): void {
    if (version > (this.counters.get(resource) ?? 0)) this.counters.set(resource, version);
  }
}
