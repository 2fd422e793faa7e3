/** Internal tokens and metadata keys. Not exported from the barrel. */

/** Injection token of the validated `LazyModule` options. */
export const LAZY_MODULE_OPTIONS = 'RESERVOIR:LAZY_MODULE_OPTIONS';

/** Metadata key written by `@LazyResource()` on the decorated method. */
export const LAZY_RESOURCE_METADATA = 'RESERVOIR:LAZY_RESOURCE';

/**
 * Separates the organisation id from the entry key in a tenant's store keys (`org \0 entryKey`); a
 * global entry's store key is its entry key alone, so entry keys may not contain it.
 */
export const TENANT_SEPARATOR = '\u0000';

/** Marks a wrapper installed by the explorer, so a method is never wrapped twice. */
export const LAZY_WRAPPED = Symbol('reservoir.lazy.wrapped');

/** Injection token of the `LazyLoaderCore` that `LazyLoader` wraps and the explorer registers on. */
export const LAZY_CORE = 'RESERVOIR:LAZY_CORE';
