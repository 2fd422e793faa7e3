// Framework-free entry (`@reservoir/tenant/core`): the AsyncLocalStorage tenant context, id rules
// and errors, no `@nestjs/*` at run time. For cron jobs, queue consumers, scripts and the pool and
// lazy cores. The root barrel re-exports all of this next to the Nest layer.
export { TenantContext } from './tenant.context';
export {
  TenantOptions,
  type TenantModuleOptions,
  type TenantResolver,
  type TenantExecutionContext,
} from './tenant.options';
export { TenantError, TenantRequiredError, InvalidTenantError, TenantConfigError } from './tenant.errors';
export { TenantIdValidator, type TenantIdRules } from './tenant.validator';
export { getCurrentTenant } from './tenant.store';
export { escapeTenantValue, type TenantProblem } from './tenant.messages';
