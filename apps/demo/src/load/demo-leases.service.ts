import { ConflictException, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { InjectPool, type Pool } from '@reservoir/pool';
import { MAIN_POOL } from '../db/db.types';

/**
 * Holds leases of the main pool on purpose, so utilization (and so /health) can be driven
 * exactly: `POST /demo/hold?n=7`, then `POST /demo/release`. Bounded by the pool's free
 * capacity, so it never queues or times out.
 */
@Injectable()
export class DemoLeases implements OnModuleDestroy {
  private readonly held: unknown[] = [];

  constructor(@InjectPool(MAIN_POOL) private readonly pool: Pool<unknown>) {}

  async hold(n: number): Promise<{ held: number; max: number }> {
    const { max, inUse } = this.pool.stats();
    if (n > max - inUse) {
      throw new ConflictException(`cannot hold ${n} more: ${inUse} of ${max} already in use (release first)`);
    }
    for (let i = 0; i < n; i++) this.held.push(await this.pool.acquire({ timeoutMs: 1000 }));
    return { held: this.held.length, max };
  }

  release(): { released: number } {
    const released = this.held.length;
    for (const r of this.held.splice(0)) this.pool.release(r);
    return { released };
  }

  /** Give leases back before the pool drains in onApplicationShutdown. */
  onModuleDestroy(): void {
    this.release();
  }
}
