/** Seed data shared by both database implementations. */
import type { Organisation, PricingRow } from './db.types';

export const SEED_ORGANISATIONS: readonly Organisation[] = [
  { id: 'acme', name: 'Acme Corp', plan: 'enterprise' },
  { id: 'globex', name: 'Globex', plan: 'team' },
  { id: 'initech', name: 'Initech', plan: 'free' },
  { id: 'umbrella', name: 'Umbrella', plan: 'team' },
];

/** Plan of an organisation provisioned on its first write (a valid id that was never seeded). */
export const PROVISIONED_PLAN: Organisation['plan'] = 'free';

export const SEED_PROJECTS: ReadonlyArray<{ org: string; name: string; tasks: string[] }> = [
  { org: 'acme', name: 'Rocket skates', tasks: ['Order rockets', 'Test on a cliff'] },
  { org: 'acme', name: 'Giant magnet', tasks: ['Find a supplier'] },
  { org: 'globex', name: 'Hammock district', tasks: ['Survey the site', 'Hire Hank'] },
  { org: 'initech', name: 'TPS reports', tasks: ['New cover sheets'] },
  { org: 'umbrella', name: 'Cold storage', tasks: ['Audit freezers'] },
];

export const SEED_FLAGS: Record<string, Record<string, boolean>> = {
  acme: { newBoard: true, exports: true },
  globex: { newBoard: true, exports: false },
  initech: { newBoard: false, exports: false },
  umbrella: { newBoard: false, exports: true },
};

export const SEED_PRICING: readonly PricingRow[] = [
  { plan: 'free', monthlyEur: 0, maxProjects: 3 },
  { plan: 'team', monthlyEur: 49, maxProjects: 50 },
  { plan: 'enterprise', monthlyEur: 499, maxProjects: 10_000 },
];

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
