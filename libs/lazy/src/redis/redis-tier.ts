import { randomUUID } from 'node:crypto';
import { SampleWindow, withDeadline } from '@reservoir/core';
import { Redis } from 'ioredis';
import type { LazySharedStoreOptions, LazySharedTier } from '../lazy-shared';
import { RedisTierUnavailableError } from './redis-tier.errors';
import { TierCacheStore } from './tier-store';
import { RedisTierMessages } from './redis-tier.messages';
import {
  resolveRedisTierOptions,
  type RedisTierOptions,
  type ResolvedRedisTierOptions,
} from './redis-tier.options';
import {
  INVALIDATE,
  INVALIDATE_TENANT,
  READ,
  RELEASE,
  RENEW,
  RESERVE,
  WRITE,
  type TierScript,
} from './scripts';

/** `'connected'`: Redis answers. `'degraded'`: started but Redis unreachable (or resynchronising). `'disconnected'`: closed. */
export type RedisTierState = 'connected' | 'degraded' | 'disconnected';

/**
 * One shared entry: a lazy resource, the entry key inside it (built from its arguments), and the
 * organisation it belongs to (`undefined` for a global entry).
 *
 * @publicApi
 */
export interface TierRef {
  resource: string;
  key: string;
  tenant?: string;
}

/** An L2 entry as read back. */
export interface TierEntry<T = unknown> {
  value: T;
  version: number;
  origin: string;
}

/**
 * What the tier tells its listeners. `set`: another instance stored `version` of the entry.
 * `invalidate`: another instance invalidated it (its new version is `version`). `tenant`: every entry
 * of `tenant` is invalid. `stale-all`: the bus cannot say what was missed (the gap was older than the
 * stream holds, or Redis lost its data), so treat every L1 entry as stale. `state`: the tier state changed.
 */
export type TierEvent =
  | {
      type: 'set' | 'invalidate';
      resource: string;
      key: string;
      tenant: string | undefined;
      version: number;
      origin: string;
      lagMs: number;
    }
  | { type: 'tenant'; tenant: string | undefined; version: number; origin: string; lagMs: number }
  | { type: 'stale-all'; reason: 'gap' | 'data-loss' }
  | { type: 'state'; state: RedisTierState };

/** How `getOrLoad` got its value. */
export type TierLoadSource = 'l2' | 'leader' | 'joined' | 'local';

export interface TierLoadResult<T> {
  value: T;
  /** The fleet version; `undefined` when the value was loaded locally without Redis. */
  version: number | undefined;
  source: TierLoadSource;
}

/** What `RedisTier.claim()` resolved to. */
export type TierClaim<T = unknown> =
  | { kind: 'hit'; entry: TierEntry<T>; source: 'l2' | 'joined' }
  | {
      kind: 'lead';
      /** The reserved version: the load's fencing token. */
      version: number;
      /** Writes the loaded value by compare-and-set and releases the lease; throws `LazyCodecError`. */
      complete(value: T, encoded?: string): Promise<'written' | 'rejected' | 'unavailable'>;
      /** Releases the lease without writing (the load failed). */
      abandon(): void;
    }
  | { kind: 'local' };

/** Counters for `stats().shared`. */
export interface SharedTierStats {
  state: RedisTierState;
  l2Hits: number;
  l2Misses: number;
  /** Loads this instance made while holding the fleet lease. */
  fleetLoadsLed: number;
  /** Misses served by another instance's load (this instance waited instead of loading). */
  fleetLoadsJoined: number;
  /** Loads made without the fleet (Redis unreachable, or the wait budget ran out). */
  localLoads: number;
  /** Writes refused by the version compare-and-set (a newer version existed). */
  writesRejected: number;
  invalidationsPublished: number;
  invalidationsReceived: number;
  updatesReceived: number;
  busLagMs: { p50: number; p99: number };
  queuedInvalidations: number;
  staleAllSignals: number;
  breakerOpens: number;
  redisErrors: number;
}

