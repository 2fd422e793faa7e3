import { randomUUID } from 'node:crypto';
import { OptionChecker } from '@reservoir/core';
import type { Redis } from 'ioredis';
import { JsonTierCodec, type TierCodec } from './codec';
import { RedisTierConfigError } from './redis-tier.errors';
import { RedisTierMessages } from './redis-tier.messages';

/*
 * The options class is the one place of the defaults (its field initialisers); the list of known
 * option names is read off an instance, so the validator cannot drift from the documented options.
 */

/**
 * Options of `new RedisTier(options)`. Every field is optional.
 *
 * @publicApi
 */
export class RedisTierOptions {
  /**
   * ioredis connection string. The tier then owns the connection and sets the options that keep
   * every call bounded (`commandTimeout`, `enableOfflineQueue: false`, `maxRetriesPerRequest`).
   * Used when neither `url` nor `client` is given: `'redis://127.0.0.1:6379'`.
   * @default undefined
   * @example url: process.env.REDIS_URL
   */
  url?: string = undefined;
  /**
   * An existing ioredis client. The tier never closes it, and duplicates it once for the bus
   * reader. Its own offline queue and retries stay as you configured them; the tier still bounds
   * every call by `commandTimeoutMs`.
   * @default undefined
   */
  client?: Redis = undefined;
  /**
   * Prefix of every Redis key and of the bus stream. Instances share entries, versions and the bus
   * exactly when they share the prefix (and the Redis database).
   * @default 'reservoir:lazy'
   */
  prefix?: string = 'reservoir:lazy';
  /**
   * Bound on one Redis call, in ms. A call that takes longer fails (counted by the breaker) and the
   * caller serves from L1 or loads locally.
   * @default 250
   */
  commandTimeoutMs?: number = 250;
  /**
   * Bound on opening a connection, in ms (for `url`).
   * @default 2000
   */
  connectTimeoutMs?: number = 2_000;
  /**
   * Consecutive failed Redis calls that open the circuit breaker. While it is open no call goes to
   * Redis at all (they fail at once), and the tier reports `degraded`.
   * @default 3
   */
  breakerThreshold?: number = 3;
  /**
   * How long the breaker stays open before one probe call may try Redis again, in ms.
   * @default 1000
   */
  breakerOpenMs?: number = 1_000;
  /**
   * Expiry of an L2 entry in Redis, in ms, so entries orphaned by a tenant invalidation or left
   * behind by a removed resource go away on their own. `Infinity` = no expiry.
   * @default 3600000
   */
  l2TtlMs?: number = 3_600_000;
  /**
   * Approximate bound on the bus stream (`XADD MAXLEN ~`). A reader that was away for longer than
   * the stream reaches back treats all of its L1 as stale.
   * @default 10000
   */
  streamMaxLen?: number = 10_000;
  /**
   * How long one bus read blocks in Redis before it is issued again, in ms. Delivery does not wait
   * for it (a blocked read returns as soon as a message arrives); it bounds how quickly a dead
   * connection is noticed.
   * @default 1000
   */
  busBlockMs?: number = 1_000;
  /**
   * Lifetime of a fleet load lease, in ms; the holder renews it every `leaseMs / 3` while its loader
   * runs. A holder that dies or stalls loses the lease after this long, and another instance loads.
   * @default 10000
   */
  leaseMs?: number = 10_000;
  /**
   * Longest time a claimed lease is renewed, in ms: a load that has not completed by then (or a
   * claim its caller forgot) lets the lease expire, so another instance may load.
   * @default 60000
   */
  maxLeaseHoldMs?: number = 60_000;
  /**
   * Wait budget of an instance that found another instance loading the key, in ms: it waits for the
   * completion message and polls L2 with backoff, then loads locally.
   * @default 5000
   */
  fleetWaitMs?: number = 5_000;
  /**
   * First delay between L2 polls while waiting for another instance's load, in ms; doubles up to
   * `pollMaxMs`.
   * @default 10
   */
  pollInitialMs?: number = 10;
  /**
   * Upper bound of the delay between L2 polls, in ms.
   * @default 200
   */
  pollMaxMs?: number = 200;
  /**
   * While the tier is unreachable this instance hears no invalidations, so its L1 may fall behind
   * the fleet. An L1 entry is then served at most this long (counted from when the tier went away,
   * or from its load if later); after that a read loads it again locally (and, if that load fails,
   * `serveStaleOnError` still applies).
   * @default 10000
   */
  maxLocalStalenessMs?: number = 10_000;
  /**
   * Invalidations kept while Redis is unreachable (newest per key), published on reconnect. When
   * more keys are queued the instance treats its L1 as stale on reconnect instead of losing them.
   * @default 10000
   */
  maxQueuedInvalidations?: number = 10_000;
  /**
   * This instance's name in L2 entries and bus messages (the `origin`). Must be unique in the fleet.
   * @default a random UUID
   */
  instanceId?: string = randomUUID();
  /**
   * Encodes shared values for L2. Every instance of a fleet must use the same codec.
   * @default new JsonTierCodec()
   */
  codec?: TierCodec = new JsonTierCodec();
}

