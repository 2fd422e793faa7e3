import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LazyHealthIndicator, LazyModule } from '@reservoir/lazy';
import type { RedisTier } from '@reservoir/lazy/redis';
import { ReservoirMetricsModule } from '@reservoir/metrics';
import { PoolExceptionFilter, PoolHealthIndicator } from '@reservoir/pool';
import { TenantModule } from '@reservoir/tenant';
import { DEMO_CONFIG, type DemoConfig, loadConfig } from './config';
import { DashboardController } from './dashboard/dashboard.controller';
import { DashboardService } from './dashboard/dashboard.service';
import { DatabaseModule } from './db/database.module';
import { HealthController } from './health/health.controller';
import { HttpDrain } from './http-drain.service';
import { DemoLeases } from './load/demo-leases.service';
import { DemoController } from './load/demo.controller';
import { LoadService } from './load/load.service';
import { ProjectsController } from './projects/projects.controller';
import { PricingService, TenantSettingsService } from './settings/lazy-resources.service';
import { DEMO_SHARED_TIER, SharedTierModule } from './shared/shared-tier.module';

/**
 * The Reservoir demo: "projects and tasks per organisation".
 * - TenantModule: `x-organisation-id` on every route except /health, /metrics, /dashboard, /demo.
 * - DatabaseModule: PoolModule pools of SQLite connections (default) or pg clients with RLS.
 * - LazyModule: per-tenant settings/flags and a slow, preloaded pricing table, with versions;
 *   with REDIS_URL, shared across instances through a `RedisTier` (SharedTierModule).
 * - ReservoirMetricsModule: Prometheus /metrics for the pools and the lazy loader.
 * - Terminus /health, the live /dashboard, and POST /demo/load.
 * - PoolExceptionFilter (global): pool saturation and lost connections answer 503 + Retry-After.
 */
@Module({})
export class AppModule {
  static forRoot(config: DemoConfig = loadConfig()): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TenantModule.forRoot({}),
        TerminusModule.forRoot({ errorLogStyle: 'pretty' }),
        DatabaseModule.forRoot(config),
        LazyModule.forRootAsync({
          imports: [SharedTierModule.forRoot(config)],
          inject: [DEMO_SHARED_TIER],
          useFactory: (tier: RedisTier | null) => ({
            retry: { attempts: 3 },
            ...(tier !== null && { shared: tier }),
          }),
        }),
        ReservoirMetricsModule.forRoot({
          perTenant: { enabled: config.metricsPerTenant, maxTenants: 20 },
          defaultMetrics: true,
        }),
      ],
      controllers: [HealthController, ProjectsController, DemoController, DashboardController],
      providers: [
        { provide: DEMO_CONFIG, useValue: config },
        // A saturated pool or a lost database connection is a 503 with Retry-After, not a 500.
        { provide: APP_FILTER, useClass: PoolExceptionFilter },
        PoolHealthIndicator,
        LazyHealthIndicator,
        TenantSettingsService,
        PricingService,
        LoadService,
        DemoLeases,
        DashboardService,
        HttpDrain,
      ],
    };
  }
}