type Queued = { kind: 'key'; ref: TierRef; floor: number } | { kind: 'tenant'; tenant: string | undefined };

function enc(s: string): string {
  return encodeURIComponent(s);
}

/** Stream ids compare as (ms, seq) pairs. */
function idLess(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am < bm || (am === bm && (as ?? 0) < (bs ?? 0));
}

const sleep = (ms: number): Promise<void> =>
  new Promise((r) => {
    const t = setTimeout(r, ms);
    t.unref?.();
  });

/**
 * The shared Redis tier for lazy resources: fleet-wide versions, an L2 written by compare-and-set on
 * version, an invalidation bus on a bounded Redis Stream with catch-up, per-tenant namespace
 * invalidation, fleet single-flight on a lease, and a circuit breaker so a Redis outage degrades the
 * loader instead of hanging it. Framework-free; `LazyModule.forRoot({ shared: tier })` plugs it in.
 *
 * @publicApi
 * @example const tier = new RedisTier({ url: process.env.REDIS_URL, prefix: 'shop:lazy' });
 */
export class RedisTier implements LazySharedTier {
  readonly options: ResolvedRedisTierOptions;
  /** This instance's origin in entries and bus messages. */
  readonly instanceId: string;
  private readonly redis: Redis;
  private readonly reader: Redis;
  private readonly ownsClient: boolean;
  private readonly streamKey: string;
  private readonly epochKey: string;
  private readonly listeners = new Set<(e: TierEvent) => void>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly queue = new Map<string, Queued>();
  private readonly flights = new Map<string, Promise<TierLoadResult<unknown>>>();
  private readonly lag = new SampleWindow(1024);
  private closed = false;
  private failures = 0;
  private breakerOpenedAt: number | undefined;
  private needsResync = true;
  private resyncing: Promise<void> | undefined;
  private epoch: string | undefined;
  private lastId: string | undefined;
  private readerNeedsCheck = false;
  private readerLoop: Promise<void> | undefined;
  private lastState: RedisTierState = 'degraded';
  private probeTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly counters = {
    l2Hits: 0,
    l2Misses: 0,
    fleetLoadsLed: 0,
    fleetLoadsJoined: 0,
    localLoads: 0,
    writesRejected: 0,
    invalidationsPublished: 0,
    invalidationsReceived: 0,
    updatesReceived: 0,
    staleAllSignals: 0,
    breakerOpens: 0,
    redisErrors: 0,
  };

  constructor(options: RedisTierOptions = {}) {
    this.options = resolveRedisTierOptions(options);
    const o = this.options;
    this.instanceId = o.instanceId;
    this.streamKey = `${o.prefix}:bus`;
    this.epochKey = `${o.prefix}:epoch`;
    if (o.client !== undefined) {
      this.redis = o.client;
      this.ownsClient = false;
    } else {
      // Every call bounded: no offline queue (a call while disconnected fails at once), no
      // per-request retries, a command timeout, and a capped reconnect backoff.
      this.redis = new Redis(o.url ?? 'redis://127.0.0.1:6379', {
        commandTimeout: o.commandTimeoutMs,
        connectTimeout: o.connectTimeoutMs,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        // A command cut off by a disconnect has already failed for its caller: never replay it later.
        autoResendUnfulfilledCommands: false,
        // close() must not keep the process alive for ioredis' default 2 s on a dead socket.
        disconnectTimeout: 200,
        retryStrategy: (n: number) => Math.min(25 * 2 ** n, 500),
      });
      this.ownsClient = true;
      this.redis.on('error', () => this.counters.redisErrors++);
    }
    // The bus reader blocks, so it gets its own connection; its timeout covers one blocked read.
    this.reader = this.redis.duplicate({
      commandTimeout: o.busBlockMs + o.commandTimeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // A blocked read replayed after a reconnect would skip the gap check: fail it instead.
      autoResendUnfulfilledCommands: false,
      disconnectTimeout: 200,
      retryStrategy: (n: number) => Math.min(25 * 2 ** n, 500),
    });
    this.reader.on('error', () => undefined);
    this.redis.on('ready', () => this.kickResync());
    this.redis.on('close', () => this.lostConnection());
    if (this.redis.status === 'ready') this.kickResync();
    this.readerLoop = this.readLoop();
  }

