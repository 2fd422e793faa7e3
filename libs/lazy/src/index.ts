// Public API barrel: hand-picked. Internal tokens, the explorer and the metadata accessor stay private.
// The framework-free part is listed once, in ./core (also published as `@reservoir/lazy/core`).
export * from './core';
export { LazyModule } from './lazy.module';
export type { LazyModuleAsyncOptions, LazyModuleExtras } from './lazy.module-definition';
export { LazyLoader } from './lazy-loader.service';
export { LazyResource } from './lazy-resource.decorator';
// Terminus is an optional peer: the indicator loads it lazily, so this re-export is safe without it.
export {
  LazyHealthIndicator,
  evaluateLazyHealth,
  type LazyHealthDetails,
  type LazyHealthSource,
  type LazyHealthState,
} from './lazy.health';
