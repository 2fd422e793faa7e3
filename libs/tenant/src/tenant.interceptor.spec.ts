import { AsyncResource } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CallHandler, Controller, type ExecutionContext, Get, Logger, Module } from '@nestjs/common';
import { APP_INTERCEPTOR, Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { defer, firstValueFrom, from, of } from 'rxjs';
import { TenantContext } from './tenant.context';
import { SkipTenant } from './tenant.decorators';
import { TenantInterceptor } from './tenant.interceptor';
import { TenantModule } from './tenant.module';
import { TenantOptions, resolveTenantOptions } from './tenant.options';
import { currentScope, getCurrentTenant } from './tenant.store';

function ctx(req: object, handler: object = ctx, cls: object = Object): ExecutionContext {
  return {
    getType: () => 'http',
    getArgByIndex: () => req,
    getHandler: () => handler,
    getClass: () => cls,
  } as unknown as ExecutionContext;
}

function make(options: Partial<TenantOptions> = {}): TenantInterceptor {
  const o = resolveTenantOptions(options);
  return new TenantInterceptor(new Reflector(), new TenantContext(o), o);
}

jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);

describe('TenantInterceptor (unit)', () => {
  it('runs a lazily subscribed handler, and all its awaits, inside the scope', async () => {
    const i = make();
    const seen: Array<string | undefined> = [];
    const handler = async () => {
      seen.push(getCurrentTenant());
      await sleep(1);
      seen.push(getCurrentTenant());
      return 'ok';
    };
    // Like Nest's CallHandler (Nest 11 and 12): handle() binds the deferred handler to the async
    // context handle() is called in, and the handler only runs when the result is subscribed.
    const next: CallHandler = {
      handle: () => {
        const resource = new AsyncResource('handler');
        return defer(() => resource.runInAsyncScope(() => from(handler())));
      },
    };
    const out$ = i.intercept(ctx({ headers: { 'x-organisation-id': 'acme' } }), next);
    expect(seen).toEqual([]); // not run yet
    expect(getCurrentTenant()).toBeUndefined(); // nothing leaks into the caller
    await expect(firstValueFrom(out$)).resolves.toBe('ok');
    expect(seen).toEqual(['acme', 'acme']);
    expect(getCurrentTenant()).toBeUndefined();
  });

  it('does not nest, re-resolve or reset when entered twice in one request', async () => {
    const resolve = jest.fn((c: ExecutionContext) => (c.getArgByIndex(0) as { org: string }).org);
    const i = make({ resolve });
    const req = { org: 'acme' };
    const scopes: unknown[] = [];
    const inner: CallHandler = {
      handle: () => {
        scopes.push(currentScope());
        return of(getCurrentTenant());
      },
    };
    const outer: CallHandler = {
      handle: () => {
        scopes.push(currentScope());
        return i.intercept(ctx(req), inner);
      },
    };
    const id = await firstValueFrom(i.intercept(ctx(req), outer));
    expect(id).toBe('acme');
    expect(resolve).toHaveBeenCalledTimes(1);
    expect(scopes[0]).toBeDefined();
    expect(scopes[1]).toBe(scopes[0]);
  });

  it('passes requests without a tenant through when required is false, outside any scope', async () => {
    const i = make({ required: false });
    const next: CallHandler = { handle: () => of(getCurrentTenant()) };
    await expect(firstValueFrom(i.intercept(ctx({ headers: {} }), next))).resolves.toBeUndefined();
    // ... but a present, invalid value is still rejected
    expect(() => i.intercept(ctx({ headers: { 'x-organisation-id': '' } }), next)).toThrow('is empty');
  });

  it('reads @SkipTenant() from the handler or the class and caches the answer per handler', () => {
    const i = make();
    const next: CallHandler = { handle: () => of(getCurrentTenant()) };
    class Open {}
    SkipTenant()(Open);
    function handler() {}
    function other() {}
    SkipTenant()(other, 'other', { value: other });
    expect(() => i.intercept(ctx({ headers: {} }, handler, Open), next)).not.toThrow();
    expect(() => i.intercept(ctx({ headers: {} }, other, Object), next)).not.toThrow();
    expect(() => i.intercept(ctx({ headers: {} }, handler, Object), next)).toThrow('is missing');
  });
});

describe('TenantModule wiring', () => {
  @Controller()
  class C {
    @Get()
    get() {
      return 1;
    }
  }
  @Module({ imports: [TenantModule.forRoot()], controllers: [C] })
  class App {}

  it('is global and registers the interceptor as APP_INTERCEPTOR', async () => {
    const mod = await Test.createTestingModule({ imports: [App] }).compile();
    expect(mod.get(TenantContext, { strict: false })).toBeInstanceOf(TenantContext);
    expect(mod.get(TenantInterceptor, { strict: false })).toBeInstanceOf(TenantInterceptor);
    const def = TenantModule.forRoot();
    expect(def.global).toBe(true);
    expect(Reflect.getMetadata('providers', TenantModule)).toEqual(
      expect.arrayContaining([{ provide: APP_INTERCEPTOR, useExisting: TenantInterceptor }]),
    );
    expect(TenantModule.forRootAsync({ useFactory: () => ({}) }).global).toBe(true);
    await mod.close();
  });
});
