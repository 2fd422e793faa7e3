import { SetMetadata } from '@nestjs/common';
import { LAZY_RESOURCE_METADATA } from './lazy.constants';
import type { LazyResourceOptions } from './lazy.options';

/**
 * Caches a provider method as a lazy resource: the first call with given arguments loads, later calls
 * hit; concurrent calls share one load; failures are retried and never cached; entries are
 * namespaced by organisation. The method should return a Promise (the wrapped method always does).
 *
 * The decorator only writes metadata; `LazyModule`'s explorer wraps the method on the instance at
 * `onModuleInit` (request-scoped providers are skipped with a warning). The cache key is
 * `ClassName.method` plus a stable serialization of the arguments, or `key(...args)`.
 * Options are validated at bootstrap (`LazyConfigError`).
 *
 * @publicApi
 * @example
 * ```ts
 * @LazyResource({ staleAfterMs: 30_000, retry: { attempts: 5 } })
 * async featureFlags(app: string): Promise<Flags> { return this.http.getFlags(app); }
 * ```
 */
export function LazyResource(options: LazyResourceOptions = {}): MethodDecorator {
  return SetMetadata(LAZY_RESOURCE_METADATA, options);
}
