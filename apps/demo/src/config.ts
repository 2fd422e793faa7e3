/**
 * The demo's configuration, read once from the environment. Defaults live here and nowhere else;
 * README.md ("Configuration (environment variables)") lists every variable.
 */
import { resolve } from 'node:path';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface DemoConfig {
  /** HTTP port. env PORT @default 3000 */
  port: number;
  /** 'postgres' when DATABASE_URL is a postgres:// URL, else the embedded SQLite. */
  database: DatabaseKind;
  /** env DATABASE_URL (postgres:// or postgresql://). */
  databaseUrl?: string;
  /** Directory of the SQLite file. env DATA_DIR @default ./data */
  dataDir: string;
  /** Max connections of the main pool ('db'). env DB_POOL_MAX @default 10 */
  poolMax: number;
  /**
   * Cap on the main pool's connections one organisation holds at once (`maxPerTenant`), so one slow
   * tenant cannot take the whole pool: its extra requests queue behind its own, and other tenants
   * are still served. Half the pool, so two busy tenants can still fill it (and /health reports the
   * saturation). env DB_POOL_MAX_PER_TENANT (1 to DB_POOL_MAX) @default max(1, floor(DB_POOL_MAX / 2))
   */
  poolMaxPerTenant: number;
  /** Connections prefilled at start. env DB_POOL_MIN @default 2 */
  poolMin: number;
  /** Acquire timeout of the main pool. env DB_ACQUIRE_TIMEOUT_MS @default 5000 */
  acquireTimeoutMs: number;
  /**
   * Window of the pool's wait/timeout health rules. The library default is 60 s; the demo uses
   * 10 s so a visitor sees it recover soon after a load run. env POOL_HEALTH_WINDOW_MS @default 10000
   */
  healthWindowMs: number;
  /** Timeout of the /health database ping. env HEALTH_PING_TIMEOUT_MS @default 1000 */
  pingTimeoutMs: number;
  /** Simulated latency of the slow pricing table loader. env PRICING_LOAD_MS @default 400 */
  pricingLoadMs: number;
  /** Per-tenant metric series (bounded). env METRICS_PER_TENANT @default true */
  metricsPerTenant: boolean;
  /** Opt-in auto-sizing of the main pool (the dashboard then draws its limit). env DB_POOL_AUTOSIZE @default false */
  poolAutoSize: boolean;
  /**
   * The shared lazy tier: with a redis:// (or rediss://) URL the lazy resources are shared across
   * every demo instance on the same Redis and prefix (one version per entry, fleet-wide
   * invalidation, one load per cold key). Unset = each instance caches on its own. env REDIS_URL
   */
  redisUrl?: string;
  /**
   * Prefix of the shared tier's Redis keys: instances share settings and versions exactly when they
   * share the prefix. env REDIS_PREFIX @default 'reservoir:demo'
   */
  redisPrefix: string;
}

function int(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`Invalid ${key}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}.`);
  }
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const url = env.DATABASE_URL?.trim();
  const isPg = !!url && /^postgres(ql)?:\/\//i.test(url);
  if (url && !isPg) {
    throw new Error(
      `DATABASE_URL must be a postgres:// URL (got ${JSON.stringify(url.split(':')[0] + ':…')}); ` +
        'unset it to use the embedded SQLite database.',
    );
  }
  const redisUrl = env.REDIS_URL?.trim();
  if (redisUrl && !/^rediss?:\/\//i.test(redisUrl)) {
    throw new Error(
      `REDIS_URL must be a redis:// or rediss:// URL (got ${JSON.stringify(redisUrl.split(':')[0] + ':…')}); ` +
        'unset it to keep the lazy resources local to this instance.',
    );
  }
  const redisPrefix = env.REDIS_PREFIX?.trim() || 'reservoir:demo';
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(redisPrefix)) {
    throw new Error(
      `Invalid REDIS_PREFIX=${JSON.stringify(redisPrefix)}: expected 1 to 64 characters of A-Z a-z 0-9 : _ . -`,
    );
  }
  const poolMax = int(env, 'DB_POOL_MAX', 10, 1, 100);
  return {
    port: int(env, 'PORT', 3000, 0, 65535),
    database: isPg ? 'postgres' : 'sqlite',
    ...(isPg && { databaseUrl: url }),
    dataDir: resolve(env.DATA_DIR || 'data'),
    poolMax,
    poolMaxPerTenant: int(env, 'DB_POOL_MAX_PER_TENANT', Math.max(1, Math.floor(poolMax / 2)), 1, poolMax),
    poolMin: Math.min(poolMax, int(env, 'DB_POOL_MIN', 2, 0, 100)),
    acquireTimeoutMs: int(env, 'DB_ACQUIRE_TIMEOUT_MS', 5000, 50, 600_000),
    healthWindowMs: int(env, 'POOL_HEALTH_WINDOW_MS', 10_000, 1000, 3_600_000),
    pingTimeoutMs: int(env, 'HEALTH_PING_TIMEOUT_MS', 1000, 10, 60_000),
    pricingLoadMs: int(env, 'PRICING_LOAD_MS', 400, 0, 60_000),
    metricsPerTenant: env.METRICS_PER_TENANT !== 'false',
    poolAutoSize: env.DB_POOL_AUTOSIZE === 'true',
    ...(redisUrl && { redisUrl }),
    redisPrefix,
  };
}

/** DI token of the DemoConfig. */
export const DEMO_CONFIG = 'DEMO:CONFIG';

/** Health thresholds of the main pool; the dashboard draws the same lines. */
export const MAIN_POOL_THRESHOLDS = { degraded: 0.7, unhealthy: 1 } as const;
