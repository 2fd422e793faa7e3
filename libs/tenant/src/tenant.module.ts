import { type DynamicModule, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TENANT_OPTIONS } from './tenant.constants';
import { TenantContext } from './tenant.context.nest';
import { TenantInterceptor } from './tenant.interceptor';
import {
  TENANT_MODULE_OPTIONS,
  TENANT_OPTIONS_TYPE,
  TenantConfigurableModule,
  type TenantModuleAsyncOptions,
} from './tenant.module-definition';
import { type TenantModuleOptions, resolveTenantOptions } from './tenant.options';

/**
 * Tenant context for the whole app: validates the options at bootstrap (`TenantConfigError`),
 * provides `TenantContext`, and registers `TenantInterceptor` globally. Always global.
 *
 * @example TenantModule.forRoot({ header: 'x-org' })
 * @example TenantModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => c.get('tenant') })
 * @publicApi
 */
@Module({
  providers: [
    { provide: TENANT_OPTIONS, useFactory: resolveTenantOptions, inject: [TENANT_MODULE_OPTIONS] },
    TenantContext,
    TenantInterceptor,
    { provide: APP_INTERCEPTOR, useExisting: TenantInterceptor },
  ],
  exports: [TENANT_OPTIONS, TenantContext, TenantInterceptor],
})
export class TenantModule extends TenantConfigurableModule {
  /** Every option is optional; `TenantModule.forRoot()` uses the defaults. */
  static override forRoot(options: TenantModuleOptions = {}): DynamicModule {
    return super.forRoot(options as typeof TENANT_OPTIONS_TYPE);
  }

  static override forRootAsync(options: TenantModuleAsyncOptions): DynamicModule {
    return super.forRootAsync(options);
  }
}
