import {
  BadRequestException,
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  type NestInterceptor,
  Optional,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { SKIP_TENANT, TENANT_OPTIONS } from './tenant.constants';
import { TenantContext } from './tenant.context.nest';
import type { TenantError } from './tenant.errors';
import { TenantSources, type TenantProblem } from './tenant.messages';
import { TenantOptions, type TenantResolver } from './tenant.options';
import { TenantScope, currentScope, runInScope } from './tenant.store';
import type { TenantIdValidator } from './tenant.validator';

interface HeaderBag {
  headers: Record<string, string | string[] | undefined>;
}

interface SkipEntry {
  cls: unknown;
  skip: boolean;
}

/** The JSON body of a rejected request (HTTP 400), RPC error and WS `exception` event. */
export interface TenantErrorBody {
  statusCode?: 400;
  error?: 'Bad Request';
  status?: 'error';
  code: string;
  problem: TenantProblem;
  message: string;
}

type TransportErrorCtor = new (body: TenantErrorBody) => Error;

const handle = (next: CallHandler): Observable<unknown> => next.handle();

/**
 * Optional peers are loaded the first time a rejection needs their error type, so an HTTP-only app
 * never loads `@nestjs/microservices` or `@nestjs/websockets`.
 */
function loadErrorType(pkg: string, name: string): TransportErrorCtor | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(pkg) as Record<string, TransportErrorCtor>)[name];
  } catch {
    return undefined;
  }
}

/**
 * Opens the tenant scope for the rest of the request: the route handler, its pipes and everything it
 * awaits see the organisation id through `TenantContext`.
 *
 * - Registered globally by `TenantModule`; bind it on WebSocket gateways with
 *   `@UseInterceptors(TenantInterceptor)`, since gateways ignore global enhancers.
 * - Lean: it returns `next.handle()` called inside `AsyncLocalStorage.run()`, no extra Observable.
 *   Nest binds the handler to the async context in which `handle()` is called, so the handler runs
 *   in the scope however late it is subscribed, and the scope ends with the handler's async chain.
 * - Idempotent: a second pass in the same request (global + `@UseInterceptors`, GraphQL field
 *   enhancers) does not nest, re-validate or reset.
 * - Bad input is rejected before the handler runs: HTTP → 400 JSON, RPC → `RpcException`,
 *   WS → `WsException`, each with `{ code, problem, message }`.
 *
 * Guards and exception filters run outside interceptors, so they do not see the tenant.
 *
 * @publicApi
 */
@Injectable()
export class TenantInterceptor implements NestInterceptor {
  private static readonly logger = new Logger('TenantInterceptor');
  private readonly header: string;
  private readonly required: boolean;
  private readonly resolve: TenantResolver | undefined;
  private readonly source: string;
  private readonly validator: TenantIdValidator;
  private readonly skipCache = new Map<unknown, SkipEntry>();
  private rpcException: TransportErrorCtor | undefined;
  private wsException: TransportErrorCtor | undefined;

  constructor(
    private readonly reflector: Reflector,
    tenant: TenantContext,
    @Optional() @Inject(TENANT_OPTIONS) options?: TenantOptions,
  ) {
    const o = options ?? new TenantOptions();
    this.header = o.header;
    this.required = o.required;
    this.resolve = o.resolve;
    this.source = o.resolve ? TenantSources.resolve : TenantSources.header(o.header);
    this.validator = tenant.validator;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.isSkipped(context)) return next.handle();
    const owner: unknown = context.getArgByIndex(0);
    const current = currentScope();
    // Same request entering again: keep the scope it already has.
    if (current !== undefined && current.owner === owner) return next.handle();

    const type = context.getType();
    let value: unknown;
    if (this.resolve !== undefined) value = this.resolve(context);
    else if (type === 'http') value = (owner as HeaderBag).headers[this.header];

    const problem = this.validator.problemOf(value, this.resolve === undefined);
    if (problem !== undefined) {
      if (problem === 'missing' && !this.required) return next.handle();
      throw this.reject(type, problem, value);
    }
    const id = value as string;
    if (current !== undefined && current.organisationId === id) return next.handle();
    return runInScope(new TenantScope(id, owner), handle, next);
  }

  private isSkipped(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    const cls = context.getClass();
    const hit = this.skipCache.get(handler);
    if (hit !== undefined && hit.cls === cls) return hit.skip;
    const skip = this.reflector.getAllAndOverride<boolean | undefined>(SKIP_TENANT, [handler, cls]) === true;
    this.skipCache.set(handler, { cls, skip });
    return skip;
  }

  /** Builds the transport's own error for a rejected tenant. Messages escape the value. */
  private reject(type: string, problem: TenantProblem, value: unknown): Error {
    const err: TenantError & { problem: TenantProblem } = this.validator.errorFor(
      problem,
      value,
      this.source,
      this.resolve === undefined ? this.header : undefined,
    );
    TenantInterceptor.logger.debug?.(`Rejected ${type} request: ${err.message}`);
    if (type === 'http') {
      return new BadRequestException(
        { statusCode: 400, error: 'Bad Request', code: err.code, problem, message: err.message },
        { cause: err },
      );
    }
    const body: TenantErrorBody = { status: 'error', code: err.code, problem, message: err.message };
    if (type === 'rpc') {
      this.rpcException ??= loadErrorType('@nestjs/microservices', 'RpcException');
      if (this.rpcException) return new this.rpcException(body);
    } else if (type === 'ws') {
      this.wsException ??= loadErrorType('@nestjs/websockets', 'WsException');
      if (this.wsException) return new this.wsException(body);
    }
    return err;
  }
}
