/**
 * Nest DI metadata for `TenantContext`. The class itself stays framework-free so that
 * `@reservoir/tenant/core` loads without `@nestjs/*`; this is what `@Injectable()` and
 * `@Optional() @Inject(TENANT_OPTIONS)` on its constructor did, applied by the Nest layer instead.
 * Imported for its side effect by `tenant.module.ts`, which every Nest entry of the lib loads.
 */
import { Inject, Injectable, Optional } from '@nestjs/common';
import { TENANT_OPTIONS } from './tenant.constants';
import { TenantContext } from './tenant.context';

Injectable()(TenantContext);
Optional()(TenantContext, undefined, 0);
Inject(TENANT_OPTIONS)(TenantContext, undefined, 0);

export { TenantContext };
