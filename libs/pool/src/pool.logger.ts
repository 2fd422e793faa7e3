import type { PoolLogger } from './pool.types';

/**
 * The default logger of a bare `Pool`: plain `console`, so the framework-free core
 * (`@reservoir/pool/core`) loads no framework. Lines carry the same `Pool(<name>)` context Nest's
 * Logger would print. `PoolModule` passes Nest's `Logger` instead, so inside a Nest app pool lines
 * look like the rest of its output; pass `logger` to use your own.
 */
export function defaultPoolLogger(pool: string): PoolLogger {
  const context = `[Pool(${pool})]`;
  return {
    log: (message) => console.log(context, message),
    warn: (message) => console.warn(context, message),
    error: (message) => console.error(context, message),
  };
}

/** A logger that drops everything; handy in tests and benchmarks. */
export const silentPoolLogger: PoolLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
