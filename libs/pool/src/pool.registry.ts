import { Global, Injectable, Module } from '@nestjs/common';
import type { Pool } from './pool';
import { DEFAULT_POOL_NAME } from './pool.constants';
import { poolModuleError } from './pool.module-messages';

/**
 * Every pool registered in this application by `PoolModule.forRoot`/`forRootAsync`, by name.
 * Metrics, the dashboard and `PoolHealthIndicator` read pools from here.
 *
 * One instance per application (it lives in a global internal module that every `PoolModule`
 * imports), so state stays inside DI and two apps in one process never share pools.
 *
 * @publicApi
 */
@Injectable()
export class PoolRegistry {
  private readonly pools = new Map<string, Pool<unknown>>();

  /**
   * Adds a pool. Called by `PoolModule`; two pools with one name are a configuration error.
   * @internal
   */
  register(pool: Pool<unknown>): void {
    if (this.pools.has(pool.name)) throw poolModuleError.duplicateName(pool.name);
    this.pools.set(pool.name, pool);
  }

  /** The pool registered under `name` (the default pool without a name), or `undefined`. */
  get<T = unknown>(name: string = DEFAULT_POOL_NAME): Pool<T> | undefined {
    return this.pools.get(name) as Pool<T> | undefined;
  }

  has(name: string = DEFAULT_POOL_NAME): boolean {
    return this.pools.has(name);
  }

  /** Every registered pool, in registration order. */
  all(): Pool<unknown>[] {
    return [...this.pools.values()];
  }

  /** Names of every registered pool, in registration order. */
  names(): string[] {
    return [...this.pools.keys()];
  }
}

/**
 * Internal, global: imported by every `PoolModule` so all of them share one `PoolRegistry`.
 * Not exported from the barrel.
 */
@Global()
@Module({ providers: [PoolRegistry], exports: [PoolRegistry] })
export class PoolRegistryModule {}
