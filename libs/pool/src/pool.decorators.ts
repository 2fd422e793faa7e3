import { Inject } from '@nestjs/common';
import { getPoolToken } from './pool.constants';

/**
 * Injects the `Pool` registered by `PoolModule.forRoot({ name })` (the default pool without a name).
 *
 * @publicApi
 * @example
 * ```ts
 * constructor(@InjectPool('reports') private readonly pool: Pool<Client>) {}
 * ```
 */
export function InjectPool(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getPoolToken(name));
}
