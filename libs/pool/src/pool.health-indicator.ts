/**
 * Terminus adapter for pool health. `@nestjs/terminus` is an OPTIONAL peer: this file imports it
 * only as types (erased at compile time), and `TerminusReporter` (`@reservoir/core`) loads it
 * lazily, on the first `isHealthy()` call, so importing `@reservoir/pool` never requires terminus at
 * run time. Only apps that actually provide `PoolHealthIndicator` (and so have terminus installed
 * for their `/health` route) load it.
 */
import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { TerminusReporter, type ReservoirHealthResult } from '@reservoir/core';
import { DEFAULT_POOL_NAME } from './pool.constants';
import { PoolRegistry } from './pool.registry';
import type { PoolHealthState, PoolOccupancy } from './pool.types';

/** Options of `PoolHealthIndicator.isHealthy`. @publicApi */
export interface PoolHealthCheckOptions {
  /** Name of the pool to check. @default 'default' */
  pool?: string;
}

/** What the indicator reports next to `status`. @publicApi */
export interface PoolHealthDetails extends Record<string, unknown>, PoolOccupancy {
  pool: string;
  state: PoolHealthState | 'MISSING';
  /** inUse / max, rounded to 3 decimals. */
  utilization: number;
  reasons: string[];
  /** Whether the pool is failing its callers (what decides `down`). */
  failing: boolean;
}

/**
 * Maps a pool's `health()` onto Terminus so that a readiness probe acts only when this instance is
 * failing its callers (`health().failing`):
 * - `failing` (closed; acquire timeouts or create failures past their thresholds within the
 *   window; or UNHEALTHY without a break for `health.failingAfterMs` with callers waiting past
 *   `health.degradedWaitP99Ms`), or no such pool → `down`
 *   (HTTP 503);
 * - otherwise `HEALTHY` → `up` (HTTP 200, `"status":"ok"`);
 * - otherwise `DEGRADED`, or `UNHEALTHY` that is not (yet) failing (a saturated pool still serving
 *   everyone in time) → `degraded` on Terminus 12 (HTTP 200, top-level `"status":"degraded"`), and
 *   `up` with the `state` in the details on Terminus 11.1, which has no degraded status.
 *
 * Provide it next to `TerminusModule` in the module that serves `/health`.
 *
 * @publicApi
 * @example
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.pools.isHealthy('pool', { pool: 'main' })]); }
 * ```
 */
@Injectable()
export class PoolHealthIndicator {
  private readonly terminus: TerminusReporter;

  constructor(
    private readonly registry: PoolRegistry,
    moduleRef: ModuleRef,
  ) {
    this.terminus = new TerminusReporter(moduleRef);
  }

  async isHealthy(key: string, options: PoolHealthCheckOptions = {}): Promise<ReservoirHealthResult> {
    const name = options.pool ?? DEFAULT_POOL_NAME;
    const pool = this.registry.get(name);
    if (!pool) {
      const known = this.registry.names();
      return this.terminus.report(key, 'UNHEALTHY', {
        pool: name,
        state: 'MISSING',
        utilization: 0,
        size: 0,
        idle: 0,
        inUse: 0,
        pending: 0,
        max: 0,
        failing: true,
        reasons: [
          `no pool named ${JSON.stringify(name)} is registered` +
            (known.length ? ` (registered: ${known.join(', ')})` : ''),
        ],
      } satisfies PoolHealthDetails);
    }
    const health = pool.health();
    const stats = pool.stats();
    const details: PoolHealthDetails = {
      pool: name,
      state: health.state,
      utilization: Math.round(health.utilization * 1000) / 1000,
      size: stats.size,
      idle: stats.idle,
      inUse: stats.inUse,
      pending: stats.pending,
      max: stats.max,
      reasons: health.reasons,
      failing: health.failing,
    };
    const grade = health.failing ? 'UNHEALTHY' : health.state === 'UNHEALTHY' ? 'DEGRADED' : health.state;
    return this.terminus.report(key, grade, details);
  }
}
