/**
 * PoolExceptionFilter on a real Nest HTTP app, Express and Fastify: saturation of a real `Pool`
 * (timeout and full queue) and a real refused `pg` connection answer 503 with Retry-After and one
 * WARN line without a stack; everything else reaches Nest's default handling unchanged.
 */
import {
  Controller,
  Get,
  type INestApplication,
  type LoggerService,
  NotFoundException,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { createServer } from 'node:net';
import { Client } from 'pg';
import { Pool } from './pool';
import { PoolExceptionFilter, PoolExceptionFilterOptions } from './pool-exception.filter';
import { PoolConfigError, PoolExhaustedError, PoolTimeoutError } from './pool.errors';
import { silentPoolLogger } from './pool.logger';

/** One saturated pool per app: max 1, the only resource held for the whole test. */
function saturatedPool(name: string, maxWaiting: number): { pool: Pool<object>; close: () => Promise<void> } {
  const pool = new Pool<object>({
    name,
    factory: { create: () => Promise.resolve({}), destroy: () => undefined },
    max: 1,
    acquireTimeoutMs: 60,
    maxWaiting,
    logger: silentPoolLogger,
  });
  const held = pool.acquire();
  return {
    pool,
    close: async () => {
      pool.release(await held);
      await pool.close();
    },
  };
}

async function refusedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

class CapturingLogger implements LoggerService {
  readonly lines: Array<{ level: string; message: string; extra: unknown[] }> = [];
  private push(level: string, message: unknown, extra: unknown[]) {
    this.lines.push({ level, message: message instanceof Error ? message.stack! : String(message), extra });
  }
  log(m: unknown, ...x: unknown[]) {
    this.push('log', m, x);
  }
  warn(m: unknown, ...x: unknown[]) {
    this.push('warn', m, x);
  }
  error(m: unknown, ...x: unknown[]) {
    this.push('error', m, x);
  }
  of(level: string) {
    return this.lines.filter((l) => l.level === level);
  }
}

const timeoutPool = saturatedPool('orders', 10);
const exhaustedPool = saturatedPool('reports', 0);
let pgPort = 0;

@Controller()
class TestController {
  @Get('timeout')
  timeout() {
    return timeoutPool.pool.use(() => 'never');
  }
  @Get('exhausted')
  exhausted() {
    return exhaustedPool.pool.use(() => 'never');
  }
  @Get('pg-down')
  async pgDown() {
    const c = new Client({ host: '127.0.0.1', port: pgPort, connectionTimeoutMillis: 2000 });
    c.on('error', () => undefined);
    await c.connect();
    return 'connected?';
  }
  @Get('sql-error')
  sqlError() {
    throw Object.assign(new Error('duplicate key value violates unique constraint "x_pkey"'), {
      code: '23505',
    });
  }
  @Get('not-found')
  notFound() {
    throw new NotFoundException('nothing here');
  }
  @Get('boom')
  boom() {
    throw new Error('boom');
  }
}

type Setup = (app: INestApplication) => void;
const adapters = [
  ['Express', () => new ExpressAdapter()],
  ['Fastify', () => new FastifyAdapter()],
] as const;

beforeAll(async () => {
  pgPort = await refusedPort();
});
afterAll(async () => {
  await timeoutPool.close();
  await exhaustedPool.close();
});

describe.each(adapters)('PoolExceptionFilter on %s', (_name, makeAdapter) => {
  let app: INestApplication;
  let url: string;
  let logger: CapturingLogger;

  async function boot(providers: unknown[], setup?: Setup) {
    logger = new CapturingLogger();
    const moduleRef = await Test.createTestingModule({
      controllers: [TestController],
      providers: providers as never[],
    }).compile();
    app = moduleRef.createNestApplication(makeAdapter(), { logger });
    setup?.(app);
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  }
  afterEach(async () => {
    await app?.close();
  });

  async function get(path: string) {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: JSON.parse(text) };
  }

  describe('as APP_FILTER with useClass (defaults)', () => {
    beforeEach(() => boot([{ provide: 'APP_FILTER', useClass: PoolExceptionFilter }]));

    it('PoolTimeoutError: 503, Retry-After 1, a body naming the pool, one WARN line without a stack', async () => {
      const res = await get('/timeout');
      expect(res.status).toBe(503);
      expect(res.retryAfter).toBe('1');
      expect(res.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: expect.stringContaining('Pool "orders": acquire timed out after 60 ms'),
        pool: 'orders',
      });
      const warns = logger.of('warn');
      expect(warns).toHaveLength(1);
      expect(warns[0].message).toMatch(
        /^503 for GET \/timeout \(Retry-After: 1 s\): PoolTimeoutError: Pool "orders"/,
      );
      expect(warns[0].message).not.toContain('\n');
      expect(warns[0].extra).toEqual(['PoolExceptionFilter']);
      expect(logger.of('error')).toHaveLength(0);
    });

    it('PoolExhaustedError: 503 naming the pool', async () => {
      const res = await get('/exhausted');
      expect(res.status).toBe(503);
      expect(res.retryAfter).toBe('1');
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', pool: 'reports' });
      expect(res.body.message).toContain('wait queue is full (maxWaiting=0');
      expect(logger.of('warn')[0].message).toContain('PoolExhaustedError');
      expect(logger.of('error')).toHaveLength(0);
    });

    it('a refused PostgreSQL connection: 503 with a generic message, the detail only in the log', async () => {
      const res = await get('/pg-down');
      expect(res.status).toBe(503);
      expect(res.retryAfter).toBe('1');
      expect(res.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'The database connection failed; retry later.',
      });
      const warns = logger.of('warn');
      expect(warns).toHaveLength(1);
      expect(warns[0].message).toMatch(/database connection failure \(ECONNREFUSED\)/);
      expect(logger.of('error')).toHaveLength(0);
    });

    it('passes everything else to Nest unchanged: HttpException, SQL errors, unknown errors', async () => {
      expect(await get('/not-found')).toEqual({
        status: 404,
        retryAfter: null,
        body: { statusCode: 404, error: 'Not Found', message: 'nothing here' },
      });
      for (const path of ['/sql-error', '/boom']) {
        const res = await get(path);
        expect(res).toEqual({
          status: 500,
          retryAfter: null,
          body: { statusCode: 500, message: 'Internal server error' },
        });
      }
      expect(logger.of('warn')).toHaveLength(0);
      expect(logger.of('error')).toHaveLength(2); // Nest's own ExceptionsHandler, with its stack
    });
  });

  it('PoolExceptionFilter.provider({ retryAfterSeconds })', async () => {
    await boot([PoolExceptionFilter.provider({ retryAfterSeconds: 7 })]);
    const res = await get('/timeout');
    expect(res.status).toBe(503);
    expect(res.retryAfter).toBe('7');
    expect(logger.of('warn')[0].message).toContain('(Retry-After: 7 s)');
    // Unmapped errors still reach Nest's default handling through the provider's adapter host.
    expect((await get('/not-found')).status).toBe(404);
    expect((await get('/boom')).body).toEqual({ statusCode: 500, message: 'Internal server error' });
  });

  it('app.useGlobalFilters(new PoolExceptionFilter(options, httpAdapter)); connectionErrors: false', async () => {
    await boot([], (a) =>
      a.useGlobalFilters(
        new PoolExceptionFilter({ connectionErrors: false }, a.get(HttpAdapterHost).httpAdapter),
      ),
    );
    expect((await get('/timeout')).status).toBe(503);
    expect((await get('/pg-down')).status).toBe(500);
    expect((await get('/not-found')).status).toBe(404);
  });
});

