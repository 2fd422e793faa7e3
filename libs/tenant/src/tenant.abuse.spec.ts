/**
 * Pins the exact message for every bad tenant input and every invalid option (after
 * graphql/dataloader's abuse tests). If a message changes, this spec changes with it, on purpose.
 */
import { BadRequestException, type CallHandler, type ExecutionContext, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RpcException } from '@nestjs/microservices';
import { WsException } from '@nestjs/websockets';
import { Test } from '@nestjs/testing';
import { of } from 'rxjs';
import { TenantContext } from './tenant.context';
import { InvalidTenantError, TenantConfigError, TenantRequiredError } from './tenant.errors';
import { TenantInterceptor } from './tenant.interceptor';
import { TenantModule } from './tenant.module';
import { type TenantOptions, resolveTenantOptions } from './tenant.options';

const PATTERN = '/^[A-Za-z0-9_-]+$/';
const HDR = "the 'x-organisation-id' header";
const RUN = 'the organisation id given to TenantContext.run()';
const RES = 'the value from resolve(context)';

function httpContext(headers: Record<string, unknown>): ExecutionContext {
  const req = { headers };
  return {
    getType: () => 'http',
    getArgByIndex: () => req,
    getHandler: () => httpContext,
    getClass: () => Object,
  } as unknown as ExecutionContext;
}

function transportContext(type: 'rpc' | 'ws', payload: unknown): ExecutionContext {
  return {
    getType: () => type,
    getArgByIndex: () => payload,
    getHandler: () => transportContext,
    getClass: () => Object,
  } as unknown as ExecutionContext;
}

function interceptor(options: Partial<TenantOptions> = {}): TenantInterceptor {
  const resolved = resolveTenantOptions(options);
  return new TenantInterceptor(new Reflector(), new TenantContext(resolved), resolved);
}

const next: CallHandler = { handle: () => of('handled') };

function rejection(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const debugLog = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
afterAll(() => debugLog.mockRestore());

describe('tenant abuse: header values (exact messages)', () => {
  beforeEach(() => debugLog.mockClear());
  const cases: Array<[string, unknown, string, string]> = [
    [
      'missing',
      undefined,
      'missing',
      "Tenant required: the 'x-organisation-id' header is missing. Send the organisation id in it, mark the route or controller with @SkipTenant(), or set TenantModule's required: false.",
    ],
    ['empty', '', 'empty', `Invalid tenant: ${HDR} is empty. Send a non-empty organisation id.`],
    [
      'over maxLength',
      'x'.repeat(65),
      'too-long',
      `Invalid tenant: ${HDR} is 65 characters long, more than maxLength 64. Send a shorter organisation id or raise TenantModule's maxLength.`,
    ],
    [
      'huge value (never echoed)',
      'x'.repeat(100_000),
      'too-long',
      `Invalid tenant: ${HDR} is 100000 characters long, more than maxLength 64. Send a shorter organisation id or raise TenantModule's maxLength.`,
    ],
    [
      'pattern mismatch',
      'acme corp',
      'pattern',
      `Invalid tenant: ${HDR} "acme corp" does not match the pattern ${PATTERN}.`,
    ],
    [
      'repeated header (Node joins with ", ")',
      'acme, beta',
      'list',
      `Invalid tenant: ${HDR} was given more than once or as a list ("acme, beta"). Send exactly one organisation id.`,
    ],
    [
      'array value',
      ['acme', 'beta'],
      'list',
      `Invalid tenant: ${HDR} was given more than once or as a list (2 values). Send exactly one organisation id.`,
    ],
    [
      'NUL byte',
      'acme\u0000',
      'control-characters',
      `Invalid tenant: ${HDR} contains control characters ("acme\\u0000"). Send printable characters only.`,
    ],
    [
      'newline (log injection)',
      'acme\nINFO forged',
      'control-characters',
      `Invalid tenant: ${HDR} contains control characters ("acme\\nINFO forged"). Send printable characters only.`,
    ],
    [
      'DEL',
      'acme\u007f',
      'control-characters',
      `Invalid tenant: ${HDR} contains control characters ("acme\\u007f"). Send printable characters only.`,
    ],
    [
      'Cyrillic look-alike',
      '\u0430cme',
      'non-ascii',
      `Invalid tenant: ${HDR} contains non-ASCII characters ("\\u0430cme"), e.g. Unicode look-alikes, which the pattern ${PATTERN} does not allow.`,
    ],
    [
      'right-to-left override',
      'acme\u202egnp',
      'non-ascii',
      `Invalid tenant: ${HDR} contains non-ASCII characters ("acme\\u202egnp"), e.g. Unicode look-alikes, which the pattern ${PATTERN} does not allow.`,
    ],
    ['number', 42, 'not-a-string', `Invalid tenant: ${HDR} must be a string, got 42.`],
  ];

  it.each(cases)('%s → HTTP 400 with the exact message', (_name, value, problem, message) => {
    const err = rejection(() => interceptor().intercept(httpContext({ 'x-organisation-id': value }), next));
    expect(err).toBeInstanceOf(BadRequestException);
    const ex = err as BadRequestException;
    expect(ex.getStatus()).toBe(400);
    expect(ex.getResponse()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: problem === 'missing' ? 'TENANT_REQUIRED' : 'TENANT_INVALID',
      problem,
      message,
    });
    expect(ex.cause).toBeInstanceOf(problem === 'missing' ? TenantRequiredError : InvalidTenantError);
    // Nothing a client sent reaches a message or the rejection log line unescaped.
    expect(message).toMatch(/^[\x20-\x7e]*$/);
    expect(debugLog).toHaveBeenCalledTimes(1);
    expect(debugLog.mock.calls[0][0]).toBe(`Rejected http request: ${message}`);
  });

  it('truncates long echoed values to 40 characters', () => {
    const value = `${'a'.repeat(50)}!`;
    const err = rejection(() =>
      interceptor({ maxLength: 100 }).intercept(httpContext({ 'x-organisation-id': value }), next),
    ) as BadRequestException;
    expect((err.getResponse() as { message: string }).message).toBe(
      `Invalid tenant: ${HDR} "${'a'.repeat(40)}..." does not match the pattern ${PATTERN}.`,
    );
  });

  it('rejects commas in headers even when a custom pattern allows them', () => {
    const err = rejection(() =>
      interceptor({ pattern: /^[a-z,]+$/ }).intercept(httpContext({ 'x-organisation-id': 'a,b' }), next),
    ) as BadRequestException;
    expect((err.getResponse() as { problem: string }).problem).toBe('list');
  });

  it('rejects control characters even when a custom pattern allows them', () => {
    const err = rejection(() =>
      interceptor({ pattern: /^.+$/s }).intercept(httpContext({ 'x-organisation-id': 'a\u0001' }), next),
    ) as BadRequestException;
    expect((err.getResponse() as { problem: string }).problem).toBe('control-characters');
  });

  it('names a custom header', () => {
    const err = rejection(() => interceptor({ header: 'X-Org' }).intercept(httpContext({}), next));
    expect((err as BadRequestException).message).toBe(
      "Tenant required: the 'x-org' header is missing. Send the organisation id in it, mark the route or controller with @SkipTenant(), or set TenantModule's required: false.",
    );
  });
});

