import { createHash } from 'node:crypto';

/**
 * The tier's Lua scripts. Each runs atomically in Redis, which is what makes the guarantees hold:
 * a write and its version check cannot interleave with another instance's write or invalidation.
 * Entry hash fields: v = version, n = tenant namespace version at load start, o = origin, d = data.
 */
export interface TierScript {
  readonly name: string;
  readonly keys: number;
  readonly lua: string;
  readonly sha: string;
}

function script(name: string, keys: number, lua: string): TierScript {
  return { name, keys, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** Bus message: y = type, t = tenant tag, r = resource, k = key, v = version, o = origin. */
const XADD = `redis.call('XADD', KEYS[#KEYS], 'MAXLEN', '~', ARGV[1], '*', 'y', ARGV[2], 't', ARGV[3], 'r', ARGV[4], 'k', ARGV[5], 'v', tostring(v), 'o', ARGV[6])`;

/**
 * KEYS: entry, namespace. Returns {version, origin, data} or false. An entry written under an older
 * tenant namespace version is invisible, which is what makes a tenant invalidation O(1).
 */
export const READ = script(
  'read',
  2,
  `local e = redis.call('HMGET', KEYS[1], 'v', 'n', 'o', 'd')
if not e[1] then return false end
local ns = redis.call('GET', KEYS[2]) or '0'
if e[2] ~= ns then return false end
return {e[1], e[3], e[4]}`,
);

/**
 * Reserves the version of a new load (the fencing token). KEYS: counter, namespace. ARGV: floor.
 * The floor keeps versions monotonic for an instance even if Redis lost its data and the counter
 * restarted. Returns {version, namespace version}.
 */
export const RESERVE = script(
  'reserve',
  2,
  `local v = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if v <= floor then v = floor + 1; redis.call('SET', KEYS[1], v) end
return {v, tonumber(redis.call('GET', KEYS[2]) or '0')}`,
);

/**
 * Compare-and-set write of a loaded value. KEYS: entry, counter, namespace, stream.
 * ARGV: maxlen, 'set', tenant tag, resource, key, origin, version, namespace at load start, data, ttl ms (0 = none).
 * Returns 1 written, -1 a newer version was reserved or written (a stalled writer lands here),
 * -2 the tenant was invalidated since the load started. Only a written value is announced on the bus.
 */
export const WRITE = script(
  'write',
  4,
  `local v = tonumber(ARGV[7])
local ns = redis.call('GET', KEYS[3]) or '0'
if ns ~= ARGV[8] then return -2 end
local c = tonumber(redis.call('GET', KEYS[2]) or '0')
if c > v then return -1 end
local cur = redis.call('HMGET', KEYS[1], 'v', 'n')
if cur[1] and cur[2] == ns and tonumber(cur[1]) >= v then return -1 end
if c < v then redis.call('SET', KEYS[2], v) end
redis.call('HSET', KEYS[1], 'v', ARGV[7], 'n', ns, 'o', ARGV[6], 'd', ARGV[9])
if tonumber(ARGV[10]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[10]) end
${XADD}
return 1`,
);

/**
 * Invalidation of one entry: bumps its version (so any load still running cannot write), deletes the
 * entry and announces the new version. KEYS: entry, counter, stream. ARGV: maxlen, 'inv', tenant tag,
 * resource, key, origin, floor. Returns the new version.
 */
export const INVALIDATE = script(
  'invalidate',
  3,
  `local v = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[7])
if v <= floor then v = floor + 1; redis.call('SET', KEYS[2], v) end
redis.call('DEL', KEYS[1])
${XADD}
return v`,
);

/**
 * Invalidation of every entry of one tenant: one INCR of its namespace version, no key scan.
 * KEYS: namespace, stream. ARGV: maxlen, 'tenant', tenant tag, '', '', origin. Returns the new namespace version.
 */
export const INVALIDATE_TENANT = script(
  'invalidateTenant',
  2,
  `local v = redis.call('INCR', KEYS[1])
${XADD}
return v`,
);

/** KEYS: lease. ARGV: token, ms. Extends the lease only while this holder still owns it. */
export const RENEW = script(
  'renew',
  1,
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
);

/** KEYS: lease. ARGV: token. Releases the lease only if this holder still owns it. */
export const RELEASE = script(
  'release',
  1,
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);
