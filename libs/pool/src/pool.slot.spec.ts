import { BUSY, GONE, IDLE, LEASED, Slot } from './pool.slot';
import { TenantRecord } from './pool.wait-queue';

describe('Slot transitions', () => {
  it('lend -> endLease -> park -> retire, keeping fields consistent', () => {
    const slot = new Slot<object>({}, 100, 5000);
    expect(slot).toMatchObject({ state: IDLE, fresh: true, lastReturnedAt: 100, leaseGen: 0 });
    const rec = new TenantRecord<object>('A', 2);
    const stack = new Error('here');
    slot.lend(rec, 'A', stack);
    expect(slot).toMatchObject({ state: LEASED, org: 'A', rec, stack, fresh: false, leaseGen: 1 });
    expect(slot.endLease()).toBe(rec);
    expect(slot).toMatchObject({ state: BUSY, rec: undefined, stack: undefined });
    slot.park(200, false);
    expect(slot).toMatchObject({ state: IDLE, lastReturnedAt: 200, idleSeen: false });
    slot.lend(rec, 'A', undefined);
    expect(slot.leaseGen).toBe(2); // use() tells its own lease from the next one by this
    slot.reserve();
    expect(slot.state).toBe(BUSY);
    expect(slot.retire()).toBe(true);
    expect(slot.state).toBe(GONE);
    expect(slot.retire()).toBe(false); // idempotent
  });
});
