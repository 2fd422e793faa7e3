/**
 * The shared lazy tier of the demo. With REDIS_URL set, one `RedisTier` (from `@reservoir/lazy/redis`)
 * is created here and handed to `LazyModule` (`shared: tier`), so every demo instance on the same
 * Redis and REDIS_PREFIX shares the settings and pricing entries, their versions and their
 * invalidations. Without REDIS_URL this module provides `null` and the loader stays local.
 *
 * The application owns the tier (the loader never closes it): it is closed in
 * `onApplicationShutdown`, which Nest runs after the loader closed in `onModuleDestroy` and after the
 * HTTP server stopped, so no request or load can still be using it.
 */
import {
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { RedisTier } from '@reservoir/lazy/redis';
import type { DemoConfig } from '../config';

/** DI token of the demo's `RedisTier`, or `null` when REDIS_URL is unset. */
export const DEMO_SHARED_TIER = 'DEMO:SHARED_TIER';

/** A Redis URL safe to log: the password is replaced. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

@Injectable()
class SharedTierLifecycle implements OnApplicationShutdown {
  constructor(@Inject(DEMO_SHARED_TIER) private readonly tier: RedisTier | null) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.tier === null) return;
    // close() is bounded by the tier itself (it stops its bus reader within a few command timeouts).
    await this.tier.close();
    new Logger('SharedTier').log(`Shared tier closed (state ${this.tier.state})`);
  }
}

@Module({})
export class SharedTierModule {
  static forRoot(config: DemoConfig): DynamicModule {
    return {
      module: SharedTierModule,
      providers: [
        {
          provide: DEMO_SHARED_TIER,
          useFactory: async (): Promise<RedisTier | null> => {
            if (config.redisUrl === undefined) return null;
            const tier = new RedisTier({ url: config.redisUrl, prefix: config.redisPrefix });
            // Bounded by the tier's connectTimeoutMs. Starting while Redis is away is allowed: the
            // loader then serves from memory and loads locally (health: degraded) until it connects.
            if (!(await tier.ready())) {
              new Logger('SharedTier').warn(
                `Redis at ${redactRedisUrl(config.redisUrl)} is not reachable yet: lazy resources ` +
                  'load locally (health degraded) until it answers.',
              );
            }
            return tier;
          },
        },
        SharedTierLifecycle,
      ],
      exports: [DEMO_SHARED_TIER],
    };
  }
}
