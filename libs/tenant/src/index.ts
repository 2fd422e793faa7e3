// Public API barrel: hand-picked. Internal tokens and the AsyncLocalStorage instance stay private.
export { TenantModule } from './tenant.module';
export type { TenantModuleAsyncOptions } from './tenant.module-definition';
export {
  TenantOptions,
  type TenantModuleOptions,
  type TenantResolver,
  type TenantExecutionContext,
} from './tenant.options';
export { TenantInterceptor, type TenantErrorBody } from './tenant.interceptor';
export { TenantContext } from './tenant.context.nest';
export { SkipTenant, CurrentTenant } from './tenant.decorators';
export { TenantError, TenantRequiredError, InvalidTenantError, TenantConfigError } from './tenant.errors';
export { TenantIdValidator, type TenantIdRules } from './tenant.validator';
export { getCurrentTenant } from './tenant.store';
export { escapeTenantValue, type TenantProblem } from './tenant.messages';