  /** The loader's store over this tier; `LazyModule.forRoot({ shared: tier })` calls it. */
  createStore(options: LazySharedStoreOptions): TierCacheStore {
    return new TierCacheStore(this, options);
  }

  // ---------------------------------------------------------------- state

  get state(): RedisTierState {
    if (this.closed) return 'disconnected';
    if (this.redis.status !== 'ready' || this.breakerOpenedAt !== undefined || this.needsResync)
      return 'degraded';
    return 'connected';
  }

  /** Resolves `true` once the tier is connected, `false` if `timeoutMs` passes first. */
  async ready(timeoutMs = this.options.connectTimeoutMs): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.closed) {
      if (this.state === 'connected') return true;
      if (Date.now() >= until) return false;
      if (this.redis.status === 'ready' && this.needsResync) this.kickResync();
      await sleep(10);
    }
    return false;
  }

  /** Subscribes to bus messages and state changes; returns the unsubscribe function. */
  onEvent(listener: (e: TierEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): SharedTierStats {
    const [p50, p99] = this.lag.percentiles([0.5, 0.99]);
    return {
      state: this.state,
      ...this.counters,
      busLagMs: { p50, p99 },
      queuedInvalidations: this.queue.size,
    };
  }

  // ---------------------------------------------------------------- keys

  private base(tenant: string | undefined): string {
    // The hash tag keeps one tenant's keys in one cluster slot; encoding keeps ':' '{' '}' in ids harmless.
    return `${this.options.prefix}:{${this.tenantTag(tenant)}}`;
  }

  private tenantTag(tenant: string | undefined): string {
    return tenant === undefined ? 'g' : `t.${enc(tenant)}`;
  }

  private tenantOf(tag: string): string | undefined {
    return tag === 'g' ? undefined : decodeURIComponent(tag.slice(2));
  }

  private keyOf(kind: 'e' | 'v' | 'l', ref: TierRef): string {
    return `${this.base(ref.tenant)}:${kind}:${enc(ref.resource)}:${enc(ref.key)}`;
  }

  private nsKey(tenant: string | undefined): string {
    return `${this.base(tenant)}:ns`;
  }

  // ---------------------------------------------------------------- bounded calls + breaker

  /** Every Redis call goes through here: refused at once while unreachable, bounded otherwise. */
  private async call<R>(op: string, fn: () => Promise<R>): Promise<R> {
    if (this.closed) throw RedisTierUnavailableError.create(op, 'disconnected', RedisTierMessages.closed);
    if (this.redis.status !== 'ready')
      throw RedisTierUnavailableError.create(op, 'degraded', `connection ${this.redis.status}`);
    const opened = this.breakerOpenedAt;
    if (opened !== undefined && Date.now() - opened < this.options.breakerOpenMs)
      throw RedisTierUnavailableError.create(op, 'degraded', 'circuit breaker open');
    const ms = this.options.commandTimeoutMs;
    try {
      const r = await withDeadline(fn(), ms, () =>
        RedisTierUnavailableError.create(op, this.state, RedisTierMessages.timedOut(op, ms)),
      );
      this.failures = 0;
      if (this.breakerOpenedAt !== undefined) {
        this.breakerOpenedAt = undefined;
        this.kickResync();
      }
      return r;
    } catch (err) {
      this.counters.redisErrors++;
      this.failures++;
      // A failed probe (half-open) reopens at once; otherwise open after `breakerThreshold` in a row.
      if (opened !== undefined || this.failures >= this.options.breakerThreshold) this.openBreaker();
      if (err instanceof RedisTierUnavailableError) throw err;
      throw RedisTierUnavailableError.create(
        op,
        this.state,
        err instanceof Error ? err.message : String(err),
        err,
      );
    }
  }

  private openBreaker(): void {
    if (this.breakerOpenedAt === undefined) this.counters.breakerOpens++;
    this.breakerOpenedAt = Date.now();
    this.needsResync = true;
    this.emitState();
    this.scheduleProbe();
  }

  /** While the breaker is open, one PING per `breakerOpenMs` finds out when Redis answers again. */
  private scheduleProbe(): void {
    if (this.probeTimer !== undefined || this.closed) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.breakerOpenedAt === undefined || this.closed) return;
      this.call('probe', () => this.redis.ping()).catch(() => this.scheduleProbe());
    }, this.options.breakerOpenMs);
    this.probeTimer.unref?.();
  }

  private lostConnection(): void {
    this.needsResync = true;
    this.emitState();
  }

  private evalScript(s: TierScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.redis.evalsha(s.sha, s.keys, ...keys, ...args).catch((err: unknown) => {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT'))
        return this.redis.eval(s.lua, s.keys, ...keys, ...args);
      throw err;
    });
  }

  private emit(e: TierEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure must not stop the bus.
      }
    }
  }

  private emitState(): void {
    const s = this.state;
    if (s === this.lastState) return;
    this.lastState = s;
    this.emit({ type: 'state', state: s });
  }

  // ---------------------------------------------------------------- resync after (re)connect

  private kickResync(): void {
    if (this.closed || this.resyncing !== undefined) return;
    this.resyncing = this.resync().finally(() => {
      this.resyncing = undefined;
      this.emitState();
    });
  }

  /**
   * After a (re)connect: detect a Redis that lost its data (a new epoch), then publish the
   * invalidations queued while unreachable. Connected again only once the queue is empty.
   */
  private async resync(): Promise<void> {
    try {
      const mine = this.epoch ?? randomUUID();
      const [, [, current]] = (await this.call('resync', () =>
        this.redis.multi().set(this.epochKey, mine, 'NX').get(this.epochKey).exec(),
      )) as [[unknown, unknown], [unknown, string]];
      if (this.epoch !== undefined && current !== this.epoch) this.staleAll('data-loss');
      this.epoch = current;
      for (const [id, q] of [...this.queue]) {
        if (q.kind === 'key') await this.publishInvalidate(q.ref, q.floor);
        else await this.publishTenant(q.tenant);
        this.queue.delete(id);
      }
      this.needsResync = false;
    } catch {
      // Still unreachable: the next 'ready' or successful call tries again.
    }
  }

  private staleAll(reason: 'gap' | 'data-loss'): void {
    this.counters.staleAllSignals++;
    this.emit({ type: 'stale-all', reason });
  }

  // ---------------------------------------------------------------- L2 and versions

  /** Reads the L2 entry of `ref`, or `undefined` (missing, or from an invalidated tenant namespace). */
  async read<T = unknown>(ref: TierRef): Promise<TierEntry<T> | undefined> {
    const r = (await this.call('read', () =>
      this.evalScript(READ, [this.keyOf('e', ref), this.nsKey(ref.tenant)], []),
    )) as [string, string, string] | null;
    if (r === null) {
      this.counters.l2Misses++;
      return undefined;
    }
    let value: T;
    try {
      value = this.options.codec.decode(r[2]) as T;
    } catch {
      this.counters.l2Misses++;
      return undefined;
    }
    this.counters.l2Hits++;
    return { value, version: Number(r[0]), origin: r[1] };
  }

  /**
   * Reserves the version of a new load of `ref` (its fencing token), above `floor` (the highest
   * version this instance holds for it). Also returns the tenant namespace version the write must match.
   */
  async reserveVersion(ref: TierRef, floor = 0): Promise<{ version: number; ns: number }> {
    const [version, ns] = (await this.call('reserveVersion', () =>
      this.evalScript(RESERVE, [this.keyOf('v', ref), this.nsKey(ref.tenant)], [floor]),
    )) as [number, number];
    return { version, ns };
  }

  /**
   * Compare-and-set write of `value` as `version` of `ref`: written only if no newer version was
   * reserved or written and the tenant was not invalidated since `ns`. Throws `LazyCodecError` for a
   * value the codec cannot encode, before anything reaches Redis.
   */
  async write(
    ref: TierRef,
    value: unknown,
    version: number,
    ns: number,
    encoded?: string,
  ): Promise<'written' | 'rejected'> {
    const data = encoded ?? this.options.codec.encode(value);
    const o = this.options;
    const r = (await this.call('write', () =>
      this.evalScript(
        WRITE,
        [this.keyOf('e', ref), this.keyOf('v', ref), this.nsKey(ref.tenant), this.streamKey],
        [
          o.streamMaxLen,
          'set',
          this.tenantTag(ref.tenant),
          ref.resource,
          ref.key,
          this.instanceId,
          version,
          ns,
          data,
          o.l2TtlMs === Infinity ? 0 : o.l2TtlMs,
        ],
      ),
    )) as number;
    if (r === 1) return 'written';
    this.counters.writesRejected++;
    return 'rejected';
  }

  /**
   * Invalidates `ref` across the fleet: its version goes up (so a load still running elsewhere
   * cannot write), the L2 entry goes and every instance hears of it. While Redis is unreachable the
   * invalidation is queued (newest per key) and published on reconnect; then it resolves `undefined`.
   */
  async invalidate(ref: TierRef, floor = 0): Promise<number | undefined> {
    try {
      return await this.publishInvalidate(ref, floor);
    } catch (err) {
      if (!(err instanceof RedisTierUnavailableError)) throw err;
      this.enqueue({ kind: 'key', ref: { ...ref }, floor });
      return undefined;
    }
  }

  /** Invalidates every entry of `tenant` (`undefined` = the global entries) in O(1); queued like `invalidate`. */
  async invalidateTenant(tenant: string | undefined): Promise<number | undefined> {
    try {
      return await this.publishTenant(tenant);
    } catch (err) {
      if (!(err instanceof RedisTierUnavailableError)) throw err;
      this.enqueue({ kind: 'tenant', tenant });
      return undefined;
    }
  }

  private async publishInvalidate(ref: TierRef, floor: number): Promise<number> {
    const v = (await this.call('invalidate', () =>
      this.evalScript(
        INVALIDATE,
        [this.keyOf('e', ref), this.keyOf('v', ref), this.streamKey],
        [
          this.options.streamMaxLen,
          'inv',
          this.tenantTag(ref.tenant),
          ref.resource,
          ref.key,
          this.instanceId,
          floor,
        ],
      ),
    )) as number;
    this.counters.invalidationsPublished++;
    return v;
  }

  private async publishTenant(tenant: string | undefined): Promise<number> {
    const v = (await this.call('invalidateTenant', () =>
      this.evalScript(
        INVALIDATE_TENANT,
        [this.nsKey(tenant), this.streamKey],
        [this.options.streamMaxLen, 'tenant', this.tenantTag(tenant), '', '', this.instanceId],
      ),
    )) as number;
    this.counters.invalidationsPublished++;
    return v;
  }

  private enqueue(q: Queued): void {
    this.needsResync = true;
    const tag = this.tenantTag(q.kind === 'key' ? q.ref.tenant : q.tenant);
    if (q.kind === 'tenant') {
      // A tenant invalidation covers the tenant's queued keys.
      for (const [id, other] of this.queue)
        if (other.kind === 'key' && this.tenantTag(other.ref.tenant) === tag) this.queue.delete(id);
      this.queue.set(`t|${tag}`, q);
      return;
    }
    if (this.queue.has(`t|${tag}`)) return;
    const id = `k|${this.keyOf('e', q.ref)}`;
    const prev = this.queue.get(id);
    if (prev?.kind === 'key') q.floor = Math.max(q.floor, prev.floor);
    this.queue.delete(id);
    this.queue.set(id, q);
    if (this.queue.size > this.options.maxQueuedInvalidations) {
      // Too many keys: collapse them into one namespace invalidation per tenant, which loses nothing.
      const tenants = new Map<string, string | undefined>();
      for (const [qid, other] of this.queue)
        if (other.kind === 'key') {
          tenants.set(this.tenantTag(other.ref.tenant), other.ref.tenant);
          this.queue.delete(qid);
        }
      for (const [t, tenant] of tenants) this.queue.set(`t|${t}`, { kind: 'tenant', tenant });
    }
  }

  // ---------------------------------------------------------------- fleet single-flight

  /**
   * The miss path across the fleet. Reads L2; on a miss, takes the key's lease and loads (`load` gets
   * the reserved version), or, if another instance holds the lease, waits for its completion message
   * and polls L2 with backoff within `fleetWaitMs`, then loads locally. With Redis unreachable it loads
   * locally at once. Errors of `load` and `LazyCodecError` propagate; Redis errors never do.
   */
  getOrLoad<T>(
    ref: TierRef,
    load: (version: number | undefined) => Promise<T> | T,
    floor = 0,
  ): Promise<TierLoadResult<T>> {
    // In-process single-flight first: concurrent misses of one entry in this process make one trip
    // through Redis (and at most one loader call), whatever the caller above does.
    const id = `${this.keyOf('e', ref)}|${floor}`;
    const running = this.flights.get(id);
    if (running !== undefined) return running as Promise<TierLoadResult<T>>;
    const p = this.fleetLoad(ref, load, floor).finally(() => this.flights.delete(id));
    this.flights.set(id, p);
    return p;
  }

  private async fleetLoad<T>(
    ref: TierRef,
    load: (version: number | undefined) => Promise<T> | T,
    floor: number,
  ): Promise<TierLoadResult<T>> {
    const c = await this.claim<T>(ref, floor);
    if (c.kind === 'hit') return { value: c.entry.value, version: c.entry.version, source: c.source };
    if (c.kind === 'local') return { value: await load(undefined), version: undefined, source: 'local' };
    let value: T;
    try {
      value = await load(c.version);
    } catch (err) {
      c.abandon();
      throw err;
    }
    await c.complete(value);
    return { value, version: c.version, source: 'leader' };
  }

  /**
   * The fleet miss protocol without the load, for a caller that runs the load itself (the loader
   * integration). Resolves to a `hit` (L2 had a version newer than `floor`, or another instance's load
   * finished while this one waited), a `lead` (this instance holds the lease and a reserved version:
   * load, then `complete(value)` or `abandon()`), or `local` (Redis unreachable or the wait budget
   * ran out: load without the fleet). `reload: true` skips L2 and the lease and just reserves a
   * version: a reload must load. Never rejects with a Redis error.
   */
  async claim<T = unknown>(ref: TierRef, floor = 0, reload = false): Promise<TierClaim<T>> {
    try {
      if (reload) return await this.leadClaim<T>(ref, floor, undefined, undefined);
      const hit = await this.read<T>(ref);
      if (hit !== undefined && hit.version > floor) return { kind: 'hit', entry: hit, source: 'l2' };
      const o = this.options;
      const deadline = Date.now() + o.fleetWaitMs;
      let delay = o.pollInitialMs;
      for (;;) {
        const token = randomUUID();
        const leaseKey = this.keyOf('l', ref);
        const got = await this.call('lease', () => this.redis.set(leaseKey, token, 'PX', o.leaseMs, 'NX'));
        if (got === 'OK') return await this.leadClaim<T>(ref, floor, leaseKey, token);
        const left = deadline - Date.now();
        if (left <= 0) break;
        await this.waitFor(ref, Math.min(delay, left));
        delay = Math.min(delay * 2, o.pollMaxMs);
        const e = await this.read<T>(ref);
        if (e !== undefined && e.version > floor) {
          this.counters.fleetLoadsJoined++;
          return { kind: 'hit', entry: e, source: 'joined' };
        }
        if (Date.now() >= deadline) break;
      }
    } catch (err) {
      if (!(err instanceof RedisTierUnavailableError)) throw err;
    }
    this.counters.localLoads++;
    return { kind: 'local' };
  }

  private async leadClaim<T>(
    ref: TierRef,
    floor: number,
    leaseKey: string | undefined,
    token: string | undefined,
  ): Promise<TierClaim<T>> {
    const o = this.options;
    let renew: ReturnType<typeof setInterval> | undefined;
    let cap: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearInterval(renew);
      clearTimeout(cap);
      if (leaseKey !== undefined && token !== undefined)
        this.call('releaseLease', () => this.evalScript(RELEASE, [leaseKey], [token])).catch(() => undefined);
    };
    if (leaseKey !== undefined && token !== undefined) {
      renew = setInterval(
        () => {
          this.call('renewLease', () => this.evalScript(RENEW, [leaseKey], [token, o.leaseMs])).catch(
            () => undefined,
          );
        },
        Math.max(10, Math.floor(o.leaseMs / 3)),
      );
      renew.unref?.();
      // A claim nobody completes (a caller that lost track of it) stops renewing after maxLeaseHoldMs.
      cap = setTimeout(finish, o.maxLeaseHoldMs);
      cap.unref?.();
    }
    let reserved: { version: number; ns: number };
    try {
      reserved = await this.reserveVersion(ref, floor);
    } catch (err) {
      finish();
      throw err;
    }
    this.counters.fleetLoadsLed++;
    return {
      kind: 'lead',
      version: reserved.version,
      complete: async (value: T, encoded?: string) => {
        clearInterval(renew);
        try {
          return await this.write(ref, value, reserved.version, reserved.ns, encoded);
        } catch (err) {
          if (!(err instanceof RedisTierUnavailableError)) throw err;
          return 'unavailable';
        } finally {
          finish();
        }
      },
      abandon: finish,
    };
  }

  private waitFor(ref: TierRef, ms: number): Promise<void> {
    const id = this.keyOf('e', ref);
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(id);
      if (set === undefined) this.waiters.set(id, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        const s = this.waiters.get(id);
        s?.delete(done);
        if (s?.size === 0) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      set.add(done);
    });
  }

  private wake(id: string): void {
    const s = this.waiters.get(id);
    if (s !== undefined) for (const w of [...s]) w();
  }

  // ---------------------------------------------------------------- bus reader

  private async readLoop(): Promise<void> {
    let backoff = 25;
    while (!this.closed) {
      try {
        if (this.reader.status !== 'ready') {
          this.readerNeedsCheck = true;
          await this.readerReady();
          continue;
        }
        if (this.lastId === undefined) {
          const last = (await this.reader.xrevrange(this.streamKey, '+', '-', 'COUNT', 1)) as [
            string,
            string[],
          ][];
          this.lastId = last.length > 0 ? last[0][0] : '0-0';
          this.readerNeedsCheck = false;
          this.emitState();
        } else if (this.readerNeedsCheck) {
          await this.checkGap();
          this.readerNeedsCheck = false;
        }
        const res = (await this.reader.xread(
          'COUNT',
          512,
          'BLOCK',
          this.options.busBlockMs,
          'STREAMS',
          this.streamKey,
          this.lastId,
        )) as [string, [string, string[]][]][] | null;
        backoff = 25;
        if (res === null) continue;
        for (const [, entries] of res) for (const [id, fields] of entries) this.deliver(id, fields);
      } catch {
        if (this.closed) return;
        this.readerNeedsCheck = true;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 500);
      }
    }
  }

  /** Resolves when the reader connection is ready again, or after `busBlockMs` (a bounded wait). */
  private readerReady(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.reader.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, this.options.busBlockMs);
      timer.unref?.();
      this.reader.once('ready', done);
    });
  }

  /**
   * After the reader was away: if the stream trimmed anything newer than the last message read, or
   * the stream is gone (Redis lost its data), the missed messages cannot be replayed: signal stale-all.
   * Otherwise the next XREAD from the last id replays exactly what was missed.
   */
  private async checkGap(): Promise<void> {
    const last = this.lastId ?? '0-0';
    let info: unknown[];
    try {
      info = (await this.reader.xinfo('STREAM', this.streamKey)) as unknown[];
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) {
        if (last !== '0-0') {
          this.lastId = '0-0';
          this.staleAll('data-loss');
        }
        return;
      }
      throw err;
    }
    const field = (name: string): unknown => {
      const i = info.indexOf(name);
      return i >= 0 ? info[i + 1] : undefined;
    };
    const maxDeleted = field('max-deleted-entry-id');
    const first = field('first-entry') as [string, unknown] | null | undefined;
    const lastGenerated = field('last-generated-id') as string | undefined;
    if (lastGenerated !== undefined && idLess(lastGenerated, last)) {
      // The stream restarted behind us: it is not the one we read.
      this.lastId = '0-0';
      this.staleAll('data-loss');
      return;
    }
    // Trimming does not move max-deleted-entry-id (only XDEL does), so the first entry is the real
    // test: if it is newer than the last one read, something in between may be gone. When exactly
    // the last-read entry was the last one trimmed this says "gap" without one: safe, just reloads.
    // From '0-0' (the stream was empty when the reader started) only a count can tell: more entries
    // added than the stream holds means some were trimmed unread.
    const added = field('entries-added');
    const length = field('length');
    const gap =
      last === '0-0'
        ? typeof added === 'number' && typeof length === 'number' && added > length
        : (typeof maxDeleted === 'string' && idLess(last, maxDeleted)) ||
          (first !== null && first !== undefined && idLess(last, first[0]));
    if (gap) this.staleAll('gap');
  }

  private deliver(id: string, fields: string[]): void {
    this.lastId = id;
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
    const tenant = this.tenantOf(f.t ?? 'g');
    const version = Number(f.v);
    const origin = f.o ?? '';
    if (f.y === 'set' || f.y === 'inv') {
      const ref: TierRef = { resource: f.r, key: f.k, tenant };
      this.wake(this.keyOf('e', ref));
    }
    if (origin === this.instanceId) return;
    const lagMs = Math.max(0, Date.now() - Number(id.split('-')[0]));
    this.lag.record(lagMs);
    if (f.y === 'set') {
      this.counters.updatesReceived++;
      this.emit({ type: 'set', resource: f.r, key: f.k, tenant, version, origin, lagMs });
    } else if (f.y === 'inv') {
      this.counters.invalidationsReceived++;
      this.emit({ type: 'invalidate', resource: f.r, key: f.k, tenant, version, origin, lagMs });
    } else if (f.y === 'tenant') {
      this.counters.invalidationsReceived++;
      this.emit({ type: 'tenant', tenant, version, origin, lagMs });
    }
  }

  // ---------------------------------------------------------------- shutdown

  /** Stops the bus reader and closes the connections the tier opened (never a client passed in). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lastState = 'disconnected';
    if (this.probeTimer !== undefined) clearTimeout(this.probeTimer);
    for (const id of [...this.waiters.keys()]) this.wake(id);
    this.reader.disconnect();
    await withDeadline(
      this.readerLoop ?? Promise.resolve(),
      this.options.commandTimeoutMs * 4,
      () => new Error('reader'),
    ).catch(() => undefined);
    if (this.ownsClient) this.redis.disconnect();
    this.emit({ type: 'state', state: 'disconnected' });
  }
}
