import {
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { Pool } from './pool';
import {
  ConfigurableModuleClass,
  POOL_INSTANCE,
  type PoolModuleExtras,
  type PoolModuleOptions,
} from './pool.module-definition';

/**
 * Registers a `Pool` in the application: `forRoot(options)` or `forRootAsync({ imports, inject,
 * useFactory, name?, isGlobal? })`. Each call with its own `name` provides its own pool under
 * `getPoolToken(name)` (inject it with `@InjectPool(name)`), and every pool is listed by the shared
 * `PoolRegistry`.
 *
 * Lifecycle: options are validated when the pool is built (bootstrap), `start()` prefills `min`
 * resources in `onModuleInit`, and `close()` drains the pool in `onApplicationShutdown` (call
 * `app.enableShutdownHooks()` so SIGTERM reaches it).
 *
 * With `TenantModule` imported, a pool that uses tenant features gets its `tenantResolver` from
 * `TenantContext` (see `tenantAware`).
 *
 * @publicApi
 * @example
 * ```ts
 * PoolModule.forRootAsync({
 *   name: 'main',
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ factory: pgClientFactory(config.get('DATABASE_URL')), min: 2, max: 10 }),
 * })
 * ```
 */
@Module({})
export class PoolModule extends ConfigurableModuleClass implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(POOL_INSTANCE) private readonly pool: Pool<unknown>) {
    super();
  }

  /**
   * Same as the generated `forRoot`, typed by the resource so inline factories infer `T`.
   */
  static override forRoot<T>(options: PoolModuleOptions<T> & PoolModuleExtras): DynamicModule {
    return super.forRoot(options as PoolModuleOptions & PoolModuleExtras);
  }

  async onModuleInit(): Promise<void> {
    await this.pool.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
  }
}
