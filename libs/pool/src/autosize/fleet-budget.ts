/**
 * Fleet budget: pools in several processes that share a Redis key never together hold more than
 * `maxConnections` resources. Each instance leases a share with a TTL and renews it; a crashed
 * instance's share comes back once its TTL runs out. Framework-free; the pool only asks for a share
 * (`want`) and reads the grant (`onGrant`). Reasoning in docs/design.md ("Fleet budget").
 *
 * ioredis stays an optional peer: it is `require`d only when `redis` is a URL, and only here.
 */
import { type OptionChecker } from '@reservoir/core';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { MAX_TIMER_MS } from '../pool.defaults';

/** The part of an ioredis client the fleet budget uses (kept structural so ioredis stays out of the types). */
export interface FleetRedisClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** A Redis client that the fleet lease created itself and so must close. */
interface OwnedRedisClient extends FleetRedisClient {
  disconnect(): void;
}

/**
 * `autoSize.fleet`: a capacity budget shared through Redis by every pool using the same `key`.
 * `redis`, `key` and `maxConnections` are required; the initialisers below are the defaults of the rest.
 *
 * @publicApi
 */
export class FleetBudgetOptions {
  /** An ioredis client (never closed by the pool) or a Redis URL (the pool opens and closes its own connection). */
  redis!: string | FleetRedisClient;
  /** The Redis key the instances share: one budget per key. */
  key!: string;
  /** Most resources all instances sharing `key` may hold together. */
  maxConnections!: number;
  /** How long a share stays reserved without a renewal: a crashed instance's share is free again after this. @default 10000 */
  leaseTtlMs?: number = 10_000;
  /** How often the share is renewed (and regrown). Undefined means a third of `leaseTtlMs`. @default undefined (= leaseTtlMs / 3) */
  renewIntervalMs?: number = undefined;
  /** Bound on every Redis call; a call that takes longer counts as an outage. @default 500 */
  timeoutMs?: number = 500;
  /** This instance's name in the lease table. @default `<hostname>:<pid>:<random>` */
  instanceId?: string = undefined;
}

export interface ResolvedFleetBudgetOptions {
  redis: string | FleetRedisClient;
  key: string;
  maxConnections: number;
  leaseTtlMs: number;
  renewIntervalMs: number;
  timeoutMs: number;
  instanceId: string;
}

const REQUIRED = ['redis', 'key', 'maxConnections'] as const;
const FLEET_DEFAULTS = new FleetBudgetOptions();
/** Required keys first, then the ones with defaults, in declaration order. */
const FLEET_KEYS = [
  ...REQUIRED,
  ...Object.keys(FLEET_DEFAULTS).filter((k) => !REQUIRED.includes(k as never)),
];

/** Validates `autoSize.fleet`; `c` is the `autoSize` checker, so errors read `autoSize.fleet.<key>`. */
export function resolveFleetBudgetOptions(
  c: OptionChecker,
  value: unknown,
  min: number,
): ResolvedFleetBudgetOptions | undefined {
  if (value === undefined) return undefined;
  c.object('fleet', value);
  const f = c.nested('fleet');
  f.knownKeys(value, FLEET_KEYS);
  const v = value as Record<string, unknown>;
  const redis = v.redis;
  const isClient =
    redis !== null && typeof redis === 'object' && typeof (redis as { eval?: unknown }).eval === 'function';
  if (!isClient && !(typeof redis === 'string' && /^rediss?:\/\/./.test(redis))) {
    throw f.error('redis', redis, 'a redis:// or rediss:// URL, or an ioredis client (an object with eval)');
  }
  const key = f.string('key', v.key);
  // `min` resources are held whatever Redis says (they are the floor of every pool), so the budget
  // must cover at least one instance's floor.
  const maxConnections = f.integer('maxConnections', v.maxConnections, Math.max(1, min), 1_000_000);
  const d = FLEET_DEFAULTS as Required<FleetBudgetOptions>;
  const leaseTtlMs = f.integer('leaseTtlMs', v.leaseTtlMs ?? d.leaseTtlMs, 100, MAX_TIMER_MS);
  const renewIntervalMs =
    v.renewIntervalMs === undefined
      ? Math.max(10, Math.floor(leaseTtlMs / 3))
      : f.integer('renewIntervalMs', v.renewIntervalMs, 10, Math.floor(leaseTtlMs / 2));
  const timeoutMs = f.integer('timeoutMs', v.timeoutMs ?? d.timeoutMs, 10, Math.floor(leaseTtlMs / 2));
  const instanceId =
    v.instanceId === undefined
      ? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
      : f.string('instanceId', v.instanceId);
  return {
    redis: redis as string | FleetRedisClient,
    key,
    maxConnections,
    leaseTtlMs,
    renewIntervalMs,
    timeoutMs,
    instanceId,
  };
}