/** Options after validation: every field present. */
export type ResolvedRedisTierOptions = Required<Omit<RedisTierOptions, 'url' | 'client'>> &
  Pick<RedisTierOptions, 'url' | 'client'>;

const check: OptionChecker = new OptionChecker((option, given, allowed) =>
  RedisTierConfigError.create(option, given, allowed),
);

/** Validates `given` against `RedisTierOptions`; rejects unknown keys and bad values by name. */
export function resolveRedisTierOptions(given: unknown): ResolvedRedisTierOptions {
  const defaults = new RedisTierOptions();
  if (given === undefined) given = {};
  check.object('', given);
  check.knownKeys(given, Object.keys(defaults));
  const o = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(given)) if (v !== undefined) o[k] = v;
  const r = o as ResolvedRedisTierOptions;
  if (r.url !== undefined) check.string('url', r.url);
  if (r.url !== undefined && r.client !== undefined)
    throw check.error('client', r.client, RedisTierMessages.urlAndClient);
  if (r.client !== undefined) {
    const c = r.client as unknown as Record<string, unknown> | null;
    if (
      c === null ||
      typeof c !== 'object' ||
      typeof c.duplicate !== 'function' ||
      typeof c.evalsha !== 'function'
    )
      throw check.error('client', r.client, RedisTierMessages.notAClient);
  }
  check.string('prefix', r.prefix);
  check.integer('commandTimeoutMs', r.commandTimeoutMs, 1, 60_000);
  check.integer('connectTimeoutMs', r.connectTimeoutMs, 1, 600_000);
  check.integer('breakerThreshold', r.breakerThreshold, 1, 1_000);
  check.integer('breakerOpenMs', r.breakerOpenMs, 1, 600_000);
  check.integer('l2TtlMs', r.l2TtlMs, 1, Number.MAX_SAFE_INTEGER, true);
  check.integer('streamMaxLen', r.streamMaxLen, 10, 100_000_000);
  check.integer('busBlockMs', r.busBlockMs, 10, 60_000);
  check.integer('leaseMs', r.leaseMs, 30, 3_600_000);
  check.integer('maxLeaseHoldMs', r.maxLeaseHoldMs, 1, 86_400_000);
  check.integer('fleetWaitMs', r.fleetWaitMs, 0, 3_600_000);
  check.integer('pollInitialMs', r.pollInitialMs, 1, 60_000);
  check.integer('pollMaxMs', r.pollMaxMs, r.pollInitialMs, 60_000);
  check.integer('maxLocalStalenessMs', r.maxLocalStalenessMs, 0, Number.MAX_SAFE_INTEGER, true);
  check.integer('maxQueuedInvalidations', r.maxQueuedInvalidations, 0, 10_000_000);
  check.string('instanceId', r.instanceId);
  const codec = r.codec as unknown as Record<string, unknown> | null;
  if (
    codec === null ||
    typeof codec !== 'object' ||
    typeof codec.encode !== 'function' ||
    typeof codec.decode !== 'function'
  )
    throw check.error('codec', r.codec, 'a TierCodec (an object with encode and decode methods)');
  return r;
}
