/**
 * TenantInterceptor outside plain HTTP: a TCP microservice handler and a WebSocket gateway, both
 * taking the tenant from the message payload through `resolve`, plus `TenantContext.run()` for a
 * cron-like job with no request at all.
 */
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExecutionContext,
  type INestApplication,
  type INestApplicationContext,
  Injectable,
  Module,
  UseFilters,
  UseInterceptors,
  type WsExceptionFilter,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ClientProxyFactory,
  type ClientProxy,
  MessagePattern,
  type MicroserviceOptions,
  Payload,
  Transport,
} from '@nestjs/microservices';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { lastValueFrom } from 'rxjs';
import WebSocket from 'ws';
import {
  InvalidTenantError,
  TenantContext,
  TenantInterceptor,
  TenantModule,
  type TenantModuleOptions,
} from '@reservoir/tenant';
import { unusedPort } from './helpers/net';

const handlerSpy = jest.fn();

interface Msg {
  organisationId?: unknown;
  ms?: number;
}

/** The tenant travels in the message: RPC data or WS payload. */
const resolve = (ctx: ExecutionContext): unknown => {
  const type = ctx.getType();
  const data: Msg | undefined =
    type === 'rpc'
      ? ctx.switchToRpc().getData<Msg>()
      : type === 'ws'
        ? ctx.switchToWs().getData<Msg>()
        : undefined;
  return data?.organisationId;
};
const tenantOptions: TenantModuleOptions = { resolve };

@Injectable()
class Repo {
  constructor(private readonly tenant: TenantContext) {}
  async whoAmI(): Promise<string> {
    await sleep(1);
    return this.tenant.require();
  }
}

@Controller()
class RpcController {
  constructor(
    private readonly repo: Repo,
    private readonly tenant: TenantContext,
  ) {}

  @MessagePattern('whoami')
  async whoami(@Payload() data: Msg) {
    handlerSpy();
    const start = this.tenant.organisationId;
    await sleep(data.ms ?? 0);
    return { start, viaService: await this.repo.whoAmI() };
  }
}

/** Nest 11's BaseWsExceptionFilter only `emit`s on raw ws clients (a local event), so send it. */
@Catch(WsException)
class SendWsException implements WsExceptionFilter {
  catch(exception: WsException, host: ArgumentsHost) {
    host
      .switchToWs()
      .getClient<WebSocket>()
      .send(JSON.stringify({ event: 'exception', data: exception.getError() }));
  }
}

@WebSocketGateway()
@UseFilters(SendWsException)
class TenantGateway {
  constructor(
    private readonly repo: Repo,
    private readonly tenant: TenantContext,
  ) {}

  /** Gateways ignore global enhancers: bind the interceptor here. */
  @SubscribeMessage('whoami')
  @UseInterceptors(TenantInterceptor)
  async whoami(@MessageBody() data: Msg) {
    handlerSpy();
    const start = this.tenant.organisationId;
    await sleep(data.ms ?? 0);
    return { event: 'whoami', data: { start, viaService: await this.repo.whoAmI() } };
  }

  /** Not bound: the global APP_INTERCEPTOR does not reach gateways, so there is no tenant here. */
  @SubscribeMessage('unbound')
  unbound() {
    return { event: 'unbound', data: { id: this.tenant.organisationId ?? null } };
  }
}

@Module({
  imports: [TenantModule.forRoot(tenantOptions)],
  controllers: [RpcController],
  providers: [Repo],
})
class RpcAppModule {}

@Module({
  imports: [TenantModule.forRoot(tenantOptions)],
  providers: [Repo, TenantGateway],
})
class WsAppModule {}

const PATTERN = '/^[A-Za-z0-9_-]+$/';

describe('TenantInterceptor on a TCP microservice', () => {
  let app: INestApplication;
  let client: ClientProxy;

  beforeAll(async () => {
    const port = await unusedPort();
    const ms = await NestFactory.createMicroservice<MicroserviceOptions>(RpcAppModule, {
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port },
      logger: false,
    });
    await ms.listen();
    app = ms as unknown as INestApplication;
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
  });
  afterAll(async () => {
    client?.close();
    await app?.close();
  });
  beforeEach(() => handlerSpy.mockClear());

  it('runs the handler in the tenant from the message payload', async () => {
    const res = await lastValueFrom(client.send('whoami', { organisationId: 'acme', ms: 2 }));
    expect(res).toEqual({ start: 'acme', viaService: 'acme' });
  });

  it('keeps concurrent messages apart', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `org_${i % 12}`);
    const out = await Promise.all(
      ids.map((id, i) => lastValueFrom(client.send('whoami', { organisationId: id, ms: i % 5 }))),
    );
    expect(out).toEqual(ids.map((id) => ({ start: id, viaService: id })));
  });

  it.each([
    [{}, 'missing', 'TENANT_REQUIRED', expect.stringMatching(/^Tenant required: resolve\(context\)/)],
    [
      { organisationId: 'a b' },
      'pattern',
      'TENANT_INVALID',
      `Invalid tenant: the value from resolve(context) "a b" does not match the pattern ${PATTERN}.`,
    ],
    [
      { organisationId: ['a', 'b'] },
      'list',
      'TENANT_INVALID',
      'Invalid tenant: the value from resolve(context) was given more than once or as a list (2 values). Send exactly one organisation id.',
    ],
  ])(
    'rejects %j with the RpcException body, never running the handler',
    async (data, problem, code, message) => {
      await expect(lastValueFrom(client.send('whoami', data))).rejects.toEqual({
        status: 'error',
        code,
        problem,
        message,
      });
      expect(handlerSpy).not.toHaveBeenCalled();
    },
  );
});

