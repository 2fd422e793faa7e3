import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { LazyHealthIndicator, LazyLoader, LazyModule, LazyResource } from '@reservoir/lazy';
import { RedisTier } from '@reservoir/lazy/redis';
import { TestRedisServer } from './helpers/redis-server';

jest.setTimeout(30_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

let calls = { shared: 0, local: 0 };

@Injectable()
class Catalog {
  @LazyResource({ tenantScoped: false })
  shared(): Promise<{ n: number }> {
    return Promise.resolve({ n: ++calls.shared });
  }

  @LazyResource({ tenantScoped: false, shared: false })
  local(): Promise<{ n: number }> {
    return Promise.resolve({ n: ++calls.local });
  }
}

const hasDegraded =
  typeof (new HealthIndicatorService().check('x') as unknown as { degraded?: unknown }).degraded ===
  'function';

describe('LazyModule.forRoot({ shared: tier }) under Nest', () => {
  const server = new TestRedisServer(true);
  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    await server.dispose();
  });

  async function app(tier: RedisTier, useAsync: boolean) {
    const mod = await Test.createTestingModule({
      imports: [
        TerminusModule.forRoot({ logger: false }),
        useAsync
          ? LazyModule.forRootAsync({ useFactory: async () => ({ shared: tier }) })
          : LazyModule.forRoot({ shared: tier }),
      ],
      providers: [Catalog, LazyHealthIndicator],
    }).compile();
    await mod.init();
    const check = () =>
      mod
        .get(HealthCheckService)
        .check([() => mod.get(LazyHealthIndicator).isHealthy('lazy')])
        .catch((e: { getResponse(): unknown }) => e.getResponse());
    return { mod, loader: mod.get(LazyLoader), catalog: mod.get(Catalog), check };
  }

  it('shares decorated resources by default across two apps (forRoot and forRootAsync); shared: false stays local; health degrades while Redis is away', async () => {
    calls = { shared: 0, local: 0 };
    const prefix = `n${randomUUID().slice(0, 8)}`;
    const tierA = new RedisTier({ url: server.url, prefix, commandTimeoutMs: 100, breakerOpenMs: 100 });
    const tierB = new RedisTier({ url: server.url, prefix, commandTimeoutMs: 100, breakerOpenMs: 100 });
    expect(await tierA.ready()).toBe(true);
    expect(await tierB.ready()).toBe(true);
    const a = await app(tierA, false);
    const b = await app(tierB, true);
    try {
      expect(await a.catalog.shared()).toEqual({ n: 1 });
      expect(await b.catalog.shared()).toEqual({ n: 1 }); // from L2: no second load
      expect(calls.shared).toBe(1);
      expect(await a.catalog.local()).toEqual({ n: 1 });
      expect(await b.catalog.local()).toEqual({ n: 2 }); // local: each app loads its own
      expect(b.loader.stats().shared).toMatchObject({ state: 'connected', l2Hits: 1 });
      expect(await a.check()).toMatchObject({ status: 'ok', info: { lazy: { status: 'up' } } });

      await server.kill();
      await until(() => tierA.state === 'degraded', 3_000, 'degraded');
      expect(await a.catalog.shared()).toEqual({ n: 1 }); // L1 hit, no wait on Redis
      const health = (await a.check()) as { status: string; info?: Record<string, { state: string }> };
      if (hasDegraded) expect(health).toMatchObject({ status: 'degraded' });
      else expect(health).toMatchObject({ status: 'ok', info: { lazy: { state: 'DEGRADED' } } });
      expect(a.loader.stats().shared?.state).toBe('degraded');

      await server.start();
      await until(() => tierA.state === 'connected', 5_000, 'connected again');
      expect(await a.check()).toMatchObject({ status: 'ok' });
    } finally {
      await a.mod.close();
      await b.mod.close();
      await tierA.close();
      await tierB.close();
    }
  });
});
