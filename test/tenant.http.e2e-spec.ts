/**
 * TenantInterceptor over real HTTP, on Express and on Fastify (describe.each, like nestjs/throttler's
 * multi-adapter e2e). Every bad input must give a 400 JSON body naming the problem, with the handler
 * never called; good input must be visible through await chains and in injected services, and
 * concurrent requests must never see each other's tenant.
 */
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Controller,
  Get,
  type INestApplication,
  Injectable,
  Module,
  Query,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import request from 'supertest';
import {
  CurrentTenant,
  SkipTenant,
  TenantContext,
  TenantInterceptor,
  TenantModule,
  getCurrentTenant,
} from '@reservoir/tenant';

const handlerSpy = jest.fn();

@Injectable()
class Repo {
  constructor(private readonly tenant: TenantContext) {}

  async whoAmI(): Promise<string> {
    await sleep(1);
    await Promise.resolve();
    return this.tenant.require();
  }
}

@Controller('t')
class TenantController {
  constructor(
    private readonly repo: Repo,
    private readonly tenant: TenantContext,
  ) {}

  @Get()
  async get(@CurrentTenant() param: string | undefined) {
    handlerSpy();
    const before = this.tenant.organisationId;
    await sleep(2);
    const viaService = await this.repo.whoAmI();
    const after = await new Promise<string | undefined>((resolve) =>
      setImmediate(() => resolve(getCurrentTenant())),
    );
    return { param, before, viaService, after };
  }

  @Get('slow')
  async slow(@Query('ms') ms: string) {
    handlerSpy();
    const start = this.tenant.organisationId;
    await sleep(Number(ms));
    const mid = await this.repo.whoAmI();
    await sleep(Number(ms) % 3);
    return { start, mid, end: this.tenant.organisationId };
  }

  @Get('twice')
  @UseInterceptors(TenantInterceptor)
  async twice() {
    handlerSpy();
    await sleep(1);
    return { id: this.tenant.organisationId };
  }

  @Get('health')
  @SkipTenant()
  health() {
    handlerSpy();
    return { id: this.tenant.organisationId ?? null };
  }
}

@SkipTenant()
@Controller('open')
class OpenController {
  constructor(private readonly tenant: TenantContext) {}

  @Get()
  open() {
    handlerSpy();
    return { id: this.tenant.organisationId ?? null };
  }
}

@Module({
  imports: [TenantModule.forRoot()],
  controllers: [TenantController, OpenController],
  providers: [Repo],
})
class AppModule {}

const H = 'x-organisation-id';
/** A UTF-8 string as the latin1 "binary" string Node's HTTP client will put on the wire byte for byte. */
const utf8OnTheWire = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const PATTERN = '/^[A-Za-z0-9_-]+$/';

/** [case, header value(s) or undefined, problem, exact message] */
const BAD: Array<[string, string | string[] | undefined, string, string]> = [
  [
    'missing header',
    undefined,
    'missing',
    "Tenant required: the 'x-organisation-id' header is missing. Send the organisation id in it, mark the route or controller with @SkipTenant(), or set TenantModule's required: false.",
  ],
  [
    'empty value',
    '',
    'empty',
    "Invalid tenant: the 'x-organisation-id' header is empty. Send a non-empty organisation id.",
  ],
  [
    'over maxLength',
    'a'.repeat(65),
    'too-long',
    "Invalid tenant: the 'x-organisation-id' header is 65 characters long, more than maxLength 64. Send a shorter organisation id or raise TenantModule's maxLength.",
  ],
  [
    'pattern mismatch',
    'acme.corp',
    'pattern',
    `Invalid tenant: the 'x-organisation-id' header "acme.corp" does not match the pattern ${PATTERN}.`,
  ],
  [
    'header given twice',
    ['acme', 'beta'],
    'list',
    `Invalid tenant: the 'x-organisation-id' header was given more than once or as a list ("acme, beta"). Send exactly one organisation id.`,
  ],
  [
    'comma list',
    'acme,beta',
    'list',
    `Invalid tenant: the 'x-organisation-id' header was given more than once or as a list ("acme,beta"). Send exactly one organisation id.`,
  ],
  [
    'control character (tab)',
    'ac\tme',
    'control-characters',
    `Invalid tenant: the 'x-organisation-id' header contains control characters ("ac\\tme"). Send printable characters only.`,
  ],
  [
    'Cyrillic look-alike',
    utf8OnTheWire('\u0430cme'),
    'non-ascii',
    `Invalid tenant: the 'x-organisation-id' header contains non-ASCII characters ("\\u00d0\\u00b0cme"), e.g. Unicode look-alikes, which the pattern ${PATTERN} does not allow.`,
  ],
  [
    'fullwidth look-alike',
    utf8OnTheWire('\uff41cme'),
    'non-ascii',
    `Invalid tenant: the 'x-organisation-id' header contains non-ASCII characters ("\\u00ef\\u00bd\\u0081cme"), e.g. Unicode look-alikes, which the pattern ${PATTERN} does not allow.`,
  ],
];

