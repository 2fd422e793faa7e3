/**
 * Tenant preparation: validate on borrow, bind, rebind (one step) or unbind then bind, and unbind on
 * release. Every hook is bounded (the pool passes `bounded`, which applies `createTimeoutMs`); a
 * failure resolves to the destroy reason instead of rejecting, so the pool decides what happens to
 * the resource and the waiter. No pool state is touched here.
 */
import { PoolMessages } from './pool.messages';
import type { Slot } from './pool.slot';
import type { PoolDestroyReason, PoolLogger, ResourceFactory, TenantBinding } from './pool.types';

export type BoundedHook = <V>(result: V | PromiseLike<V>, hook: string) => Promise<V>;

export class TenantPreparer<T> {
  constructor(
    private readonly pool: string,
    private readonly factory: ResourceFactory<T>,
    private readonly binding: TenantBinding<T> | undefined,
    private readonly logger: PoolLogger,
    private readonly bounded: BoundedHook,
  ) {}

  /**
   * Validate (when `validate`) and/or (re)bind `slot` for tenant `org`. Resolves to a destroy reason
   * when the resource must not be lent, else undefined. Never rejects.
   */
  async prepare(
    slot: Slot<T>,
    org: string | undefined,
    validate: boolean,
  ): Promise<PoolDestroyReason | undefined> {
    const resource = slot.resource;
    if (validate) {
      let ok = false;
      try {
        ok = (await this.bounded(this.factory.validate!(resource), 'factory.validate')) === true;
      } catch (err) {
        this.logger.warn(PoolMessages.validateFailed(this.pool, err));
      }
      if (!ok) return 'validation';
    }
    const binding = this.binding;
    if (binding !== undefined && slot.boundTenant !== org) {
      const prev = slot.boundTenant;
      if (prev !== undefined && org !== undefined && binding.rebind !== undefined) {
        // One round trip instead of two; a failure leaves unknown state, so the resource goes.
        try {
          await this.bounded(binding.rebind(resource, prev, org), 'tenantBinding.rebind');
          slot.boundTenant = org;
          return undefined;
        } catch (err) {
          this.logger.warn(PoolMessages.unbindFailed(this.pool, prev, err));
          return 'unbind-failed';
        }
      }
      if (prev !== undefined) {
        try {
          await this.bounded(binding.unbind(resource, prev), 'tenantBinding.unbind');
          slot.boundTenant = undefined;
        } catch (err) {
          this.logger.warn(PoolMessages.unbindFailed(this.pool, prev, err));
          return 'unbind-failed';
        }
      }
      if (org !== undefined) {
        try {
          await this.bounded(binding.bind(resource, org), 'tenantBinding.bind');
          slot.boundTenant = org;
        } catch (err) {
          // A half-applied bind leaves unknown session state: never reuse.
          this.logger.warn(PoolMessages.bindFailed(this.pool, org, err));
          return 'broken';
        }
      }
    }
    return undefined;
  }

  /** Unbinds a released resource from its tenant; false when the unbind failed (destroy it). */
  async unbind(slot: Slot<T>): Promise<boolean> {
    return (await this.unbindResult(slot)) === undefined;
  }

  /** `unbind`, keeping the failure (any thrown value, boxed) for a caller that must report it. */
  async unbindResult(slot: Slot<T>): Promise<{ error: unknown } | undefined> {
    const org = slot.boundTenant!;
    try {
      await this.bounded(this.binding!.unbind(slot.resource, org), 'tenantBinding.unbind');
    } catch (err) {
      this.logger.warn(PoolMessages.unbindFailed(this.pool, org, err));
      return { error: err };
    }
    slot.boundTenant = undefined;
    return undefined;
  }
}
