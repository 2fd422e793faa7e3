/**
 * Every text the pool core puts in an error or a log line, in one file (like terminus's
 * `messages.constant.ts`), so wording stays consistent and the abuse spec can pin it.
 */
import { describeValue } from '@reservoir/core';

/** Counts quoted in timeout/exhausted messages, HikariCP-style `(total, active, idle, waiting)`. */
export interface PoolCounts {
  total: number;
  inUse: number;
  idle: number;
  waiting: number;
}

const counts = (c: PoolCounts): string =>
  `total=${c.total}, inUse=${c.inUse}, idle=${c.idle}, waiting=${c.waiting}`;

/** Tenant ids come from requests: quote them so control characters never reach a log unescaped. */
export const quoteTenant = (organisationId: string | undefined): string =>
  organisationId === undefined ? 'none' : JSON.stringify(organisationId);

const errorText = (err: unknown): string =>
  err instanceof Error ? `${err.name}: ${err.message}` : describeValue(err);

export const PoolMessages = {
  invalidOption: (scope: string, option: string, given: unknown, allowed: string): string =>
    allowed.startsWith('no such option')
      ? `${scope}: unknown option "${option}" (given ${describeValue(given)}); ${allowed.replace('no such option; ', '')}.`
      : `${scope}: invalid option "${option}": given ${describeValue(given)}, expected ${allowed}.`,

  acquireTimeout: (
    pool: string,
    timeoutMs: number,
    c: PoolCounts,
    organisationId: string | undefined,
    lastCreateError: unknown,
  ): string =>
    `Pool "${pool}": acquire timed out after ${timeoutMs} ms (${counts(c)}, tenant=${quoteTenant(organisationId)}).` +
    (lastCreateError !== undefined
      ? ` Creating resources is failing (last error: ${errorText(lastCreateError)}); check the factory's backend.`
      : ' Raise max or acquireTimeoutMs, or find who holds resources too long (leakDetectionMs).'),

  startTimeout: (
    pool: string,
    timeoutMs: number,
    min: number,
    size: number,
    lastCreateError: unknown,
  ): string =>
    `Pool "${pool}": start() could not create min=${min} resources within ${timeoutMs} ms (have ${size}).` +
    (lastCreateError !== undefined ? ` Last create error: ${errorText(lastCreateError)}.` : '') +
    ' The pool keeps retrying in the background.',

  createTimeout: (pool: string, timeoutMs: number): string =>
    `Pool "${pool}": factory.create did not settle within createTimeoutMs=${timeoutMs} ms.`,

  exhausted: (pool: string, maxWaiting: number, c: PoolCounts, organisationId: string | undefined): string =>
    `Pool "${pool}": no resource free and the wait queue is full (maxWaiting=${maxWaiting}; ${counts(c)}, tenant=${quoteTenant(organisationId)}). ` +
    'Raise max or maxWaiting, or shed load upstream.',

  closed: (pool: string): string => `Pool "${pool}" is closed; it lends no more resources.`,
  closedWhileWaiting: (pool: string): string => `Pool "${pool}" was closed while this acquire was waiting.`,

  releaseUnknown: (pool: string): string =>
    `Pool "${pool}": release/destroy of a resource this pool does not know (never acquired here, or already destroyed).`,
  releaseNotLeased: (pool: string): string =>
    `Pool "${pool}": release/destroy of a resource that is not leased (released twice?). Pool state is unchanged.`,

  tenantRequired: (pool: string): string =>
    `Pool "${pool}" requires a tenant (requireTenant: true), but acquire() got no organisationId and no tenant is in scope. ` +
    'Pass { organisationId } or run inside TenantContext.run().',

  abortedDefault: (pool: string): string => `Pool "${pool}": acquire aborted.`,

  // Log lines
  createFailed: (pool: string, consecutive: number, retryInMs: number, err: unknown): string =>
    `Pool "${pool}": factory.create failed (${consecutive} in a row), retrying in ${retryInMs} ms: ${errorText(err)}`,
  createRecovered: (pool: string, failures: number): string =>
    `Pool "${pool}": factory.create succeeded again after ${failures} consecutive failures.`,
  destroyFailed: (pool: string, err: unknown): string =>
    `Pool "${pool}": factory.destroy failed (resource dropped anyway): ${errorText(err)}`,
  hookTimedOut: (pool: string, hook: string, timeoutMs: number): string =>
    `Pool "${pool}": ${hook} did not settle within ${timeoutMs} ms (createTimeoutMs); the resource is treated as broken and destroyed.`,
  destroyTimedOut: (pool: string, timeoutMs: number): string =>
    `Pool "${pool}": factory.destroy did not settle within ${timeoutMs} ms; counting the resource as gone.`,
  lateCreateDestroyed: (pool: string): string =>
    `Pool "${pool}": a create finished after it timed out or the pool closed; the resource was destroyed.`,
  brokenIdle: (pool: string, err: unknown): string =>
    `Pool "${pool}": a resource reported an error and was removed: ${errorText(err)}`,
  brokenLeased: (pool: string, err: unknown): string =>
    `Pool "${pool}": a leased resource reported an error; it will be destroyed when its lease ends: ${errorText(err)}`,
  brokenBeforeUnbind: (pool: string, organisationId: string): string =>
    `Pool "${pool}": the resource leased for tenant ${quoteTenant(organisationId)} broke during the lease, so tenantBinding.unbind could not run; in transaction mode that unbind is the COMMIT, so the lease's work was rolled back with the connection`,
  forcedBeforeUnbind: (pool: string, organisationId: string, shutdownTimeoutMs: number): string =>
    `Pool "${pool}": close() destroyed the resource leased for tenant ${quoteTenant(organisationId)} after waiting shutdownTimeoutMs (${shutdownTimeoutMs} ms), before tenantBinding.unbind ran; in transaction mode that unbind is the COMMIT, so the lease's work was rolled back`,
  commitRolledBack: (setting: string): string =>
    `pgTenantBinding (transaction mode, ${setting}): COMMIT on release answered ROLLBACK: the lease's transaction had failed, so its work was rolled back (a statement error was caught inside the callback?)`,
  commitWithoutTransaction: (setting: string): string =>
    `pgTenantBinding (transaction mode, ${setting}): COMMIT on release found no transaction in progress: the lease's transaction ended early, either by a COMMIT/ROLLBACK inside the callback (use SAVEPOINTs instead) or because a pooler sent the COMMIT to another server connection, so its work may not be committed`,
  unbindAfterUse: (pool: string, organisationId: string, err: unknown): string =>
    `Pool "${pool}": use() for tenant ${quoteTenant(organisationId)} finished, but tenantBinding.unbind on release failed or could not run, so its work may not be committed (in transaction mode the unbind is the COMMIT); the resource was destroyed: ${errorText(err)}`,
  unbindFailed: (pool: string, organisationId: string, err: unknown): string =>
    `Pool "${pool}": tenantBinding.unbind failed for tenant ${quoteTenant(organisationId)}; the resource was destroyed, never reused: ${errorText(err)}`,
  bindFailed: (pool: string, organisationId: string, err: unknown): string =>
    `Pool "${pool}": tenantBinding.bind failed for tenant ${quoteTenant(organisationId)}; the resource was destroyed: ${errorText(err)}`,
  validateFailed: (pool: string, err: unknown): string =>
    `Pool "${pool}": validate threw; the resource was destroyed: ${errorText(err)}`,
  leak: (pool: string, heldMs: number, organisationId: string | undefined, stack: string): string =>
    `Pool "${pool}": possible leak: a resource has been held for ${heldMs} ms (tenant=${quoteTenant(organisationId)}) without release. Acquired at:\n${stack}`,
  healthChanged: (pool: string, from: string, to: string, reasons: readonly string[]): string =>
    `Pool "${pool}": health ${from} -> ${to}${reasons.length ? ` (${reasons.join('; ')})` : ''}`,
  shutdownForced: (pool: string, loans: number, timeoutMs: number): string =>
    `Pool "${pool}": ${loans} resource(s) still leased after shutdownTimeoutMs=${timeoutMs} ms; destroying them anyway.`,

  // Health reasons
  reasonClosed: (): string => 'pool is closed',
  reasonUtilization: (utilization: number, threshold: number): string =>
    `utilization ${utilization.toFixed(2)} >= ${threshold}`,
  reasonTimeouts: (count: number, windowMs: number): string =>
    `${count} acquire timeout(s) within the last ${windowMs} ms`,
  reasonCreateFailures: (consecutive: number): string =>
    `factory.create failed ${consecutive} times in a row`,
  reasonWaitP99: (p99: number, threshold: number): string =>
    `acquire wait p99 ${Math.round(p99)} ms > ${threshold} ms`,
  reasonOverdueLeases: (count: number): string =>
    `${count} lease(s) held longer than leakDetectionMs (a stuck query or a silent connection?)`,
  reasonUnhealthyFor: (forMs: number, threshold: number, waitMs: number, waitThreshold: number): string =>
    `UNHEALTHY for ${Math.round(forMs)} ms >= failingAfterMs ${threshold} ms, with callers waiting ${Math.round(waitMs)} ms > degradedWaitP99Ms ${waitThreshold} ms`,
  closedInfo: (pool: string): string => `Pool "${pool}": closed`,
} as const;
