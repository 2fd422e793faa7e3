import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type Provider,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import { TenantContext } from '@reservoir/tenant';
import { LAZY_CORE, LAZY_MODULE_OPTIONS } from './lazy.constants';
import type { LazyEvent } from './lazy.events';
import {
  LazyLoaderCore,
  type LazyInvalidateOptions,
  type LazyLoaderCoreDeps,
  type LazyMetricsTracker,
  type LazyReadOptions,
  type LazyResourceStats,
  type LazyStats,
} from './lazy-loader.core';
import type { LazyModuleOptions, LazyRegisterOptions, ResolvedModuleOptions } from './lazy.options';

/**
 * The core's host services under Nest: the tenant from `TenantContext` when `TenantModule` is
 * imported, loaders run in their entry's scope through `TenantContext.run()` / `runOutside()`, and
 * alerts go to the Nest `Logger`.
 */
export function createLazyCore(
  options: LazyModuleOptions | undefined,
  tenant?: TenantContext,
): LazyLoaderCore {
  const deps: LazyLoaderCoreDeps = { logger: new Logger('LazyLoader') };
  if (tenant !== undefined && tenant !== null) {
    deps.tenantResolver = () => tenant.organisationId;
    deps.runAs = (org, fn) => (org === undefined ? tenant.runOutside(fn) : tenant.run(org, fn));
  }
  return new LazyLoaderCore(options ?? {}, deps);
}

/**
 * The injectable loader: a thin Nest layer over `LazyLoaderCore` (which it wraps, not extends).
 * Options are validated when the provider is created, so a bad `LazyModule.forRoot()` fails bootstrap
 * with `LazyConfigError`. Tenant-scoped resources use `TenantContext` when `TenantModule` is imported,
 * and every loader runs in the scope of the entry it fills. Preloads run in `onApplicationBootstrap`;
 * the loader closes in `onModuleDestroy` (later calls reject with `LazyClosedError`).
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
export class LazyLoader implements OnApplicationBootstrap, OnModuleDestroy {
  private bootstrapped = false;

  constructor(@Inject(LAZY_CORE) private readonly core: LazyLoaderCore) {}

  /** Validated module options (defaults for every resource). */
  get options(): ResolvedModuleOptions {
    return this.core.options;
  }

  /** Loads, hits, misses, retries, evictions and alerts. Events are only built while observed. */
  get events$(): Observable<LazyEvent> {
    return this.core.events$;
  }

  /** See `LazyLoaderCore.register()`. */
  register<T>(key: string, loader: () => T | Promise<T>, options?: LazyRegisterOptions): void {
    this.core.register(key, loader, options);
  }

  isRegistered(key: string): boolean {
    return this.core.isRegistered(key);
  }

  /** See `LazyLoaderCore.get()`. */
  get<T>(key: string, options?: LazyReadOptions): Promise<T> {
    return this.core.get<T>(key, options);
  }

  /** See `LazyLoaderCore.reload()`. */
  reload<T>(key: string, options?: LazyReadOptions): Promise<T> {
    return this.core.reload<T>(key, options);
  }

  /** See `LazyLoaderCore.invalidate()`. */
  invalidate(keyOrPrefix: string, options?: LazyInvalidateOptions): number {
    return this.core.invalidate(keyOrPrefix, options);
  }

  peek<T>(key: string, options?: LazyReadOptions): T | undefined {
    return this.core.peek<T>(key, options);
  }

  version(key: string, options?: LazyReadOptions): number {
    return this.core.version(key, options);
  }

  isStale(key: string, options?: LazyReadOptions): boolean {
    return this.core.isStale(key, options);
  }

  stats(): LazyStats;
  stats(resource: string): LazyResourceStats;
  stats(resource?: string): LazyStats | LazyResourceStats {
    return resource === undefined ? this.core.stats() : this.core.stats(resource);
  }

  resourceNames(): string[] {
    return this.core.resourceNames();
  }

  now(): number {
    return this.core.now();
  }

  /** See `LazyLoaderCore.addMetricsTracker()`. */
  addMetricsTracker(tracker: LazyMetricsTracker): () => void {
    return this.core.addMetricsTracker(tracker);
  }

  /** See `LazyLoaderCore.preload()`; `onApplicationBootstrap` calls it. */
  preload(): Promise<{ loaded: string[]; failed: string[] }> {
    return this.core.preload();
  }

  /** False until `onApplicationBootstrap` has run every preload, then as the core reports. */
  get ready(): boolean {
    return this.bootstrapped && this.core.ready;
  }

  /** See `LazyLoaderCore.close()`. */
  close(): void {
    this.core.close();
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.core.preload();
    } finally {
      this.bootstrapped = true;
    }
  }

  onModuleDestroy(): void {
    this.core.close();
  }
}

/** The provider of the wrapped core (internal token). */
export const lazyCoreProvider: Provider = {
  provide: LAZY_CORE,
  useFactory: createLazyCore,
  inject: [LAZY_MODULE_OPTIONS, { token: TenantContext, optional: true }],
};
