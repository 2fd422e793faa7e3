import { findEvictions, scanLeases } from './pool.housekeeper';
import { Slot } from './pool.slot';
import { TenantRecord } from './pool.wait-queue';

const slot = (createdAt: number, expiresAt = Infinity) => new Slot<object>({}, createdAt, expiresAt);

describe('housekeeper', () => {
  it('evicts past-lifetime resources always, idle ones only above min, longest idle first', () => {
    const old = slot(0);
    const young = slot(0);
    const expired = slot(0, 500);
    old.park(0, true);
    young.park(900, true);
    expired.park(950, true);
    const v = findEvictions([old, young, expired], 1, 600, 1000);
    expect(v).toEqual([
      [old, 'idle'],
      [expired, 'lifetime'],
    ]);
    expect(findEvictions([old], 0, 600, 1000)).toEqual([]); // at min: kept
  });

  it('counts idle time from its first sighting when the idle stamp was coarse (never early)', () => {
    const s = slot(0);
    s.park(0, false); // coarse stamp: may be far earlier than the real release
    expect(findEvictions([s], 1, 600, 1000)).toEqual([]);
    expect(s.lastReturnedAt).toBe(1000);
    expect(findEvictions([s], 1, 600, 1500)).toEqual([]);
    expect(findEvictions([s], 1, 600, 1600)).toEqual([[s, 'idle']]);
  });

  it('reports each overdue lease once and counts every overdue lease', () => {
    const rec = new TenantRecord<object>(undefined, Infinity);
    const a = slot(0);
    const b = slot(0);
    a.lend(rec, undefined, undefined);
    b.lend(rec, undefined, undefined);
    a.acquiredAt = 0;
    b.acquiredAt = 900;
    expect(scanLeases([a, b], 500, 1000)).toEqual({ overdue: 1, newLeaks: [a] });
    expect(scanLeases([a, b], 500, 1500)).toEqual({ overdue: 2, newLeaks: [b] });
    expect(scanLeases([a, b], 500, 1600)).toEqual({ overdue: 2, newLeaks: [] });
  });
});
