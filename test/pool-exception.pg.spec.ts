/**
 * PoolExceptionFilter against a real PostgreSQL backend killed mid-request (pg_terminate_backend
 * from a second session): the client gets a 503 with Retry-After, not a 500, and the pool destroys
 * the connection by the same classification (isPgConnectionError), then serves the next request.
 */
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { Client } from 'pg';
import {
  Pool,
  PoolExceptionFilter,
  isPgConnectionError,
  pgClientFactory,
  silentPoolLogger,
} from '@reservoir/pool';
import { DATABASE_URL, adminClient, uniqueAppName } from './helpers/services';

jest.setTimeout(30_000);

const appName = uniqueAppName('reservoir_filter');
const pool = new Pool<Client>({
  name: 'killed',
  factory: pgClientFactory(DATABASE_URL, { applicationName: appName }),
  max: 2,
  acquireTimeoutMs: 5000,
  logger: silentPoolLogger,
});

@Controller()
class SlowController {
  @Get('slow')
  slow() {
    return pool.use(async (c) => (await c.query('SELECT pg_sleep(10) AS slept')).rows, {
      isBroken: isPgConnectionError,
    });
  }
  @Get('fast')
  fast() {
    return pool.use(async (c) => (await c.query('SELECT 1 AS one')).rows, { isBroken: isPgConnectionError });
  }
}

describe('PoolExceptionFilter with a PostgreSQL backend killed mid-request', () => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [SlowController],
      providers: [{ provide: APP_FILTER, useClass: PoolExceptionFilter }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    await pool.close();
  });

  it('answers 503 with Retry-After, and the pool replaces the dead connection', async () => {
    const slow = fetch(`${url}/slow`, { signal: AbortSignal.timeout(15_000) });
    const admin = await adminClient();
    try {
      const deadline = Date.now() + 10_000;
      let killed = 0;
      while (killed === 0) {
        if (Date.now() > deadline) throw new Error('the slow query never showed up in pg_stat_activity');
        await new Promise((r) => setTimeout(r, 50));
        const r = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = $1 AND query LIKE '%pg_sleep(10)%' AND state = 'active'`,
          [appName],
        );
        killed = r.rowCount ?? 0;
      }
    } finally {
      await admin.end();
    }
    const res = await slow;
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The database connection failed; retry later.',
    });
    expect(pool.stats().destroyed).toBeGreaterThanOrEqual(1);
    const next = await fetch(`${url}/fast`, { signal: AbortSignal.timeout(10_000) });
    expect(next.status).toBe(200);
    expect(await next.json()).toEqual([{ one: 1 }]);
  });
});
