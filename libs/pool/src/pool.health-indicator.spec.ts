import { ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Pool } from './pool';
import { getPoolToken } from './pool.constants';
import { PoolHealthIndicator } from './pool.health-indicator';
import { PoolModule } from './pool.module';

interface Res {
  id: number;
}

/** Terminus 12 has `degraded`; 11.1 reports DEGRADED as `up` with `state: 'DEGRADED'`. */
const terminusHasDegraded =
  typeof (new HealthIndicatorService().check('probe') as { degraded?: unknown }).degraded === 'function';

describe('PoolHealthIndicator (real Terminus HealthCheckService)', () => {
  let ref: TestingModule;
  let pool: Pool<Res>;
  let health: HealthCheckService;
  let indicator: PoolHealthIndicator;
  const held: Res[] = [];

  beforeAll(async () => {
    let n = 0;
    ref = await Test.createTestingModule({
      imports: [
        TerminusModule.forRoot({ logger: false }),
        PoolModule.forRoot({
          name: 'main',
          factory: { create: async () => ({ id: ++n }), destroy: () => undefined },
          max: 10,
          acquireTimeoutMs: 1000,
          health: { windowMs: 300 },
        }),
      ],
      providers: [PoolHealthIndicator],
    }).compile();
    await ref.init();
    pool = ref.get(getPoolToken('main'));
    health = ref.get(HealthCheckService);
    indicator = ref.get(PoolHealthIndicator);
  });

  afterAll(async () => {
    for (const r of held.splice(0)) pool.release(r);
    await ref.close();
  });

  async function holdUntil(inUse: number): Promise<void> {
    while (held.length < inUse) held.push(await pool.acquire());
    while (held.length > inUse) pool.release(held.pop()!);
  }

  const check = () => health.check([() => indicator.isHealthy('pool', { pool: 'main' })]);

  it('HEALTHY → up, status ok, with details', async () => {
    await holdUntil(0);
    const result = await check();
    expect(result.status).toBe('ok');
    expect(result.info?.pool).toMatchObject({
      status: 'up',
      pool: 'main',
      state: 'HEALTHY',
      utilization: 0,
      inUse: 0,
      pending: 0,
      max: 10,
      reasons: [],
    });
  });

  it('DEGRADED at 70 % → degraded (Terminus 12) or up with state DEGRADED (11.1)', async () => {
    await holdUntil(7);
    const result = await check();
    const detail = { pool: 'main', state: 'DEGRADED', utilization: 0.7, inUse: 7, size: 7, idle: 0 };
    if (terminusHasDegraded) {
      expect(result.status).toBe('degraded');
      expect(result.details.pool).toMatchObject({ ...detail, status: 'degraded' });
    } else {
      expect(result.status).toBe('ok');
      expect(result.info?.pool).toMatchObject({ ...detail, status: 'up' });
    }
    expect((result.details.pool as unknown as { reasons: string[] }).reasons.length).toBeGreaterThan(0);
  });

  it('UNHEALTHY at 100 % with no timeout is not failing: 200 (degraded), never 503', async () => {
    await holdUntil(10);
    const result = await check();
    expect(result.status).toBe(terminusHasDegraded ? 'degraded' : 'ok');
    expect(result.details.pool).toMatchObject({ state: 'UNHEALTHY', utilization: 1, failing: false });
  });

  it('UNHEALTHY with an acquire timeout → down: HealthCheckService throws 503 with the details', async () => {
    await holdUntil(10);
    await expect(pool.acquire({ timeoutMs: 5 })).rejects.toThrow(/timed out/);
    const err: unknown = await check().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ServiceUnavailableException);
    const body = (err as ServiceUnavailableException).getResponse() as {
      status: string;
      error: Record<string, Record<string, unknown>>;
    };
    expect(body.status).toBe('error');
    expect(body.error.pool).toMatchObject({
      status: 'down',
      state: 'UNHEALTHY',
      utilization: 1,
      inUse: 10,
      failing: true,
    });
  });

  it('is up again after release once the timeout left the window', async () => {
    await holdUntil(0);
    await new Promise((r) => setTimeout(r, 320)); // windowMs: 300
    expect((await check()).status).toBe('ok');
  });

  it('an unknown pool name is down and names the registered pools', async () => {
    const result = await indicator.isHealthy('other', { pool: 'nope' });
    expect(result.other).toMatchObject({
      status: 'down',
      state: 'MISSING',
      reasons: ['no pool named "nope" is registered (registered: main)'],
    });
  });
});

describe('PoolHealthIndicator on a Terminus without degraded (11.1)', () => {
  /** The real HealthIndicatorService, with `degraded` removed from its sessions as on Terminus 11.1. */
  function terminus11IndicatorService(): HealthIndicatorService {
    const service = new HealthIndicatorService();
    const check = service.check.bind(service);
    service.check = ((key: string) => {
      const session = check(key);
      Object.defineProperty(session, 'degraded', { value: undefined });
      return session;
    }) as typeof service.check;
    return service;
  }

  it('reports DEGRADED as up with state DEGRADED', async () => {
    let n = 0;
    const ref = await Test.createTestingModule({
      imports: [
        PoolModule.forRoot({
          factory: { create: async () => ({ id: ++n }), destroy: () => undefined },
          max: 10,
        }),
      ],
      providers: [
        PoolHealthIndicator,
        { provide: HealthIndicatorService, useFactory: terminus11IndicatorService },
      ],
    }).compile();
    await ref.init();
    const pool = ref.get<Pool<Res>>(getPoolToken());
    const held: Res[] = [];
    try {
      for (let i = 0; i < 7; i++) held.push(await pool.acquire());
      const result = await ref.get(PoolHealthIndicator).isHealthy('pool');
      expect(result.pool).toMatchObject({ status: 'up', state: 'DEGRADED', utilization: 0.7 });
    } finally {
      for (const r of held) pool.release(r);
      await ref.close();
    }
  });
});
