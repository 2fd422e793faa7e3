import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { LazyExplorer } from './lazy.explorer';
import { LazyHealthIndicator } from './lazy.health';
import { LazyLoader, lazyCoreProvider } from './lazy-loader.service';
import { LazyMetadataAccessor } from './lazy-metadata.accessor';
import {
  LAZY_OPTIONS_TYPE,
  LazyConfigurableModule,
  type LazyModuleAsyncOptions,
  type LazyModuleExtras,
} from './lazy.module-definition';
import type { LazyModuleOptions } from './lazy.options';

/**
 * On-demand loading with caching for Nest: provides `LazyLoader` and activates `@LazyResource()`.
 * Options are module defaults for every resource, validated at bootstrap (`LazyConfigError`).
 * Imports `TenantModule`'s `TenantContext` when present (optional).
 *
 * @publicApi
 * @example LazyModule.forRoot({ isGlobal: true, staleAfterMs: 60_000, maxEntries: 50_000 })
 * @example LazyModule.forRootAsync({ isGlobal: true, inject: [ConfigService], useFactory: (c) => c.get('lazy') })
 */
@Module({
  imports: [DiscoveryModule],
  providers: [lazyCoreProvider, LazyLoader, LazyMetadataAccessor, LazyExplorer, LazyHealthIndicator],
  exports: [LazyLoader, LazyHealthIndicator],
})
export class LazyModule extends LazyConfigurableModule {
  /** Every option is optional; `LazyModule.forRoot()` uses the defaults. */
  static override forRoot(options: LazyModuleOptions & LazyModuleExtras = {}): DynamicModule {
    return super.forRoot(options as typeof LAZY_OPTIONS_TYPE);
  }

  static override forRootAsync(options: LazyModuleAsyncOptions): DynamicModule {
    return super.forRootAsync(options);
  }
}
