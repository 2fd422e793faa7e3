import { ConfigurableModuleBuilder } from '@nestjs/common';
import { LAZY_MODULE_OPTIONS } from './lazy.constants';
import type { LazyModuleOptions } from './lazy.options';

/** Extras of `LazyModule.forRoot()` / `forRootAsync()`, stripped before the options are validated. */
export interface LazyModuleExtras {
  /**
   * Register the module globally, so `LazyLoader` can be injected everywhere.
   * @default false
   */
  isGlobal?: boolean;
}

export const {
  ConfigurableModuleClass: LazyConfigurableModule,
  OPTIONS_TYPE: LAZY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: LAZY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<LazyModuleOptions>({ optionsInjectionToken: LAZY_MODULE_OPTIONS })
  .setClassMethodName('forRoot')
  .setExtras<LazyModuleExtras>({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

/** Options of `LazyModule.forRootAsync()`. @publicApi */
export type LazyModuleAsyncOptions = typeof LAZY_ASYNC_OPTIONS_TYPE;
