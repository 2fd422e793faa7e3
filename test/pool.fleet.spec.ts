/*
 * Fleet budget across processes: three pool processes share one Redis budget. Their resources are
 * TCP connections to a counting server here, so what the fleet really holds is counted in one place.
 * Redis is a private redis-server on a free port (it gets killed).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { TestRedisServer } from './helpers/redis-server';

const REGISTER = join(__dirname, 'helpers', 'ts-register.js');
const WORKER = join(__dirname, 'fleet', 'pool-fleet-worker.ts');
const BUDGET = 12;
const TTL_MS = 1500;
const RENEW_MS = TTL_MS / 3;

type FleetStatsMsg = { total: number; limit: number; fleet: { state: string; leased: number } };

/** Counts open connections per worker name, and the highest fleet-wide total ever seen. */
class Counter {
  readonly open = new Map<string, number>();
  readonly peak = new Map<string, number>();
  total = 0;
  maxTotal = 0;
  private readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((s: Socket) => {
      let name: string | undefined;
      let buf = '';
      const gone = (): void => {
        if (name === undefined) return;
        this.open.set(name, (this.open.get(name) ?? 0) - 1);
        this.total--;
        name = undefined;
      };
      s.on('data', (d) => {
        if (name !== undefined) return;
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        name = buf.slice(0, nl);
        const n = (this.open.get(name) ?? 0) + 1;
        this.open.set(name, n);
        this.peak.set(name, Math.max(this.peak.get(name) ?? 0, n));
        this.total++;
        this.maxTotal = Math.max(this.maxTotal, this.total);
      });
      s.on('end', () => {
        gone();
        s.end();
      });
      s.on('close', gone);
      s.on('error', () => undefined);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  of(name: string): number {
    return this.open.get(name) ?? 0;
  }

  resetPeaks(): void {
    for (const [k, v] of this.open) this.peak.set(k, v);
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

class Worker {
  readonly proc: ChildProcess;
  last: FleetStatsMsg | undefined;
  readonly ready: Promise<void>;

  constructor(
    readonly name: string,
    env: Record<string, string>,
  ) {
    this.proc = fork(WORKER, [], {
      execArgv: ['-r', REGISTER],
      env: { ...process.env, ...env, FLEET_NAME: name },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve) => {
      this.proc.on('message', (m: { ready?: boolean; stats?: FleetStatsMsg }) => {
        if (m.ready) resolve();
        if (m.stats) this.last = m.stats;
      });
    });
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

async function until(what: string, ms: number, ok: () => boolean): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

describe('pool fleet budget: 3 processes, one Redis budget', () => {
  const redis = new TestRedisServer();
  const counter = new Counter();
  const workers: Worker[] = [];

  beforeAll(async () => {
    await redis.start();
    await counter.listen();
  });

  afterAll(async () => {
    for (const w of workers) w.kill();
    await redis.dispose();
    await counter.close();
  });

  it('never exceeds the budget, reuses a SIGKILLed share within its TTL, and freezes without Redis', async () => {
    const env = {
      FLEET_COUNTER_PORT: String(counter.port),
      FLEET_REDIS_URL: redis.url,
      FLEET_KEY: `reservoir-test:fleet:${randomBytes(6).toString('hex')}`,
      FLEET_BUDGET: String(BUDGET),
      FLEET_TTL_MS: String(TTL_MS),
      FLEET_MAX: String(BUDGET),
      FLEET_LOOPS: '10',
      FLEET_HOLD_MS: '20',
    };
    for (const n of ['a', 'b', 'c']) workers.push(new Worker(n, env));
    const [a, b, c] = workers;
    await Promise.all(workers.map((w) => w.ready));

    // 1. Demand (30 callers) exceeds the budget: every instance gets a share, the fleet fills it.
    await until(
      'all three instances to hold connections and the fleet to use the budget',
      15_000,
      () => workers.every((w) => counter.of(w.name) >= 3) && counter.total >= BUDGET - 1,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(counter.maxTotal).toBeLessThanOrEqual(BUDGET);

    // 2. SIGKILL c: its share comes back after its TTL and a and b take it.
    const abBefore = counter.of('a') + counter.of('b');
    const cShare = counter.of('c');
    expect(cShare).toBeGreaterThan(0);
    c.kill();
    await until('c to be gone at the counter', 2_000, () => counter.of('c') === 0);
    const reusedMs = await until(
      "a and b to reuse c's share",
      TTL_MS + RENEW_MS + 1000,
      () => counter.of('a') + counter.of('b') >= Math.min(BUDGET, abBefore + cShare) - 1,
    );
    // The share is free at most TTL after c's last renewal; a and b ask again at least every window.
    expect(reusedMs).toBeLessThanOrEqual(TTL_MS + RENEW_MS + 1000);
    expect(counter.maxTotal).toBeLessThanOrEqual(BUDGET);

    // 3. Redis gone: both instances notice (bounded calls) and freeze at what they hold.
    await redis.kill();
    await until('a and b to report Redis unreachable', 3_000, () =>
      [a, b].every((w) => w.last?.fleet.state === 'unreachable'),
    );
    await new Promise((r) => setTimeout(r, 200));
    const frozen = { a: counter.of('a'), b: counter.of('b') };
    counter.resetPeaks();
    await new Promise((r) => setTimeout(r, 2000));
    expect(counter.peak.get('a')).toBeLessThanOrEqual(frozen.a);
    expect(counter.peak.get('b')).toBeLessThanOrEqual(frozen.b);
    // Still serving on what they hold.
    expect(counter.of('a') + counter.of('b')).toBeGreaterThan(0);
    expect([a.last?.limit, b.last?.limit].every((l) => l !== undefined && l <= BUDGET)).toBe(true);
    expect(counter.maxTotal).toBeLessThanOrEqual(BUDGET);
    console.log(
      `fleet: peak total ${counter.maxTotal}/${BUDGET}, c's share ${cShare} reused in ${reusedMs} ms, frozen a=${frozen.a} b=${frozen.b}`,
    );
  }, 60_000);
});
