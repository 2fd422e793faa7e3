/**
 * Errors of the pool's Nest layer (`PoolModule`, `PoolRegistry`): what only the module can get
 * wrong. The core's texts live in `pool.messages.ts`; these follow the same shape and each says
 * how to fix the problem.
 * @internal
 */
import { describeValue, OptionChecker } from '@reservoir/core';
import { PoolConfigError } from './pool.errors';

export const PoolModuleMessages = {
  duplicateName: (name: string): string =>
    `PoolModule: two pools are registered with the name "${name}". ` +
    'Give each PoolModule.forRoot()/forRootAsync() call its own `name`.',
  nameMismatch: (registered: string, returned: unknown): string =>
    `PoolModule: forRootAsync() was registered as "${registered}", but its factory returned name ` +
    `${describeValue(returned)}. The DI token is fixed before the factory runs, so pass \`name\` next to ` +
    '`useFactory` and leave it out of the returned options (or make both equal).',
  tenantModuleMissing: (name: string): string =>
    `PoolModule: pool "${name}" sets tenantAware: true, but no TenantContext is available. ` +
    'Import TenantModule.forRoot() in the application module, or drop tenantAware and pass ' +
    '`organisationId` to acquire() yourself.',
};

export const poolModuleError = {
  duplicateName: (name: string): PoolConfigError =>
    new PoolConfigError(name, PoolModuleMessages.duplicateName(name), 'name', name),
  nameMismatch: (registered: string, returned: unknown): PoolConfigError =>
    new PoolConfigError(registered, PoolModuleMessages.nameMismatch(registered, returned), 'name', returned),
  tenantModuleMissing: (name: string): PoolConfigError =>
    new PoolConfigError(name, PoolModuleMessages.tenantModuleMissing(name), 'tenantAware', true),
};

/** Validates module-level options with the core's message shape, scoped `PoolModule`. */
export function moduleChecker(pool: string): OptionChecker {
  return new OptionChecker((option, given, allowed) =>
    PoolConfigError.invalidOption(pool, option, given, allowed, 'PoolModule'),
  );
}
