/**
 * Terminus adapter for lazy-resource health. `@nestjs/terminus` is an OPTIONAL peer: this file imports
 * it only as types, and `TerminusReporter` (`@reservoir/core`) loads it on the first `isHealthy()`
 * call, so importing `@reservoir/lazy` never requires terminus at run time.
 */
import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { type HealthGrade, type ReservoirHealthResult, TerminusReporter } from '@reservoir/core';
import { LazyLoader } from './lazy-loader.service';
import type { LazyStats } from './lazy-loader.core';
import { resolveHealthOptions, type LazyHealthCheckOptions } from './lazy.options';

export type LazyHealthState = HealthGrade;

/** What the indicator reports next to `status`. @publicApi */
export interface LazyHealthDetails extends Record<string, unknown> {
  state: LazyHealthState;
  resources: number;
  /** Resources that are not healthy, with why. */
  problems: { resource: string; state: Exclude<LazyHealthState, 'HEALTHY'>; reason: string }[];
  /** Each resource's latest version, from the loader's `VersionSource` (via `stats()`). */
  versions: Record<string, number>;
}

/** What the health evaluation reads: `LazyLoader` and `LazyLoaderCore` both fit. @publicApi */
export interface LazyHealthSource {
  now(): number;
  stats(): LazyStats;
}

/**
 * Grades every registered resource:
 * - UNHEALTHY: a `required` resource has no cached value and its last load failed;
 * - DEGRADED: a resource has served stale values and no load succeeded for `staleGraceMs`, or
 *   `failureThreshold` loads in a row failed;
 * - HEALTHY otherwise. The worst resource decides.
 */
export function evaluateLazyHealth(
  loader: LazyHealthSource,
  options: LazyHealthCheckOptions = {},
): LazyHealthDetails {
  const o = resolveHealthOptions(options);
  const now = loader.now();
  const stats = loader.stats();
  const problems: LazyHealthDetails['problems'] = [];
  const versions: Record<string, number> = {};
  for (const s of Object.values(stats.resources)) {
    versions[s.resource] = s.latestVersion;
    if (s.required && s.entries === 0 && s.consecutiveFailures > 0) {
      problems.push({
        resource: s.resource,
        state: 'UNHEALTHY',
        reason: `required resource has no value: ${s.consecutiveFailures} load(s) failed in a row (${s.lastError})`,
      });
    } else if (s.consecutiveFailures >= o.failureThreshold) {
      problems.push({
        resource: s.resource,
        state: 'DEGRADED',
        reason: `${s.consecutiveFailures} loads failed in a row (${s.lastError})`,
      });
    } else if (s.staleServingSince !== undefined && now - s.staleServingSince >= o.staleGraceMs) {
      problems.push({
        resource: s.resource,
        state: 'DEGRADED',
        reason: `stale values served for ${Math.round(now - s.staleServingSince)} ms without a successful refresh`,
      });
    }
  }
  // The tier unreachable: hits come from L1 and misses load locally, so the service works, degraded.
  if (stats.shared !== undefined && stats.shared.state !== 'connected') {
    problems.push({
      resource: 'shared-tier',
      state: 'DEGRADED',
      reason: `shared tier ${stats.shared.state}: serving from L1 and loading locally, ${stats.shared.queuedInvalidations} invalidation(s) queued`,
    });
  }
  const state: LazyHealthState = problems.some((p) => p.state === 'UNHEALTHY')
    ? 'UNHEALTHY'
    : problems.length > 0
      ? 'DEGRADED'
      : 'HEALTHY';
  return { state, resources: Object.keys(stats.resources).length, problems, versions };
}

/**
 * Maps `evaluateLazyHealth()` onto Terminus:
 * - HEALTHY → `up` (HTTP 200);
 * - DEGRADED → `degraded` on Terminus 12 (HTTP 200, top-level `"status":"degraded"`), and `up` with
 *   `state: 'DEGRADED'` on Terminus 11.1, which has no degraded status;
 * - UNHEALTHY → `down` (HTTP 503).
 *
 * Provide it next to `TerminusModule` in the module that serves `/health`.
 *
 * @publicApi
 * @example
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.lazy.isHealthy('lazy')]); }
 * ```
 */
@Injectable()
export class LazyHealthIndicator {
  private readonly terminus: TerminusReporter;

  constructor(
    private readonly loader: LazyLoader,
    moduleRef: ModuleRef,
  ) {
    this.terminus = new TerminusReporter(moduleRef);
  }

  async isHealthy(key = 'lazy', options: LazyHealthCheckOptions = {}): Promise<ReservoirHealthResult> {
    const details = evaluateLazyHealth(this.loader, options);
    return this.terminus.report(key, details.state, details);
  }
}
