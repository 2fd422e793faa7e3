import { withDeadline } from '@reservoir/core';
import { Slot } from './pool.slot';
import { TenantPreparer } from './pool.tenant-prep';
import { FakeBinding, FakeFactory, FakeResource, captureLogger } from './fake-factory.helper-spec';

const bounded = <V>(r: V | PromiseLike<V>, hook: string): Promise<V> =>
  withDeadline(r, 50, () => new Error(`${hook} timed out`));

function setup(binding = new FakeBinding()) {
  const factory = new FakeFactory();
  const logger = captureLogger();
  const prep = new TenantPreparer<FakeResource>('t', factory, binding, logger, bounded);
  const slot = new Slot(new FakeResource(1), 0, Infinity);
  return { prep, factory, binding, logger, slot };
}

describe('TenantPreparer', () => {
  it('binds an unbound resource, then rebinds in one step when the binding can', async () => {
    const { prep, binding, slot } = setup(new FakeBinding().useRebind());
    await expect(prep.prepare(slot, 'A', false)).resolves.toBeUndefined();
    expect(slot.boundTenant).toBe('A');
    await expect(prep.prepare(slot, 'B', false)).resolves.toBeUndefined();
    expect(slot).toMatchObject({ boundTenant: 'B', resource: { session: 'B' } });
    expect(binding.calls).toEqual(['bind:1:A', 'rebind:1:A->B']);
  });

  it('without rebind: unbind then bind; a failing bind means broken', async () => {
    const { prep, binding, slot } = setup();
    await prep.prepare(slot, 'A', false);
    binding.failBind = true;
    await expect(prep.prepare(slot, 'B', false)).resolves.toBe('broken');
    expect(binding.calls).toEqual(['bind:1:A', 'unbind:1:A', 'bind:1:B']);
  });

  it('validates only when asked; a failed validation is a destroy reason, not a throw', async () => {
    const { prep, factory, slot } = setup();
    await prep.prepare(slot, undefined, false);
    expect(factory.validateCalls).toBe(0);
    factory.validateResult = () => false;
    await expect(prep.prepare(slot, undefined, true)).resolves.toBe('validation');
  });

  it('unbind reports failure instead of throwing, and bounds a hung hook', async () => {
    const { prep, binding, slot, logger } = setup();
    await prep.prepare(slot, 'A', false);
    binding.unbind = () => new Promise<void>(() => undefined);
    await expect(prep.unbind(slot)).resolves.toBe(false);
    expect(logger.lines.join()).toMatch(/tenantBinding.unbind failed/);
    expect(slot.boundTenant).toBe('A');
  });
});
