/**
 * GET /health (Terminus):
 * - `pool`: PoolHealthIndicator on the main pool: HEALTHY → up, DEGRADED (≥ 70 % in use) →
 *   degraded (HTTP 200, `"status":"degraded"` on Terminus 12), UNHEALTHY (saturated, timeouts,
 *   failing creates) → down (HTTP 503);
 * - `lazy`: LazyHealthIndicator (a required resource without value → down; stale or failing → degraded);
 * - `database`: `SELECT 1` through the pool, bounded by HEALTH_PING_TIMEOUT_MS. When the pool has
 *   no free connection the ping is skipped and reported up with `skipped: true`: a probe must not
 *   queue behind the traffic it is judging (and add timeouts to it), and every connection being busy
 *   proves the database answers. A database that stops answering shows as acquire timeouts or
 *   failed creates, which make the pool entry down (its `failing` rule).
 *
 * Wire it to a Kubernetes readiness probe, not liveness: a saturated pool should take the pod out
 * of the Service, not restart it.
 */
import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { LazyHealthIndicator } from '@reservoir/lazy';
import { PoolHealthIndicator, PoolRegistry } from '@reservoir/pool';
import { SkipTenant } from '@reservoir/tenant';
import { DEMO_CONFIG, type DemoConfig } from '../config';
import { MAIN_POOL, PROJECTS_REPOSITORY, type ProjectsRepository } from '../db/db.types';

@SkipTenant()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly pools: PoolHealthIndicator,
    private readonly lazy: LazyHealthIndicator,
    private readonly registry: PoolRegistry,
    @Inject(PROJECTS_REPOSITORY) private readonly repo: ProjectsRepository,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    // Terminus runs indicators concurrently; the ping waits for the pool reading, so its own lease
    // never shows up in the pool's numbers.
    let poolRead: Promise<unknown> = Promise.resolve();
    return this.health.check([
      () => {
        const result = this.pools.isHealthy('pool', { pool: MAIN_POOL });
        poolRead = result.catch(() => undefined);
        return result;
      },
      () => this.lazy.isHealthy('lazy'),
      async () => {
        await poolRead;
        return this.ping();
      },
    ]);
  }

  private async ping() {
    const check = this.indicators.check('database');
    const details = { database: this.repo.kind, timeoutMs: this.config.pingTimeoutMs };
    const stats = this.registry.get(MAIN_POOL)?.stats();
    if (stats && stats.idle === 0 && stats.size + stats.creating >= stats.max) {
      return check.up({ ...details, skipped: true, message: 'skipped: every connection is busy' });
    }
    const started = performance.now();
    try {
      await this.repo.ping(this.config.pingTimeoutMs);
      return check.up({ ...details, latencyMs: Math.round((performance.now() - started) * 10) / 10 });
    } catch (err) {
      return check.down({ ...details, message: err instanceof Error ? err.message : String(err) });
    }
  }
}