describe('PoolExceptionFilter options', () => {
  it('defaults live in PoolExceptionFilterOptions', () => {
    expect({ ...new PoolExceptionFilter().options }).toEqual({ ...new PoolExceptionFilterOptions() });
    expect(new PoolExceptionFilterOptions()).toEqual({ retryAfterSeconds: 1, connectionErrors: true });
  });

  it('rejects bad values and unknown keys with a PoolConfigError naming the option', () => {
    const bad = (o: unknown) => () => new PoolExceptionFilter(o as never);
    expect(bad({ retryAfterSeconds: -1 })).toThrow(PoolConfigError);
    expect(bad({ retryAfterSeconds: -1 })).toThrow(
      'PoolExceptionFilter: invalid option "retryAfterSeconds": given -1, expected an integer >= 0 and <= 86400.',
    );
    expect(bad({ retryAfterSeconds: 1.5 })).toThrow('given 1.5');
    expect(bad({ connectionErrors: 'yes' })).toThrow(
      'PoolExceptionFilter: invalid option "connectionErrors": given "yes", expected true or false.',
    );
    expect(bad({ retryAfter: 5 })).toThrow(
      'PoolExceptionFilter: unknown option "retryAfter" (given 5); known options are retryAfterSeconds, connectionErrors.',
    );
    expect(() => PoolExceptionFilter.provider({ retryAfterSeconds: 'soon' } as never)).toThrow(
      PoolConfigError,
    );
  });

  it('the pool errors it maps carry the pool name', () => {
    expect(
      PoolTimeoutError.acquire('a', 5, { total: 1, inUse: 1, idle: 0, waiting: 1 }, undefined, undefined)
        .pool,
    ).toBe('a');
    expect(PoolExhaustedError.create('b', 0, { total: 1, inUse: 1, idle: 0, waiting: 0 }, 't').pool).toBe(
      'b',
    );
  });
});