describe.each([
  ['Express', () => new ExpressAdapter()],
  ['Fastify', () => new FastifyAdapter()],
])('TenantInterceptor over HTTP on %s', (_name, adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    app = await NestFactory.create(AppModule, adapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
    url = url.replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
  });
  beforeEach(() => handlerSpy.mockClear());

  it('shows a valid id to the handler, through awaits, in an injected service and @CurrentTenant()', async () => {
    const res = await request(url).get('/t').set(H, 'acme-1').expect(200);
    expect(res.body).toEqual({ param: 'acme-1', before: 'acme-1', viaService: 'acme-1', after: 'acme-1' });
    expect(handlerSpy).toHaveBeenCalledTimes(1);
  });

  it('treats the header name case-insensitively and accepts exactly maxLength characters', async () => {
    const id = 'B'.repeat(64);
    const res = await request(url).get('/t').set('X-Organisation-ID', id).expect(200);
    expect(res.body.viaService).toBe(id);
  });

  it.each(BAD)(
    'rejects %s with 400 JSON and never runs the handler',
    async (_case, value, problem, message) => {
      const req = request(url).get('/t');
      if (value !== undefined) req.set(H, value as string);
      const res = await req.expect(400).expect('content-type', /application\/json/);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        code: problem === 'missing' ? 'TENANT_REQUIRED' : 'TENANT_INVALID',
        problem,
        message,
      });
      expect(handlerSpy).not.toHaveBeenCalled();
    },
  );

  it('lets @SkipTenant() routes and controllers through without a tenant, outside any scope', async () => {
    expect((await request(url).get('/t/health').expect(200)).body).toEqual({ id: null });
    expect((await request(url).get('/open').expect(200)).body).toEqual({ id: null });
    // A header on a skipped route is ignored, even a bad one.
    expect((await request(url).get('/open').set(H, 'bad value!').expect(200)).body).toEqual({ id: null });
    expect(handlerSpy).toHaveBeenCalledTimes(3);
  });

  it('is idempotent when bound twice (global + @UseInterceptors)', async () => {
    const res = await request(url).get('/t/twice').set(H, 'twice').expect(200);
    expect(res.body).toEqual({ id: 'twice' });
    await request(url).get('/t/twice').set(H, 'bad!').expect(400);
    expect(handlerSpy).toHaveBeenCalledTimes(1);
  });

  it('never lets concurrent requests see each other’s tenant', async () => {
    const tenants = Array.from({ length: 20 }, (_, i) => `tenant_${i}`);
    const jobs = Array.from({ length: 200 }, (_, i) => {
      const id = tenants[i % tenants.length];
      const ms = (i * 7) % 13;
      return request(url)
        .get(`/t/slow?ms=${ms}`)
        .set(H, id)
        .expect(200)
        .then((res) => ({ id, body: res.body as Record<string, string> }));
    });
    const results = await Promise.all(jobs);
    const foreign = results.filter(({ id, body }) => body.start !== id || body.mid !== id || body.end !== id);
    expect(foreign).toEqual([]);
    expect(handlerSpy).toHaveBeenCalledTimes(200);
    expect(getCurrentTenant()).toBeUndefined();
  }, 30_000);
});
