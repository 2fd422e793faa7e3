import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LazyHealthIndicator, LazyModule } from '@reservoir/lazy';
import { ReservoirMetricsModule } from '@reservoir/metrics';
import { PoolHealthIndicator, PoolModule, pgClientFactory, pgTenantBinding } from '@reservoir/pool';
import { TenantModule } from '@reservoir/tenant';
import {
  HealthController,
  NotesController,
  NotesRepository,
  POOL,
  ProfileService,
  ShutdownReport,
} from './notes.js';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is not set');

@Module({
  imports: [
    TenantModule.forRoot(),
    PoolModule.forRoot({
      name: POOL,
      factory: pgClientFactory(databaseUrl, { applicationName: process.env.APP_NAME ?? 'consumer' }),
      min: 1,
      max: 4,
      acquireTimeoutMs: 5_000,
      requireTenant: true,
      tenantBinding: pgTenantBinding({ setting: 'app.organisation_id' }),
    }),
    LazyModule.forRoot({ maxEntries: 1_000 }),
    TerminusModule,
    ReservoirMetricsModule.forRoot({}),
  ],
  controllers: [NotesController, HealthController],
  providers: [NotesRepository, ProfileService, PoolHealthIndicator, LazyHealthIndicator, ShutdownReport],
})
export class AppModule {}
