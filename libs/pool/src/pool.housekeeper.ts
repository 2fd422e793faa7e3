/**
 * The housekeeper's decisions, as functions of the pool's slots and one precise `now` (the tick's):
 * which idle resources to evict (lifetime, then idle time above `min`) and which leases are overdue
 * (leak detection). The pool runs them on its maintenance tick and acts on the result; nothing here
 * destroys, logs or emits.
 */
import { LEASED, type Slot } from './pool.slot';
import type { PoolDestroyReason } from './pool.types';

/**
 * Idle resources to retire now: every one past its lifetime, and, while the pool is above `min`,
 * the ones idle for `idleTimeoutMs` (0 = never), longest idle first. A coarse idle stamp may run
 * early, so a resource not yet seen idle starts counting from this sighting instead: eviction can be
 * late by one tick, never early.
 */
export function findEvictions<T>(
  idle: readonly Slot<T>[],
  excess: number,
  idleTimeoutMs: number,
  now: number,
): [Slot<T>, PoolDestroyReason][] {
  const victims: [Slot<T>, PoolDestroyReason][] = [];
  // Bottom of the LIFO stack = idle longest.
  for (const s of idle) {
    if (!s.idleSeen) {
      s.idleSeen = true;
      s.lastReturnedAt = now;
    }
    if (s.expiresAt <= now) victims.push([s, 'lifetime']);
    else if (excess > 0 && idleTimeoutMs > 0 && now - s.lastReturnedAt >= idleTimeoutMs) {
      victims.push([s, 'idle']);
      excess--;
    }
  }
  return victims;
}

/**
 * Leases held for `leakDetectionMs` or longer: how many there are now, and the ones not reported
 * yet (marked reported, so each is reported once).
 */
export function scanLeases<T>(
  slots: Iterable<Slot<T>>,
  leakDetectionMs: number,
  now: number,
): { overdue: number; newLeaks: Slot<T>[] } {
  let overdue = 0;
  const newLeaks: Slot<T>[] = [];
  for (const s of slots) {
    if (s.state !== LEASED || now - s.acquiredAt < leakDetectionMs) continue;
    overdue++;
    if (!s.leakReported) {
      s.leakReported = true;
      newLeaks.push(s);
    }
  }
  return { overdue, newLeaks };
}
