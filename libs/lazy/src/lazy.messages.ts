import { describeValue } from '@reservoir/core';

/**
 * Every message `@reservoir/lazy` throws or logs, in one place. Each says what happened, with the
 * numbers, and how to fix it.
 */

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return describeValue(err);
}

export const LazyMessages = {
  invalidOption: (context: string, option: string, given: unknown, allowed: string): string =>
    `Invalid lazy option "${option}" in ${context}: got ${describeValue(given)}, expected ${allowed}.`,

  duplicateResource: (key: string): string =>
    `A lazy resource is already registered under "${key}". Keys must be unique: pick another key, ` +
    `or use isRegistered("${key}") before registering.`,

  preloadNeedsNoArgs: (resource: string, params: number): string =>
    `@LazyResource() on ${resource} sets preload: true, but the method takes ${params} parameter(s). ` +
    `A preload calls the method without arguments at bootstrap: remove preload, or give the method no parameters.`,

  preloadNeedsGlobal:
    'false while tenantScoped is true (a preload runs at bootstrap, outside any tenant scope); ' +
    'set tenantScoped: false for a preloaded resource',

  knownStore: 'a CacheStore (an object with get, peek, set, delete, keys and clear methods)',

  knownSharedTier: 'a shared tier (an object with a createStore method, e.g. new RedisTier({ url }))',

  sharedExcludes: (option: string): string =>
    `no ${option} next to shared (the shared tier provides the ${option}); remove one of them`,

  knownVersionSource: 'a VersionSource (an object with next, latest and seen methods)',

  invalidateTarget: 'either organisationId or allTenants, not both',

  loadTimedOut: (key: string, timeoutMs: number, attempt: number): string =>
    `Loader of lazy resource "${key}" did not settle within ${timeoutMs} ms (attempt ${attempt}). ` +
    'Its result, if it ever arrives, is ignored. Raise loadTimeoutMs, or make the loader give up sooner.',
  loadFailed: (key: string, attempts: number, cause: unknown): string =>
    `Loading lazy resource "${key}" failed after ${attempts} attempt(s); last error: ${errorText(cause)}. ` +
    `The failure is not cached: the next call loads again. Raise retry.attempts, widen retry.retryIf, ` +
    `or set serveStaleOnError to keep serving the last good value.`,

  notRegistered: (key: string): string =>
    `No lazy resource is registered under "${key}". Call LazyLoader.register("${key}", loader) first, ` +
    `or decorate a provider method with @LazyResource().`,

  invalidKey: (method: string, given: unknown): string =>
    `LazyLoader.${method}() needs a non-empty string key, got ${describeValue(given)}.`,

  separatorInKey: (method: string, given: string): string =>
    `LazyLoader.${method}() got a key with a NUL character (${describeValue(given)}); lazy keys may not ` +
    'contain "\\u0000", which separates the organisation from the key.',

  notReloadable: (key: string, resource: string): string =>
    `LazyLoader.reload("${key}"): "${resource}" is a @LazyResource() method, and reload() can only call ` +
    `it without arguments ("${resource}()"). To refresh the entry for these arguments, call ` +
    `invalidate("${key}") and then the method again.`,

  crossTenant: (key: string, current: string, requested: string): string =>
    `Lazy resource "${key}" was asked for organisation "${requested}" from inside organisation ` +
    `"${current}"'s tenant scope; reaching across tenants is refused by default. Drop organisationId to ` +
    `use the current tenant, or, in trusted code such as an admin job, pass { allowCrossTenant: true } ` +
    `to this call or set allowCrossTenant: true on the resource.`,

  unserializableArgument: (resource: string, index: number, given: unknown, why: string): string =>
    `@LazyResource() on ${resource}: argument ${index} (${describeValue(given)}) cannot be serialized into a ` +
    `cache key: ${why}. Pass { key: (...args) => string } to @LazyResource() to build the key yourself.`,

  badKeyResult: (resource: string, given: unknown): string =>
    `@LazyResource() on ${resource}: the key() function must return a non-empty string without NUL ` +
    `characters ("\\u0000"), got ${describeValue(given)}.`,

  tenantRequired: (key: string): string =>
    `Lazy resource "${key}" is tenant-scoped, but no tenant is in scope. Call it inside TenantContext.run() ` +
    `or a request that carries a tenant, or set tenantScoped: false if its value is the same for every organisation.`,

  closed: (key: string): string =>
    `LazyLoader is closed (the application is shutting down); "${key}" was not loaded.`,

  readOptions: 'an object with optional organisationId (a non-empty string) and allowCrossTenant (a boolean)',

  requestScoped: (host: string, method: string): string =>
    `@LazyResource() on ${host}.${method} is ignored: ${host} is request-scoped (or depends on a request-scoped ` +
    `provider), so its instances live for one request and a cache on them would never hit. Make ${host} a ` +
    `singleton and read the request or tenant from TenantContext instead.`,

  preloadFailed: (key: string, err: unknown): string =>
    `Preload of lazy resource "${key}" failed; it will be loaded again on first use. ${errorText(err)}`,

  preloadDone: (ok: number, failed: number, ms: number): string =>
    `Preloaded ${ok} lazy resource(s), ${failed} failed, in ${ms.toFixed(0)} ms.`,

  alertStaleServed: (key: string, ageMs: number, staleAfterMs: number, reason: 'stale' | 'error'): string =>
    reason === 'error'
      ? `Served a stale value of "${key}" (age ${ageMs.toFixed(0)} ms) because loading a fresh one failed (serveStaleOnError).`
      : `Served a stale value of "${key}" (age ${ageMs.toFixed(0)} ms > staleAfterMs ${staleAfterMs}); refreshing in the background.`,

  alertRefreshFailed: (key: string, attempts: number, consecutive: number, err: unknown): string =>
    `Refresh of "${key}" failed after ${attempts} attempt(s) (${consecutive} failed load(s) in a row); ` +
    `the previous value is kept. ${errorText(err)}`,

  alertDrift: (key: string, from: unknown, to: unknown, wasStale: boolean): string =>
    `Source of "${key}" changed under a cached value: source version ${describeValue(from)} -> ${describeValue(to)}` +
    (wasStale
      ? ' (the cached value was already stale).'
      : ' while the cached value was still considered fresh.'),
} as const;
