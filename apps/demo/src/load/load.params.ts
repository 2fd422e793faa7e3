/**
 * Parameters of a demo load run: their bounds and defaults (one table), the validation of a
 * `POST /demo/load` body, and the concurrency ramp that walks the main pool through
 * HEALTHY → DEGRADED → UNHEALTHY before the run ends and it recovers.
 */
import { BadRequestException } from '@nestjs/common';
import { LoadMessages } from './load.messages';

/** Bounds of every load parameter: [min, default, max], all integers. */
export const LOAD_LIMITS = {
  tenants: [1, 4, 20],
  /** Peak number of workers (reached in the last stage of the ramp). */
  concurrency: [1, 12, 64],
  /** Whole run; each of the three ramp stages gets a third. */
  durationMs: [500, 12_000, 60_000],
  holdMs: [10, 250, 2_000],
} as const;

export type LoadParam = keyof typeof LOAD_LIMITS;
export type LoadParams = Record<LoadParam, number>;

const PARAMS = Object.keys(LOAD_LIMITS) as LoadParam[];

/** Own keys only: `constructor`, `__proto__` and the like are not parameters. */
function isParam(key: string): key is LoadParam {
  return Object.hasOwn(LOAD_LIMITS, key);
}

/**
 * Checks a request body: a JSON object (or nothing) whose own keys are known parameters with
 * integer values inside their bounds. Throws a 400 naming the parameter, the value and what is
 * allowed; returns only what was given (defaults are applied by `withLoadDefaults`).
 */
export function parseLoadBody(body: unknown): Partial<LoadParams> {
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestException(LoadMessages.notAnObject());
  }
  const out: Partial<LoadParams> = {};
  for (const key of Object.keys(body)) {
    if (!isParam(key)) throw new BadRequestException(LoadMessages.unknownParam(key, PARAMS));
    const value: unknown = (body as Record<string, unknown>)[key];
    const [min, , max] = LOAD_LIMITS[key];
    // JSON has no Infinity literal, but 1e400 parses to it: it is out of range, not "not a number".
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw new BadRequestException(LoadMessages.notANumber(key, value));
    }
    if (value < min || value > max || !Number.isFinite(value)) {
      throw new BadRequestException(LoadMessages.outOfRange(key, value, min, max));
    }
    if (!Number.isInteger(value)) throw new BadRequestException(LoadMessages.notAnInteger(key, value));
    out[key] = value;
  }
  return out;
}

/** The given parameters, defaults for the rest. */
export function withLoadDefaults(given: Partial<LoadParams> = {}): LoadParams {
  const out = {} as LoadParams;
  for (const key of PARAMS) out[key] = given[key] ?? LOAD_LIMITS[key][1];
  return out;
}

/** From `atMs` after the start, `workers` workers run. */
export interface RampStage {
  atMs: number;
  workers: number;
  /** The main pool's state these workers produce (when `maxPerTenant` lets them all in). */
  target: 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY';
}

/**
 * Three equal stages sized from the main pool: about 60 % of the degraded threshold (HEALTHY),
 * halfway between the degraded and unhealthy thresholds (DEGRADED), then the peak `concurrency`
 * (UNHEALTHY once it exceeds `max`: callers queue). Each stage is capped at the peak, so a small
 * `concurrency` simply stops earlier in the story. Each worker holds a connection for nearly all of
 * its loop, so workers ≈ connections in use.
 */
export function rampPlan(
  params: Pick<LoadParams, 'concurrency' | 'durationMs'>,
  pool: { max: number; degraded: number; unhealthy: number },
): RampStage[] {
  const peak = params.concurrency;
  const stage = Math.floor(params.durationMs / 3);
  const healthy = Math.max(1, Math.floor(pool.max * pool.degraded * 0.6));
  const degraded = Math.max(
    healthy,
    Math.min(pool.max - 1, Math.ceil((pool.max * (pool.degraded + pool.unhealthy)) / 2)),
  );
  const target = (workers: number): RampStage['target'] =>
    workers / pool.max >= pool.unhealthy
      ? 'UNHEALTHY'
      : workers / pool.max >= pool.degraded
        ? 'DEGRADED'
        : 'HEALTHY';
  return [healthy, degraded, peak].map((w, i) => {
    const workers = Math.min(peak, w);
    return { atMs: i * stage, workers, target: target(workers) };
  });
}
