/**
 * An in-process stand-in for the Redis lease table of `autoSize.fleet`, for the simulator only.
 * Why a fake: the simulator runs on a virtual clock, and a real Redis expires shares on its own
 * wall clock (the Lua script reads TIME), so a real server would neither follow virtual time nor
 * replay a run from its seed. This class computes exactly what LEASE_SCRIPT and RELEASE_SCRIPT in
 * libs/pool/src/autosize/fleet-budget.ts compute, on the virtual clock; the scripts themselves are
 * exercised against a real redis-server by test/pool.fleet.spec.ts. `cut(id)` makes one instance's
 * calls fail for ever: a crashed process never renews and never releases.
 */
import {
  LEASE_SCRIPT,
  RELEASE_SCRIPT,
  type FleetRedisClient,
} from '../../libs/pool/src/autosize/fleet-budget';

interface Entry {
  grant: number;
  want: number;
  held: number;
  expiresAt: number;
}

export class FakeLeaseStore implements FleetRedisClient {
  private readonly tables = new Map<string, Map<string, Entry>>();
  private readonly dead = new Set<string>();
  calls = 0;

  constructor(private readonly now: () => number) {}

  /** From now on, every call of instance `id` fails (its process is gone). */
  cut(id: string): void {
    this.dead.add(id);
  }

  /** Live shares (max of grant and held) per instance. */
  shares(key: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, e] of this.table(key))
      if (e.expiresAt > this.now()) out.set(id, Math.max(e.grant, e.held));
    return out;
  }

  eval(script: string, _numKeys: number, ...args: (string | number)[]): Promise<unknown> {
    this.calls++;
    const [key, id] = [String(args[0]), String(args[1])];
    if (this.dead.has(id)) return Promise.reject(new Error('connection lost'));
    if (script === RELEASE_SCRIPT) return Promise.resolve(this.table(key).delete(id) ? 1 : 0);
    if (script !== LEASE_SCRIPT) return Promise.reject(new Error('unknown script'));
    const [want, held, max, ttl] = args.slice(2).map(Number);
    const t = this.table(key);
    const now = this.now();
    let others = 0;
    let othersWant = 0;
    let n = 1;
    for (const [other, e] of t) {
      if (e.expiresAt <= now) t.delete(other);
      else if (other !== id) {
        others += Math.max(e.grant, e.held);
        othersWant += e.want;
        n++;
      }
    }
    const fair = Math.floor(max / n);
    const grant = Math.max(0, Math.min(want, max - others, Math.max(fair, max - othersWant)));
    t.set(id, { grant, want, held, expiresAt: now + ttl });
    return Promise.resolve([grant, others]);
  }

  private table(key: string): Map<string, Entry> {
    let t = this.tables.get(key);
    if (t === undefined) this.tables.set(key, (t = new Map()));
    return t;
  }
}
