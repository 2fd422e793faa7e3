/**
 * Terminus plumbing shared by the libs' health indicators. `@nestjs/terminus` is an OPTIONAL peer:
 * this file imports it only as types (erased at compile time) and loads it on the first report, so
 * importing any Reservoir lib never requires terminus at run time. Only apps that actually run a
 * health check (and so have terminus installed for their `/health` route) load it.
 */
import type { HealthIndicatorService } from '@nestjs/terminus';

/**
 * What a Reservoir health indicator returns: Terminus' `HealthIndicatorResult`, written out here so
 * the published declarations need neither `@nestjs/terminus` nor `@nestjs/core` (both optional for
 * users who never serve `/health`). `status` is typed as the values Terminus 11.1 and 12 both accept
 * in `HealthCheckService.check()`; on Terminus 12 a DEGRADED check also reports `'degraded'` at run time.
 *
 * @publicApi
 */
export type ReservoirHealthResult<Key extends string = string> = Record<
  Key,
  { status: 'up' | 'down' } & Record<string, unknown>
>;

/** The part of Nest's `ModuleRef` the reporter uses; a `ModuleRef` satisfies it. */
export interface ModuleLookup {
  get(token: abstract new (...args: never[]) => unknown, options: { strict: boolean }): unknown;
}

/** The grades every Reservoir health evaluation ends in. */
export type HealthGrade = 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY';

/** `check(key)` of Terminus 12 has `degraded()`; 11.1 has only `up()`/`down()`. */
interface IndicatorSession {
  up(data: Record<string, unknown>): ReservoirHealthResult;
  down(data: Record<string, unknown>): ReservoirHealthResult;
  degraded?: (data: Record<string, unknown>) => ReservoirHealthResult;
}

/**
 * Reports a graded check to Terminus:
 * - HEALTHY → `up` (HTTP 200, `"status":"ok"`);
 * - DEGRADED → `degraded` on Terminus 12 (HTTP 200, top-level `"status":"degraded"`), and `up` on
 *   Terminus 11.1, which has no degraded status (the details carry the grade, e.g. `state`);
 * - UNHEALTHY → `down` (HTTP 503).
 *
 * Uses the app's `HealthIndicatorService` when `TerminusModule` is imported, else its own instance.
 * One reporter per indicator instance; terminus is loaded on the first `report()`.
 */
export class TerminusReporter {
  private service?: HealthIndicatorService;

  constructor(private readonly moduleRef: ModuleLookup) {}

  async report(
    key: string,
    grade: HealthGrade,
    details: Record<string, unknown>,
  ): Promise<ReservoirHealthResult> {
    const session = (await this.indicators()).check(key) as unknown as IndicatorSession;
    switch (grade) {
      case 'HEALTHY':
        return session.up(details);
      case 'DEGRADED':
        return session.degraded ? session.degraded(details) : session.up(details);
      default:
        return session.down(details);
    }
  }

  private async indicators(): Promise<HealthIndicatorService> {
    if (this.service) return this.service;
    const terminus = await import('@nestjs/terminus');
    let service: HealthIndicatorService;
    try {
      service = this.moduleRef.get(terminus.HealthIndicatorService, {
        strict: false,
      }) as HealthIndicatorService;
    } catch {
      service = new terminus.HealthIndicatorService();
    }
    this.service = service;
    return service;
  }
}
