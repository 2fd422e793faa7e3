// Public API barrel: hand-picked.
export { TenantRequiredError, InvalidTenantError } from './tenant.errors';
