import { ReservoirError } from '@reservoir/core';

/**
 * No tenant is in scope where one is required: a request without the tenant header, or a
 * tenant-scoped pool/lazy resource used outside `TenantContext.run()`.
 *
 * @publicApi
 */
export class TenantRequiredError extends ReservoirError {}

/**
 * A tenant id failed validation (empty, too long, not matching the pattern, repeated header, ...).
 *
 * @publicApi
 */
export class InvalidTenantError extends ReservoirError {}
