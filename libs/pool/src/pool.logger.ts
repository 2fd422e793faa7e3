import { Logger } from '@nestjs/common';
import type { PoolLogger } from './pool.types';

/**
 * The default logger: Nest's static-capable `Logger`, so pool lines look like the rest of a Nest
 * app's output. This file is the pool core's only Nest import; pass `logger` to avoid it.
 */
export function defaultPoolLogger(pool: string): PoolLogger {
  return new Logger(`Pool(${pool})`);
}

/** A logger that drops everything; handy in tests and benchmarks. */
export const silentPoolLogger: PoolLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
