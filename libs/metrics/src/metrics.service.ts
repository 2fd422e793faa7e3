import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Registry } from 'prom-client';
import { LazyLoader } from '@reservoir/lazy';
import { PoolRegistry } from '@reservoir/pool';
import { ReservoirMetricsCollector } from './metrics.collector';
import { METRICS_MODULE_OPTIONS } from './metrics.constants';
import type { ReservoirMetricsOptions } from './metrics.options';

/**
 * The app's Reservoir metrics: a `ReservoirMetricsCollector` fed by every pool in `PoolRegistry`
 * and, when `LazyModule` is imported anywhere in the app, by its `LazyLoader`. Both are optional,
 * so the module works with either lib alone.
 *
 * Inject it to serve the metrics yourself (`path: false`) or to add your own metrics to
 * `registry`.
 *
 * @publicApi
 */
@Injectable()
export class ReservoirMetrics implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  readonly collector: ReservoirMetricsCollector;

  private lazy: LazyLoader | undefined;

  constructor(
    @Inject(METRICS_MODULE_OPTIONS) options: ReservoirMetricsOptions,
    private readonly moduleRef: ModuleRef,
    @Optional() pools?: PoolRegistry,
    @Optional() lazy?: LazyLoader,
  ) {
    this.lazy = lazy;
    this.collector = new ReservoirMetricsCollector(
      { pools: () => pools?.all() ?? [], lazy: () => (this.lazy ? [this.lazy] : []) },
      options,
    );
  }

  /** The prom-client registry the metrics are on. */
  get registry(): Registry {
    return this.collector.registry;
  }

  /** `Content-Type` of `metrics()`. */
  get contentType(): string {
    return this.collector.registry.contentType;
  }

  /** The text exposition (what `GET /metrics` answers). */
  metrics(): Promise<string> {
    return this.collector.metrics();
  }

  /**
   * Pools are created while the module graph is instantiated; pick them up. `LazyModule` need not
   * be global or imported here: its loader is looked up app-wide when not injected.
   */
  onModuleInit(): void {
    if (!this.lazy) {
      try {
        this.lazy = this.moduleRef.get(LazyLoader, { strict: false });
      } catch {
        this.lazy = undefined;
      }
    }
    this.collector.sync();
  }

  onApplicationBootstrap(): void {
    this.collector.sync();
  }

  onModuleDestroy(): void {
    this.collector.close();
  }
}
