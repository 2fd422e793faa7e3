// Public API barrel: hand-picked. Filled in by the pool implementation.
export * from './pool.types';
