import { Inject, Injectable, Optional } from '@nestjs/common';
import { TENANT_OPTIONS } from './tenant.constants';
import { TenantRequiredError } from './tenant.errors';
import { TenantSources } from './tenant.messages';
import { TenantOptions } from './tenant.options';
import { TenantScope, currentScope, getCurrentTenant, runInScope, runOutsideScope } from './tenant.store';
import { TenantIdValidator } from './tenant.validator';

function call<T>(fn: () => T): T {
  return fn();
}

/**
 * The current tenant. A singleton: the value lives in AsyncLocalStorage, not in a request-scoped
 * provider, so injecting this never makes the consumer request-scoped.
 *
 * Works without Nest too: `new TenantContext()` uses the default rules, and
 * `new TenantContext(options)` the given ones.
 *
 * @publicApi
 */
@Injectable()
export class TenantContext {
  /** The compiled rules that headers, `resolve()` results and `run()` ids are checked against. */
  readonly validator: TenantIdValidator;

  constructor(@Optional() @Inject(TENANT_OPTIONS) options?: TenantOptions) {
    this.validator = new TenantIdValidator(options ?? new TenantOptions());
  }

  /** The organisation id of the current scope, or `undefined` outside any tenant scope. */
  get organisationId(): string | undefined {
    return getCurrentTenant();
  }

  /** The organisation id of the current scope; throws `TenantRequiredError` outside one. */
  require(): string {
    const id = getCurrentTenant();
    if (id === undefined) throw TenantRequiredError.outsideScope();
    return id;
  }

  /**
   * Runs `fn` in a tenant scope, for cron jobs, queue consumers and scripts. The id is validated
   * like a header (throws `InvalidTenantError` before `fn` runs). Everything `fn` awaits sees the
   * id; nothing outside `fn` does. Re-entering the current tenant does not open a new scope.
   *
   * @example await tenant.run('acme', () => this.reports.rebuild());
   */
  run<T>(organisationId: string, fn: () => T): T {
    this.validator.validate(organisationId, TenantSources.run);
    const current = currentScope();
    if (current !== undefined && current.organisationId === organisationId) return fn();
    return runInScope(new TenantScope(organisationId, null), call, fn) as T;
  }

  /**
   * Runs `fn` outside any tenant scope, for work that must not act as the tenant that triggered it
   * (a global cache entry, a shared job). Inside `fn`, `organisationId` is `undefined`; a pool lease
   * taken there is untagged and unbound. The caller's scope is untouched once `fn` returns.
   *
   * @example await tenant.runOutside(() => this.pricing.loadForEveryone());
   */
  runOutside<T>(fn: () => T): T {
    if (currentScope() === undefined) return fn();
    return runOutsideScope(fn);
  }
}
