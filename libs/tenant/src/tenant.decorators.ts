import { type CustomDecorator, SetMetadata, createParamDecorator } from '@nestjs/common';
import { SKIP_TENANT } from './tenant.constants';
import { getCurrentTenant } from './tenant.store';

/**
 * Lets a route (or every route of a controller or gateway) through without a tenant, e.g.
 * `/health` and `/metrics`. The handler runs outside any tenant scope.
 *
 * @publicApi
 */
export const SkipTenant = (): CustomDecorator<string> => SetMetadata(SKIP_TENANT, true);

/**
 * Injects the current organisation id (`string | undefined`) into a handler parameter.
 *
 * @example @Get() list(@CurrentTenant() org: string) { ... }
 * @publicApi
 */
export const CurrentTenant = createParamDecorator((_data: unknown): string | undefined => getCurrentTenant());