/**
 * Lease or renew, atomically. Drops expired shares, then grants
 *   min(want, maxConnections − others' shares, max(fair, maxConnections − others' wants))
 * where fair = floor(maxConnections / live instances) and an instance's share counts as the larger
 * of its grant and what it reported holding: a cut instance still holds its excess until those
 * leases come back, and nobody may be granted that capacity meanwhile. Uncontended (the wants fit), an instance gets
 * all it wants; contended, an instance above its fair share is cut back to it on its next renewal,
 * so an instance that started first cannot starve the others for ever. Redis' own clock decides
 * expiry, so the instances' clocks need not agree. Entries are `grant:want:held:expiresAtMs`; the hash
 * expires as a whole only when no share could still be live.
 * KEYS[1] = budget key; ARGV = instance id, want, held, maxConnections, ttl ms. Returns { grant, others }.
 */
export const LEASE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, want, held = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local max, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local others, othersWant, n = 0, 0, 1
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local g, w, h, exp = string.match(all[i + 1], '^(%d+):(%d+):(%d+):(%d+)$')
  if g == nil or tonumber(exp) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= id then
    others = others + math.max(tonumber(g), tonumber(h))
    othersWant = othersWant + tonumber(w)
    n = n + 1
  end
end
local fair = math.floor(max / n)
local grant = math.max(0, math.min(want, max - others, math.max(fair, max - othersWant)))
redis.call('HSET', KEYS[1], id, grant .. ':' .. want .. ':' .. held .. ':' .. (now + ttl))
if redis.call('PTTL', KEYS[1]) < ttl * 2 then redis.call('PEXPIRE', KEYS[1], ttl * 2) end
return { grant, others }
`;

/** Release: removes this instance's share. KEYS[1] = budget key; ARGV[1] = instance id. */
export const RELEASE_SCRIPT = `return redis.call('HDEL', KEYS[1], ARGV[1])`;

export type FleetLeaseState = 'pending' | 'leased' | 'unreachable' | 'closed';

/** What `stats().autoSize.fleet` reports. */
export interface FleetStats {
  key: string;
  instanceId: string;
  maxConnections: number;
  /** The share Redis last granted this instance. */
  leased: number;
  /** Live shares of the other instances at the last renewal. */
  others: number;
  /** `pending` before the first answer, `unreachable` while Redis calls fail (the pool is frozen). */
  state: FleetLeaseState;
  /** Redis calls that failed or timed out. */
  failures: number;
}

/**
 * One instance's share of a fleet budget. `want(n)` says how many resources the pool would like to
 * hold; `onGrant` is called with the share whenever Redis answers, and with undefined when a call
 * fails (the pool then freezes at what it holds).
 */
export class FleetLease {
  private client: FleetRedisClient | undefined;
  private owned: OwnedRedisClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private leasedNow = 0;
  private othersNow = 0;
  private stateNow: FleetLeaseState = 'pending';
  private failuresNow = 0;

  constructor(
    private readonly o: ResolvedFleetBudgetOptions,
    /** The share the pool would like now (read on every renewal). */
    private readonly wanted: () => number,
    /** Resources the pool holds now, created or being created or destroyed (read on every renewal). */
    private readonly held: () => number,
    private readonly onGrant: (leased: number | undefined, error?: unknown) => void,
  ) {}

  get leased(): number {
    return this.leasedNow;
  }

  stats(): FleetStats {
    return {
      key: this.o.key,
      instanceId: this.o.instanceId,
      maxConnections: this.o.maxConnections,
      leased: this.leasedNow,
      others: this.othersNow,
      state: this.stateNow,
      failures: this.failuresNow,
    };
  }

  /** Opens the connection (for a URL), leases at once and renews every `renewIntervalMs`. */
  start(): void {
    this.client = typeof this.o.redis === 'string' ? this.connect(this.o.redis) : this.o.redis;
    this.timer = setInterval(() => this.renew(), this.o.renewIntervalMs);
    this.timer.unref();
    this.renew();
  }

  /** Asks Redis now (not at the next renewal) when the share the pool would like differs from the lease. */
  poke(): void {
    if (this.stateNow !== 'pending' && (this.wanted() !== this.leasedNow || this.held() > this.leasedNow))
      this.renew();
  }

  /** One lease call at a time; a request made meanwhile runs right after it. */
  renew(): void {
    if (this.stateNow === 'closed' || this.client === undefined) return;
    if (this.inFlight !== undefined) {
      this.again = true;
      return;
    }
    this.inFlight = this.leaseOnce().finally(() => {
      this.inFlight = undefined;
      if (this.again) {
        this.again = false;
        this.renew();
      }
    });
  }

  /** Stops renewing and gives the share back (bounded). Call only once the pool holds nothing. */
  async close(): Promise<void> {
    if (this.stateNow === 'closed') return;
    this.stateNow = 'closed';
    clearInterval(this.timer);
    await this.inFlight;
    if (this.client !== undefined) {
      try {
        await this.bounded(this.client.eval(RELEASE_SCRIPT, 1, this.o.key, this.o.instanceId));
      } catch {
        // The share expires by itself after leaseTtlMs.
      }
    }
    this.leasedNow = 0;
    this.owned?.disconnect();
  }

  private async leaseOnce(): Promise<void> {
    const want = this.wanted();
    const held = this.held();
    try {
      const r = (await this.bounded(
        this.client!.eval(
          LEASE_SCRIPT,
          1,
          this.o.key,
          this.o.instanceId,
          want,
          held,
          this.o.maxConnections,
          this.o.leaseTtlMs,
        ),
      )) as [number, number];
      if (this.stateNow === 'closed') return;
      this.leasedNow = Number(r[0]);
      this.othersNow = Number(r[1]);
      this.stateNow = 'leased';
      this.onGrant(this.leasedNow);
    } catch (err) {
      if (this.stateNow === 'closed') return;
      this.failuresNow++;
      this.stateNow = 'unreachable';
      this.onGrant(undefined, err);
    }
  }

  private bounded<R>(p: Promise<R>): Promise<R> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis call timed out after ${this.o.timeoutMs} ms`)),
        this.o.timeoutMs,
      );
    });
    // A late answer or error of the raced call must not surface as an unhandled rejection.
    p.catch(() => undefined);
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  private connect(url: string): OwnedRedisClient {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Redis } = require('ioredis') as { Redis: new (url: string, opts: object) => OwnedRedisClient };
    const client = new Redis(url, {
      // Each call is bounded by timeoutMs; the client must not replay or queue behind an outage.
      maxRetriesPerRequest: 0,
      connectTimeout: this.o.timeoutMs,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times: number) => Math.min(times * 100, 1000),
    });
    // Errors reach the pool through failed calls; an 'error' listener keeps ioredis from logging each.
    (client as unknown as { on(e: string, f: () => void): void }).on('error', () => undefined);
    return client;
  }
}
