import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { TenantContext } from '@reservoir/tenant';
import { LAZY_MODULE_OPTIONS } from './lazy.constants';
import { LazyLoaderCore } from './lazy-loader.core';
import type { LazyModuleOptions } from './lazy.options';

/**
 * The injectable loader: `LazyLoaderCore` (register / get / reload / invalidate / peek / version /
 * isStale / stats / events$ / ready) wired to Nest. Options are validated when the provider is
 * created, so a bad `LazyModule.forRoot()` fails bootstrap with `LazyConfigError`. Tenant-scoped
 * resources use `TenantContext` when `TenantModule` is imported; alerts go to the Nest `Logger`.
 * Preloads run in `onApplicationBootstrap`; retry timers stop in `onModuleDestroy`.
 *
 * @publicApi
 * @example
 * ```ts
 * constructor(private readonly lazy: LazyLoader) {
 *   lazy.register('pricing', () => this.db.loadPricing(), { staleAfterMs: 60_000 });
 * }
 * const pricing = await this.lazy.get<Pricing>('pricing');
 * ```
 */
@Injectable()
export class LazyLoader extends LazyLoaderCore implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(@Inject(LAZY_MODULE_OPTIONS) options: LazyModuleOptions, @Optional() tenant?: TenantContext) {
    super(options ?? {}, {
      tenantResolver: tenant ? () => tenant.organisationId : undefined,
      logger: new Logger('LazyLoader'),
    });
  }

  private bootstrapped = false;

  /** False until `onApplicationBootstrap` has run every preload, then as the core reports. */
  override get ready(): boolean {
    return this.bootstrapped && super.ready;
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.preload();
    } finally {
      this.bootstrapped = true;
    }
  }

  onModuleDestroy(): void {
    this.close();
  }
}