describe('TenantInterceptor on a WebSocket gateway (platform-ws)', () => {
  let app: INestApplication;
  let ws: WebSocket;
  const inbox: Array<{ event: string; data: Record<string, unknown> }> = [];
  const waiters: Array<() => void> = [];

  /** The next message, or a clear failure after 5 s (never an unbounded wait). */
  const next = async () => {
    const deadline = Date.now() + 5_000;
    while (inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no WebSocket message within 5 s');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return inbox.shift()!;
  };
  const send = (event: string, data: unknown) => ws.send(JSON.stringify({ event, data }));

  beforeAll(async () => {
    app = await NestFactory.create(WsAppModule, { logger: false });
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace(/^http/, 'ws').replace('[::1]', '127.0.0.1');
    ws = new WebSocket(url);
    ws.on('message', (raw) => {
      inbox.push(JSON.parse(String(raw)));
      waiters.splice(0).forEach((w) => w());
    });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
  });
  afterAll(async () => {
    ws?.close();
    await app?.close();
  });
  beforeEach(() => handlerSpy.mockClear());

  it('runs a bound handler in the tenant from the payload', async () => {
    send('whoami', { organisationId: 'acme', ms: 2 });
    expect(await next()).toEqual({ event: 'whoami', data: { start: 'acme', viaService: 'acme' } });
  });

  it('keeps interleaved messages on one socket apart', async () => {
    send('whoami', { organisationId: 'slow', ms: 30 });
    send('whoami', { organisationId: 'fast', ms: 0 });
    const got = [await next(), await next()];
    expect(got.map((m) => m.data)).toEqual([
      { start: 'fast', viaService: 'fast' },
      { start: 'slow', viaService: 'slow' },
    ]);
  });

  it('rejects a bad tenant with a WsException, never running the handler', async () => {
    send('whoami', { organisationId: 'acme\n' });
    expect(await next()).toEqual({
      event: 'exception',
      data: {
        status: 'error',
        code: 'TENANT_INVALID',
        problem: 'control-characters',
        message:
          'Invalid tenant: the value from resolve(context) contains control characters ("acme\\n"). Send printable characters only.',
      },
    });
    expect(handlerSpy).not.toHaveBeenCalled();
  });

  it('never shows an unbound gateway handler a previous message’s tenant', async () => {
    // Whether the global APP_INTERCEPTOR reaches gateways depends on the Nest version (12.5 applies
    // it; the docs say gateways ignore global enhancers), hence the explicit @UseInterceptors above.
    // Either way the unbound handler sees its own tenant or none, never the one before it.
    send('whoami', { organisationId: 'acme' });
    await next();
    send('unbound', { organisationId: 'beta' });
    const { data } = await next();
    expect([null, 'beta']).toContain(data.id);
  });
});

describe('TenantContext.run() outside any request (cron-like job)', () => {
  @Injectable()
  class NightlyJob {
    constructor(
      private readonly tenant: TenantContext,
      private readonly repo: Repo,
    ) {}
    readonly seen: string[] = [];
    async runFor(organisationId: string): Promise<void> {
      await this.tenant.run(organisationId, async () => {
        await sleep(3);
        this.seen.push(`${organisationId}:${await this.repo.whoAmI()}`);
      });
    }
  }

  @Module({ imports: [TenantModule.forRoot()], providers: [Repo, NightlyJob] })
  class JobModule {}

  let ctx: INestApplicationContext;
  beforeAll(async () => {
    ctx = await NestFactory.createApplicationContext(JobModule, { logger: false });
  });
  afterAll(async () => ctx?.close());

  it('gives each job its own tenant, from a timer callback like a scheduler would', async () => {
    const job = ctx.get(NightlyJob);
    await new Promise<void>((done, fail) => {
      setTimeout(() => {
        Promise.all(['acme', 'beta', 'gamma'].map((id) => job.runFor(id))).then(() => done(), fail);
      }, 1);
    });
    expect(job.seen.sort()).toEqual(['acme:acme', 'beta:beta', 'gamma:gamma']);
    expect(ctx.get(TenantContext).organisationId).toBeUndefined();
  });

  it('validates the id like a header before the job starts', async () => {
    const job = ctx.get(NightlyJob);
    const before = job.seen.length;
    await expect(job.runFor('../etc')).rejects.toBeInstanceOf(InvalidTenantError);
    expect(job.seen.length).toBe(before);
  });
});