describe('tenant abuse: resolve() on RPC and WS (transport error types)', () => {
  const resolve = (ctx: ExecutionContext) => (ctx.getArgByIndex(0) as { org?: unknown }).org;

  it.each([
    [
      {},
      'missing',
      'TENANT_REQUIRED',
      "Tenant required: resolve(context) returned no organisation id. Send the organisation id where resolve() reads it, mark the handler with @SkipTenant(), or set TenantModule's required: false.",
    ],
    [
      { org: 'a,b' },
      'pattern',
      'TENANT_INVALID',
      `Invalid tenant: ${RES} "a,b" does not match the pattern ${PATTERN}.`,
    ],
    [
      { org: ['a'] },
      'list',
      'TENANT_INVALID',
      `Invalid tenant: ${RES} was given more than once or as a list (1 value). Send exactly one organisation id.`,
    ],
    [
      { org: { id: 'a' } },
      'not-a-string',
      'TENANT_INVALID',
      `Invalid tenant: ${RES} must be a string, got {"id":"a"}.`,
    ],
    [
      { org: { x: '\u202eevil\u2028' } },
      'not-a-string',
      'TENANT_INVALID',
      `Invalid tenant: ${RES} must be a string, got {"x":"\\u202eevil\\u2028"}.`,
    ],
  ])('RPC %j → RpcException %s', (payload, problem, code, message) => {
    const err = rejection(() => interceptor({ resolve }).intercept(transportContext('rpc', payload), next));
    expect(err).toBeInstanceOf(RpcException);
    expect((err as RpcException).getError()).toEqual({ status: 'error', code, problem, message });
  });

  it('WS → WsException with the same body', () => {
    const err = rejection(() =>
      interceptor({ resolve }).intercept(transportContext('ws', { org: 'x'.repeat(70) }), next),
    );
    expect(err).toBeInstanceOf(WsException);
    expect((err as WsException).getError()).toEqual({
      status: 'error',
      code: 'TENANT_INVALID',
      problem: 'too-long',
      message: `Invalid tenant: ${RES} is 70 characters long, more than maxLength 64. Send a shorter organisation id or raise TenantModule's maxLength.`,
    });
  });

  it('without resolve(), RPC and WS carry no tenant: required → missing', () => {
    const err = rejection(() => interceptor().intercept(transportContext('rpc', { org: 'a' }), next));
    expect((err as RpcException).getError()).toMatchObject({ problem: 'missing' });
  });
});

