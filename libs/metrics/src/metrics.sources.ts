/**
 * What the collector reads. Structural views of the public APIs of `Pool` (`@reservoir/pool`) and
 * `LazyLoader` (`@reservoir/lazy`): the collector never reaches into their internals, and a test
 * (or an app with its own pools) can hand it anything of that shape.
 */
import type { Observable } from 'rxjs';
import type { LazyMetricsTracker, LazyStats } from '@reservoir/lazy';
import type { PoolEvent, PoolHealth, PoolMetricsTracker, PoolStats } from '@reservoir/pool';

/** The part of `Pool<T>` the collector uses. @publicApi */
export interface MetricsPoolSource {
  readonly name: string;
  stats(): PoolStats;
  health(): PoolHealth;
  readonly events$: Observable<PoolEvent>;
  /** When present (every `Pool`), the collector attaches a tracker here instead of reading `events$`. */
  setMetricsTracker?(tracker: PoolMetricsTracker | undefined): void;
}

/** The part of `LazyLoader` the collector uses. @publicApi */
export interface MetricsLazySource {
  /** Attaches the collector's load-time tracker; returns its detach function. */
  addMetricsTracker(tracker: LazyMetricsTracker): () => void;
  stats(): LazyStats;
}

/** Where the collector finds its sources; called on every scrape, so new pools are picked up. */
export interface MetricsSources {
  pools(): Iterable<MetricsPoolSource>;
  lazy?(): Iterable<MetricsLazySource>;
}
