/** Internal tokens and metadata keys. Not exported from the barrel. */

/** DI token of the resolved, validated `TenantOptions`. */
export const TENANT_OPTIONS = 'RESERVOIR:TENANT_OPTIONS';

/** Reflect metadata key written by `@SkipTenant()`. */
export const SKIP_TENANT = 'RESERVOIR:SKIP_TENANT';
