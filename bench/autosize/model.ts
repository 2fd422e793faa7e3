/**
 * The simulated database and workload. Service time follows the Universal Scalability Law:
 * S(N) = S0 · slowdown(t) · (1 + σ(N − 1) + κ·N(N − 1)) for a query started while N queries run
 * (σ: contention, κ: coherency), so past N* = √((1 − σ)/κ) more connections lower throughput.
 */
import { seededRandom } from './virtual-clock';

export interface DbModel {
  /** Service time of a query alone on a healthy database, ms. */
  baseMs: number;
  sigma: number;
  /** Coherency term at virtual time t (ms): a lock-contended database has a larger one. */
  kappa: (t: number) => number;
  /** Connection setup time, ms. */
  connectMs: number;
  /** Service-time multiplier at virtual time t (ms). */
  slowdown: (t: number) => number;
}

export class SimDatabase {
  active = 0;
  connections = 0;
  peakConnections = 0;
  constructor(
    private readonly m: DbModel,
    private readonly now: () => number,
  ) {}

  serviceMs(n: number): number {
    const { baseMs, sigma } = this.m;
    const t = this.now();
    return baseMs * this.m.slowdown(t) * (1 + sigma * (n - 1) + this.m.kappa(t) * n * (n - 1));
  }

  connect(): Promise<{ id: number }> {
    return new Promise((resolve) =>
      setTimeout(() => {
        this.connections++;
        if (this.connections > this.peakConnections) this.peakConnections = this.connections;
        resolve({ id: this.connections });
      }, this.m.connectMs),
    );
  }

  disconnect(): void {
    this.connections--;
  }

  query(): Promise<void> {
    const n = ++this.active;
    const ms = this.serviceMs(n);
    return new Promise((resolve) =>
      setTimeout(() => {
        this.active--;
        resolve();
      }, ms),
    );
  }
}

/** Poisson arrivals with a time-varying rate (thinning), from a seed. */
export class Arrivals {
  private readonly rand: () => number;
  constructor(
    seed: number,
    readonly rate: (t: number) => number,
    private readonly peakRate: number,
  ) {
    this.rand = seededRandom(seed);
  }

  /** Virtual time of the next arrival after `t` (ms). */
  next(t: number): number {
    for (;;) {
      t += (-Math.log(1 - this.rand()) / this.peakRate) * 1000;
      if (this.rand() * this.peakRate <= this.rate(t)) return t;
    }
  }
}
