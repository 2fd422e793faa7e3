/**
 * The one AsyncLocalStorage instance that carries the tenant. It is process-wide by nature, so it is
 * kept private to this lib: nothing outside `libs/tenant/src` imports this file, and the public ways
 * in are `TenantContext` and the read-only `getCurrentTenant()`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** What the store holds: the organisation id and the request (first handler argument) it belongs to. */
export class TenantScope {
  constructor(
    readonly organisationId: string,
    /** The request/message/client that opened the scope, for idempotent re-entry; null for run(). */
    readonly owner: unknown,
  ) {}
}

const storage = new AsyncLocalStorage<TenantScope>();

/** The active scope, or undefined. */
export function currentScope(): TenantScope | undefined {
  return storage.getStore();
}

/**
 * The organisation id of the current tenant scope, or `undefined` outside one. Framework-free, for
 * cores that take a `() => string | undefined` resolver.
 *
 * @publicApi
 */
export function getCurrentTenant(): string | undefined {
  return storage.getStore()?.organisationId;
}

/** Runs `fn(arg)` inside `scope`. Passing `arg` avoids allocating a closure per request. */
export function runInScope<A, R>(scope: TenantScope, fn: (arg: A) => R, arg: A): R {
  return storage.run(scope, fn, arg);
}

/**
 * Runs `fn()` outside any tenant scope: inside it (and in everything it awaits) there is no tenant.
 * `run(undefined)` rather than `exit()`, which is still marked experimental in Node 20.
 */
export function runOutsideScope<R>(fn: () => R): R {
  return storage.run(undefined as unknown as TenantScope, fn);
}
