import { type CreateRetryOptions, type PoolHealthThresholds, PoolOptions } from './pool.types';

/** Options that have no default value (a function or object only the user can supply). */
type NoDefault = 'factory' | 'tenantResolver' | 'tenantBinding' | 'logger' | 'metricsTracker';
type Scalars = Exclude<keyof PoolOptions<unknown>, NoDefault | 'createRetry' | 'health' | 'autoSize'>;

/** The shape of `POOL_DEFAULTS`: every option that has a default, nested groups included. */
export type PoolDefaults = { readonly [K in Scalars]-?: NonNullable<PoolOptions<unknown>[K]> } & {
  readonly createRetry: Readonly<Required<CreateRetryOptions>>;
  readonly health: Readonly<Required<PoolHealthThresholds>>;
  readonly autoSize: boolean;
};

/** An option instance's defined fields as a frozen plain object (nested option groups too). */
function plain(instance: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(instance)) {
    if (value === undefined) continue;
    out[key] = typeof value === 'object' && value !== null ? plain(value) : value;
  }
  return Object.freeze(out);
}

/**
 * The pool defaults, read off `new PoolOptions()`: the option classes in `pool.types.ts` are the one
 * place defaults are written down, and this constant (kept for existing users) is derived from them.
 *
 * @publicApi
 */
export const POOL_DEFAULTS: PoolDefaults = plain(new PoolOptions<unknown>()) as unknown as PoolDefaults;

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
