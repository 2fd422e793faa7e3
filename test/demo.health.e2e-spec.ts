/**
 * e2e: the demo's /health answers 200 ok, 200 degraded at 70 %; at 100 % with every caller served in
 * time the pool entry is not down (saturated is not failing); 503 with the pool down once acquires
 * time out; 200 ok again after release once the timeout has left the health window. Runs on Nest 12 + Terminus 12 and on Nest 11 + Terminus 11.1 (where the
 * DEGRADED state is reported as `ok` with `state: 'DEGRADED'`, since 11.1 has no degraded status).
 */
import type { INestApplication } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../apps/demo/src/app.module';
import { loadConfig } from '../apps/demo/src/config';
import { makeTempDir, removeTempDir } from './helpers/tmp';

const terminusHasDegraded =
  typeof (new HealthIndicatorService().check('probe') as { degraded?: unknown }).degraded === 'function';

describe('demo /health (e2e)', () => {
  let app: INestApplication;
  // The demo's default database: the embedded SQLite file, here in a throwaway directory.
  const dataDir = makeTempDir('reservoir-demo-e2e');

  beforeAll(async () => {
    const config = loadConfig({
      DATA_DIR: dataDir,
      PRICING_LOAD_MS: '0',
      DB_POOL_MAX: '10',
      DB_ACQUIRE_TIMEOUT_MS: '200',
      POOL_HEALTH_WINDOW_MS: '1000',
    });
    const ref = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    try {
      await app?.close();
    } finally {
      removeTempDir(dataDir);
    }
  });

  const health = () => request(app.getHttpServer()).get('/health');

  it('answers 200 ok when idle', async () => {
    const res = await health().expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.info.pool).toMatchObject({ status: 'up', state: 'HEALTHY', inUse: 0, max: 10 });
  });

  it('answers 200 degraded at 70 %', async () => {
    await request(app.getHttpServer()).post('/demo/hold?n=7').expect(200).expect({ held: 7, max: 10 });
    const res = await health().expect(200);
    expect(res.body.details.pool).toMatchObject({ state: 'DEGRADED', utilization: 0.7, inUse: 7 });
    expect(res.body.status).toBe(terminusHasDegraded ? 'degraded' : 'ok');
  });

  it('at 100 % with no timeout the pool is not reported down: saturated is not failing', async () => {
    await request(app.getHttpServer()).post('/demo/hold?n=3').expect(200).expect({ held: 10, max: 10 });
    // Neither the pool entry nor the skipped database ping is down: a readiness probe keeps the pod.
    const res = await health().expect(200);
    expect(res.body.details.database).toMatchObject({ status: 'up', skipped: true });
    expect(res.body.details.pool).toMatchObject({
      status: terminusHasDegraded ? 'degraded' : 'up',
      state: 'UNHEALTHY',
      utilization: 1,
      failing: false,
    });
  });

  it('answers 503 once an acquire timed out', async () => {
    // A tenant request needs a connection: it waits DB_ACQUIRE_TIMEOUT_MS and fails.
    const api = await request(app.getHttpServer()).get('/projects').set('x-organisation-id', 'acme');
    expect(api.status).toBeGreaterThanOrEqual(500);
    const res = await health().expect(503);
    expect(res.body.status).toBe('error');
    expect(res.body.error.pool).toMatchObject({
      status: 'down',
      state: 'UNHEALTHY',
      utilization: 1,
      failing: true,
    });
  });

  it('refuses to hold past capacity instead of queueing', async () => {
    await request(app.getHttpServer()).post('/demo/hold?n=1').expect(409);
  });

  it('answers 200 ok again after release', async () => {
    await request(app.getHttpServer()).post('/demo/release').expect(200).expect({ released: 10 });
    await new Promise((r) => setTimeout(r, 1100)); // the timeout leaves the 1 s window
    const res = await health().expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.info.pool).toMatchObject({ state: 'HEALTHY', inUse: 0 });
  });
});
