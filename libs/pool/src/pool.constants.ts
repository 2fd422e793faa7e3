/**
 * Public constants of the pool's Nest layer. Internal DI tokens live in `pool.module-definition.ts`
 * and are not exported from the barrel.
 */

/**
 * Name of a pool registered without `name`.
 *
 * @publicApi
 */
export const DEFAULT_POOL_NAME = 'default';

/** Prefix of every pool DI token, namespaced like Terminus' `'TERMINUS:MODULE_OPTIONS'`. */
export const POOL_TOKEN_PREFIX = 'RESERVOIR:POOL:';

/**
 * The DI token under which `PoolModule.forRoot({ name })` provides its `Pool`.
 *
 * @publicApi
 * @example
 * ```ts
 * { provide: Repo, useFactory: (pool: Pool<Client>) => new Repo(pool), inject: [getPoolToken('reports')] }
 * ```
 */
export function getPoolToken(name: string = DEFAULT_POOL_NAME): string {
  return `${POOL_TOKEN_PREFIX}${name}`;
}
