/**
 * `autoSize` options. The class initialisers are the defaults (the one place they live); the
 * validator derives its key list from an instance, so a new option cannot be forgotten there.
 */
import { type OptionChecker } from '@reservoir/core';
import { MAX_TIMER_MS } from '../pool.defaults';
import {
  type FleetBudgetOptions,
  type ResolvedFleetBudgetOptions,
  resolveFleetBudgetOptions,
} from './fleet-budget';

/**
 * Tuning of the opt-in pool auto-sizing controller (`new Pool({ autoSize: true | AutoSizeOptions })`).
 * Every field is optional; the initialisers below are the defaults. The reasoning behind each rule
 * is in docs/design.md ("Pool auto-sizing").
 *
 * @publicApi
 */
export class AutoSizeOptions {
  /** Length of one controller window: signals are collected per window and the limit moves at most once per window. @default 1000 */
  windowMs?: number = 1000;
  /** The limit the pool starts with, between `min` and `max`. Undefined means `max`: the pool starts like a fixed pool and decays toward observed peak use. @default undefined (= max) */
  initialLimit?: number = undefined;
  /** A window shows demand when callers are still waiting at its end, or its acquire-wait p95 exceeds this many ms. @default 20 */
  demandWaitP95Ms?: number = 20;
  /** Consecutive demand windows needed before the limit grows (hysteresis). @default 2 */
  growAfterWindows?: number = 2;
  /** A window is congested when its median hold time exceeds the healthy baseline by this ratio; a congested pool never grows. @default 1.5 */
  congestionRatio?: number = 1.5;
  /** Weight of a new, lower hold-time median in the baseline (the baseline falls quickly). @default 0.2 */
  baselineAlpha?: number = 0.2;
  /** Fraction by which the baseline may rise per window (slowly, so a slowdown is not mistaken for the new normal within minutes). @default 0.005 */
  baselineDrift?: number = 0.005;
  /** Hold-time samples a window needs before it counts for the baseline; the pool also samples at least this many leases per window (a larger value samples more leases, up to every one). @default 8 */
  minHoldSamples?: number = 8;
  /** Multiplicative back-off applied to the limit on acquire timeouts and create failures (PostgreSQL 53300 included). @default 0.8 */
  backoffFactor?: number = 0.8;
  /** Windows after a back-off during which the limit does not grow. @default 5 */
  cooldownWindows?: number = 5;
  /** Square-root staffing margin: the Little's-law size is L + littleSafety·√L, with L = arrival rate × baseline hold time. @default 4 */
  littleSafety?: number = 4;
  /** Windows without demand before the limit decays toward the observed peak use of that period. @default 30000 */
  decayAfterMs?: number = 30_000;
  /** Fraction of the gap between limit and peak use closed per window while decaying (smoothing). @default 0.25 */
  decayFactor?: number = 0.25;
  /** A capacity budget shared through Redis with every pool using the same key (see `FleetBudgetOptions`). @default undefined (no fleet budget) */
  fleet?: FleetBudgetOptions = undefined;
}

export type ResolvedAutoSizeOptions = Required<Omit<AutoSizeOptions, 'initialLimit' | 'fleet'>> & {
  initialLimit: number;
  fleet: ResolvedFleetBudgetOptions | undefined;
  min: number;
  max: number;
};

const DEFAULTS = new AutoSizeOptions();
const KEYS = Object.keys(DEFAULTS) as (keyof AutoSizeOptions)[];

/** Applies the defaults of `AutoSizeOptions` (what `stats().sizing` uses when auto-sizing is off). */
export function autoSizeDefaults(min: number, max: number): ResolvedAutoSizeOptions {
  return { ...(DEFAULTS as Required<AutoSizeOptions>), initialLimit: max, fleet: undefined, min, max };
}

/**
 * Validates `autoSize` (`true`, `false`, `undefined` or an `AutoSizeOptions` object); returns
 * undefined when auto-sizing is off. `c` reports errors as `autoSize.<key>`.
 */
export function resolveAutoSizeOptions(
  c: OptionChecker,
  value: unknown,
  min: number,
  max: number,
): ResolvedAutoSizeOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return autoSizeDefaults(min, max);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw c.error('autoSize', value, 'true, false or an object (AutoSizeOptions)');
  }
  const a = c.nested('autoSize');
  a.knownKeys(value, KEYS);
  const v = value as Record<string, unknown>;
  const d = DEFAULTS as Required<AutoSizeOptions>;
  const pick = <K extends keyof AutoSizeOptions>(k: K): unknown => (v[k] === undefined ? d[k] : v[k]);
  const floor = Math.max(1, min);
  const initialLimit =
    v.initialLimit === undefined ? max : a.integer('initialLimit', v.initialLimit, floor, max);
  const growAfterWindows = a.integer('growAfterWindows', pick('growAfterWindows'), 1, 1000);
  return {
    windowMs: a.integer('windowMs', pick('windowMs'), 10, MAX_TIMER_MS),
    initialLimit,
    demandWaitP95Ms: a.number('demandWaitP95Ms', pick('demandWaitP95Ms'), 0),
    growAfterWindows,
    congestionRatio: a.number('congestionRatio', pick('congestionRatio'), 1, 100),
    baselineAlpha: a.number('baselineAlpha', pick('baselineAlpha'), 0.001, 1),
    baselineDrift: a.number('baselineDrift', pick('baselineDrift'), 0, 1),
    minHoldSamples: a.integer('minHoldSamples', pick('minHoldSamples'), 1, 100_000),
    backoffFactor: a.number('backoffFactor', pick('backoffFactor'), 0.1, 0.99),
    cooldownWindows: a.integer('cooldownWindows', pick('cooldownWindows'), 0, 1000),
    littleSafety: a.number('littleSafety', pick('littleSafety'), 0, 100),
    decayAfterMs: a.integer('decayAfterMs', pick('decayAfterMs'), 0, MAX_TIMER_MS),
    decayFactor: a.number('decayFactor', pick('decayFactor'), 0.01, 1),
    fleet: resolveFleetBudgetOptions(a, v.fleet, min),
    min,
    max,
  };
}
