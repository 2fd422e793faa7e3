/**
 * The one place pool defaults live. `pool.types.ts` documents each with `@default`; the abuse spec
 * checks the two agree, so change both together.
 */
export const POOL_DEFAULTS = {
  name: 'default',
  min: 0,
  max: 10,
  acquireTimeoutMs: 30_000,
  createTimeoutMs: 10_000,
  idleTimeoutMs: 600_000,
  maxLifetimeMs: 1_800_000,
  maxLifetimeJitter: 0.025,
  validateAfterIdleMs: 500,
  maxWaiting: Infinity,
  leakDetectionMs: 0,
  shutdownTimeoutMs: 30_000,
  maintenanceIntervalMs: 1000,
  requireTenant: false,
  maxPerTenant: Infinity,
  maxTrackedTenants: 1000,
  autoSize: false,
  createRetry: {
    initialDelayMs: 10,
    maxDelayMs: 5000,
    factor: 2,
    jitter: 0.5,
  },
  health: {
    degradedUtilization: 0.7,
    unhealthyUtilization: 1,
    degradedWaitP99Ms: 1000,
    unhealthyTimeouts: 1,
    unhealthyCreateFailures: 3,
    windowMs: 10_000,
    failingAfterMs: 30_000,
  },
} as const;

/** setTimeout's upper bound; larger delays fire immediately in Node. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Internal sampling: 1 in N leases reads the precise clock for hold/wait percentiles. Power of two. */
export const SAMPLE_EVERY = 8;

/** Every lease is sampled until the hold window holds this many samples (exact stats on a quiet pool). */
export const MIN_SAMPLES = 64;

/**
 * Internal: how many waits may take their start time from one precise clock read, within the same
 * run of already-queued microtasks (the read is invalidated when those have run).
 */
export const CLOCK_REUSE = 32;

/** Per-tenant wait samples kept for the tenant's p99. */
export const TENANT_SAMPLE_WINDOW = 64;
