/*
 * One instance of a fleet of pools sharing a Redis budget (test/pool.fleet.spec.ts). Its resources
 * are real TCP connections to the test's counting server, so the test counts what every process
 * really holds in one place. It runs FLEET_LOOPS callers that each acquire, hold FLEET_HOLD_MS and
 * release, for ever (more demand than the budget), and reports its stats over IPC every 50 ms.
 */
import { connect, type Socket } from 'node:net';
import { Pool } from '@reservoir/pool';

const env = process.env;
const port = Number(env.FLEET_COUNTER_PORT);
const name = env.FLEET_NAME ?? 'w';
const loops = Number(env.FLEET_LOOPS ?? 10);
const holdMs = Number(env.FLEET_HOLD_MS ?? 20);

const pool = new Pool<Socket>({
  name,
  min: 0,
  max: Number(env.FLEET_MAX ?? 12),
  acquireTimeoutMs: 1000,
  idleTimeoutMs: 60_000,
  maintenanceIntervalMs: 100,
  logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
  factory: {
    create: () =>
      new Promise<Socket>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => {
          s.write(`${name}\n`);
          resolve(s);
        });
        s.once('error', reject);
      }),
    // Resolves once the counter has seen the end, so a destroyed resource is gone before its share is.
    destroy: (s) =>
      new Promise<void>((resolve) => {
        if (s.destroyed) return resolve();
        s.once('close', () => resolve());
        s.end();
      }),
  },
  autoSize: {
    windowMs: 100,
    fleet: {
      redis: env.FLEET_REDIS_URL!,
      key: env.FLEET_KEY!,
      maxConnections: Number(env.FLEET_BUDGET),
      leaseTtlMs: Number(env.FLEET_TTL_MS ?? 1500),
      timeoutMs: 200,
    },
  },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function caller(): Promise<void> {
  for (;;) {
    try {
      const s = await pool.acquire();
      await sleep(holdMs);
      pool.release(s);
    } catch {
      await sleep(10); // timed out while the budget was elsewhere: try again
    }
  }
}

for (let i = 0; i < loops; i++) void caller();
setInterval(() => {
  const st = pool.stats();
  process.send?.({ stats: { total: st.size, limit: st.autoSize?.limit, fleet: st.autoSize?.fleet } });
}, 50);
process.send?.({ ready: true });
