import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { TenantModuleOptions } from './tenant.options';

/**
 * `forRoot` / `forRootAsync` plumbing. The module is always global, so `PoolModule` and `LazyModule`
 * find `TenantContext` by optional injection without extra wiring.
 */
export const {
  ConfigurableModuleClass: TenantConfigurableModule,
  MODULE_OPTIONS_TOKEN: TENANT_MODULE_OPTIONS,
  OPTIONS_TYPE: TENANT_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: TENANT_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<TenantModuleOptions>({ moduleName: 'Tenant' })
  .setClassMethodName('forRoot')
  .setExtras({}, (definition) => ({ ...definition, global: true }))
  .build();

/** @publicApi */
export type TenantModuleAsyncOptions = typeof TENANT_ASYNC_OPTIONS_TYPE;