describe('tenant abuse: TenantContext.run() and require()', () => {
  const ctx = new TenantContext();
  it.each([
    ['', `Invalid tenant: ${RUN} is empty. Send a non-empty organisation id.`],
    [
      'a'.repeat(65),
      `Invalid tenant: ${RUN} is 65 characters long, more than maxLength 64. Send a shorter organisation id or raise TenantModule's maxLength.`,
    ],
    ['a b', `Invalid tenant: ${RUN} "a b" does not match the pattern ${PATTERN}.`],
    ['a,b', `Invalid tenant: ${RUN} "a,b" does not match the pattern ${PATTERN}.`],
    [
      'a\r\n',
      `Invalid tenant: ${RUN} contains control characters ("a\\r\\n"). Send printable characters only.`,
    ],
    [
      'ac\u0435',
      `Invalid tenant: ${RUN} contains non-ASCII characters ("ac\\u0435"), e.g. Unicode look-alikes, which the pattern ${PATTERN} does not allow.`,
    ],
    [undefined, `Invalid tenant: ${RUN} must be a string, got undefined.`],
    [null, `Invalid tenant: ${RUN} must be a string, got null.`],
    [7, `Invalid tenant: ${RUN} must be a string, got 7.`],
  ])('run(%j) throws InvalidTenantError before fn runs', (value, message) => {
    const fn = jest.fn();
    const err = rejection(() => ctx.run(value as string, fn));
    expect(err).toBeInstanceOf(InvalidTenantError);
    expect((err as Error).message).toBe(message);
    expect((err as Error).name).toBe('InvalidTenantError');
    expect(fn).not.toHaveBeenCalled();
  });

  it('require() outside a scope throws TenantRequiredError', () => {
    const err = rejection(() => ctx.require());
    expect(err).toBeInstanceOf(TenantRequiredError);
    expect((err as TenantRequiredError).code).toBe('TENANT_REQUIRED');
    expect((err as Error).message).toBe(
      'Tenant required: no tenant scope is active. Call this inside a request handled by TenantInterceptor, or wrap the work in TenantContext.run(organisationId, fn).',
    );
  });
});

describe('tenant abuse: invalid options (exact messages)', () => {
  const opt = (option: string, given: string, allowed: string) =>
    `Invalid TenantModule option '${option}': got ${given}, expected ${allowed}.`;

  it.each([
    [
      { headr: 'x' },
      opt('headr', '"x"', 'no such option; known options are header, required, pattern, maxLength, resolve'),
    ],
    [{ header: '' }, opt('header', '""', 'a non-empty string')],
    [{ header: 42 }, opt('header', '42', 'a non-empty string')],
    [
      { header: 'x org' },
      opt('header', '"x org"', "a valid HTTP header name (letters, digits and !#$%&'*+.^_`|~-)"),
    ],
    [{ required: 'yes' }, opt('required', '"yes"', 'true or false')],
    [{ pattern: '^a$' }, opt('pattern', '"^a$"', 'a RegExp')],
    [
      { pattern: /a/g },
      opt('pattern', '/a/g', 'a RegExp without the g or y flag (they make test() stateful)'),
    ],
    [
      { pattern: /a/y },
      opt('pattern', '/a/y', 'a RegExp without the g or y flag (they make test() stateful)'),
    ],
    [{ maxLength: 0 }, opt('maxLength', '0', 'an integer >= 1 and <= 1024')],
    [{ maxLength: 1.5 }, opt('maxLength', '1.5', 'an integer >= 1 and <= 1024')],
    [{ maxLength: 2000 }, opt('maxLength', '2000', 'an integer >= 1 and <= 1024')],
    [{ resolve: 'header' }, opt('resolve', '"header"', 'a function')],
    [null, opt('options', 'null', 'an object')],
    [[], opt('options', 'array(0)', 'an object')],
  ])('%j', (options, message) => {
    const err = rejection(() => resolveTenantOptions(options));
    expect(err).toBeInstanceOf(TenantConfigError);
    expect((err as Error).message).toBe(message);
  });

  it('fails bootstrap of forRoot with TenantConfigError', async () => {
    await expect(
      Test.createTestingModule({
        imports: [TenantModule.forRoot({ maxLength: -1 })],
      }).compile(),
    ).rejects.toThrow(new TenantConfigError(opt('maxLength', '-1', 'an integer >= 1 and <= 1024')));
  });

  it('fails bootstrap of forRootAsync with TenantConfigError', async () => {
    await expect(
      Test.createTestingModule({
        imports: [TenantModule.forRootAsync({ useFactory: () => ({ pattern: /x/g }) })],
      }).compile(),
    ).rejects.toBeInstanceOf(TenantConfigError);
  });
});
