import { ReservoirError } from '@reservoir/core';
import { LazyMessages } from './lazy.messages';

/**
 * A load failed on every attempt. `attempts` is the number of loader calls made (the first one
 * included) and `cause` is the error of the last call. The error is never cached: the next call
 * loads again.
 *
 * @publicApi
 */
export class LazyLoadError extends ReservoirError {
  constructor(
    message: string,
    readonly key: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(message, { cause });
  }

  static create(key: string, attempts: number, cause: unknown): LazyLoadError {
    return new LazyLoadError(LazyMessages.loadFailed(key, attempts, cause), key, attempts, cause);
  }
}

/**
 * One loader call did not settle within `loadTimeoutMs`. It counts as a failed attempt (retried like
 * any other failure), and after the last attempt it is the `cause` of the `LazyLoadError`.
 *
 * @publicApi
 */
export class LazyTimeoutError extends ReservoirError {
  constructor(
    message: string,
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(message);
  }

  static create(key: string, timeoutMs: number, attempt: number): LazyTimeoutError {
    return new LazyTimeoutError(LazyMessages.loadTimedOut(key, timeoutMs, attempt), key, timeoutMs);
  }
}

/**
 * An invalid or unknown option in `LazyModule.forRoot()`, `@LazyResource()` or
 * `LazyLoader.register()`, or a registration that cannot work. Thrown at bootstrap.
 *
 * @publicApi
 */
export class LazyConfigError extends ReservoirError {
  static create(context: string, option: string, given: unknown, allowed: string): LazyConfigError {
    return new LazyConfigError(LazyMessages.invalidOption(context, option, given, allowed));
  }

  static duplicate(key: string): LazyConfigError {
    return new LazyConfigError(LazyMessages.duplicateResource(key));
  }

  static preloadNeedsNoArgs(resource: string, params: number): LazyConfigError {
    return new LazyConfigError(LazyMessages.preloadNeedsNoArgs(resource, params));
  }
}

/**
 * A cache key could not be built or resolved: arguments of a `@LazyResource()` method that cannot be
 * serialized, a `key()` function returning something other than a non-empty string, or a key that no
 * resource is registered under.
 *
 * @publicApi
 */
export class LazyKeyError extends ReservoirError {
  static unserializable(resource: string, index: number, given: unknown, why: string): LazyKeyError {
    return new LazyKeyError(LazyMessages.unserializableArgument(resource, index, given, why));
  }

  static badKeyResult(resource: string, given: unknown): LazyKeyError {
    return new LazyKeyError(LazyMessages.badKeyResult(resource, given));
  }

  static notRegistered(key: string): LazyKeyError {
    return new LazyKeyError(LazyMessages.notRegistered(key));
  }

  static invalidKey(method: string, given: unknown): LazyKeyError {
    return new LazyKeyError(LazyMessages.invalidKey(method, given));
  }

  static separatorInKey(method: string, given: string): LazyKeyError {
    return new LazyKeyError(LazyMessages.separatorInKey(method, given));
  }

  static notReloadable(key: string, resource: string): LazyKeyError {
    return new LazyKeyError(LazyMessages.notReloadable(key, resource));
  }
}

/**
 * Code running in one tenant's scope asked for another organisation's entry (`get`, `reload`, `peek`,
 * `version` or `isStale` with `organisationId`), and neither the call nor the resource sets
 * `allowCrossTenant`. Nothing was loaded or read.
 *
 * @publicApi
 */
export class LazyCrossTenantError extends ReservoirError {
  constructor(
    message: string,
    readonly key: string,
    /** The organisation of the scope the call came from. */
    readonly currentOrganisationId: string,
    /** The organisation the call asked for. */
    readonly requestedOrganisationId: string,
  ) {
    super(message);
  }

  static create(key: string, current: string, requested: string): LazyCrossTenantError {
    return new LazyCrossTenantError(
      LazyMessages.crossTenant(key, current, requested),
      key,
      current,
      requested,
    );
  }
}

/**
 * The loader was closed (`close()`, or the application shut down): `get`, `reload` and decorated
 * methods reject with this instead of loading. Loads already in flight settle but are not cached.
 *
 * @publicApi
 */
export class LazyClosedError extends ReservoirError {
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
  }

  static create(key: string): LazyClosedError {
    return new LazyClosedError(LazyMessages.closed(key), key);
  }
}
