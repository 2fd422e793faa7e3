import { Controller, Get, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { LazyModule, LazyLoader } from '@reservoir/lazy';
import { PoolModule } from '@reservoir/pool';
import { TenantModule } from '@reservoir/tenant';
import { ReservoirMetrics } from './metrics.service';
import { ReservoirMetricsModule } from './metrics.module';

@Controller('tenanted')
class TenantedController {
  @Get()
  hello() {
    return 'hi';
  }
}

const factory = { create: async () => ({}), destroy: () => undefined };

describe('ReservoirMetricsModule', () => {
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(imports: unknown[]): Promise<INestApplication> {
    const ref = await Test.createTestingModule({
      imports: imports as never[],
      controllers: [TenantedController],
    }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  it('serves every registered pool and the lazy loader at /metrics, with no tenant header needed', async () => {
    const a = await boot([
      TenantModule.forRoot({}),
      PoolModule.forRoot({ name: 'orders', factory, min: 1, max: 3 }),
      PoolModule.forRoot({ name: 'reports', factory, min: 0, max: 2 }),
      LazyModule.forRoot({ tenantScoped: false }),
      ReservoirMetricsModule.forRoot({}),
    ]);
    a.get(LazyLoader).register('flags', () => ({ on: true }));
    await a.get(LazyLoader).get('flags');
    await request(a.getHttpServer()).get('/tenanted').expect(400); // the tenant interceptor is on
    const res = await request(a.getHttpServer()).get('/metrics').expect(200);
    // Express 4 (NestJS 11) and 5 (NestJS 12) order the content-type parameters differently.
    expect(res.headers['content-type']).toMatch(/^text\/plain;/);
    expect(res.headers['content-type']).toContain('version=0.0.4');
    expect(res.text).toContain('reservoir_pool_connections_max{pool="orders"} 3');
    expect(res.text).toContain('reservoir_pool_connections_max{pool="reports"} 2');
    expect(res.text).toContain('reservoir_lazy_loads_total{resource="flags"} 1');
  });

  it('forRootAsync with a custom path and a shared registry', async () => {
    const registry = new Registry();
    const a = await boot([
      PoolModule.forRoot({ factory, max: 5 }),
      ReservoirMetricsModule.forRootAsync({
        path: '/internal/prom',
        useFactory: () => ({ registry, prefix: 'x_' }),
      }),
    ]);
    await request(a.getHttpServer()).get('/metrics').expect(404);
    const res = await request(a.getHttpServer()).get('/internal/prom').expect(200);
    expect(res.text).toContain('x_pool_connections_max{pool="default"} 5');
    expect(a.get(ReservoirMetrics).registry).toBe(registry);
  });

  it('path: false registers no route; ReservoirMetrics.metrics() still works', async () => {
    const a = await boot([
      PoolModule.forRoot({ factory, max: 2 }),
      ReservoirMetricsModule.forRoot({ path: false }),
    ]);
    await request(a.getHttpServer()).get('/metrics').expect(404);
    expect(await a.get(ReservoirMetrics).metrics()).toContain(
      'reservoir_pool_connections_max{pool="default"} 2',
    );
  });
});
