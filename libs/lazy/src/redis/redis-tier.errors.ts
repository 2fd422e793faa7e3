import { ReservoirError } from '@reservoir/core';
import { RedisTierMessages } from './redis-tier.messages';

/**
 * An invalid or unknown `RedisTier` option. Thrown by the constructor.
 *
 * @publicApi
 */
export class RedisTierConfigError extends ReservoirError {
  constructor(
    message: string,
    readonly option: string,
  ) {
    super(message);
  }

  static create(option: string, given: unknown, allowed: string): RedisTierConfigError {
    return new RedisTierConfigError(RedisTierMessages.invalidOption(option, given, allowed), option);
  }
}

/**
 * The tier could not reach Redis for one operation: the circuit breaker is open, the connection is
 * down, or Redis did not answer within `commandTimeoutMs`. Callers fall back to L1 or a local load.
 *
 * @publicApi
 */
export class RedisTierUnavailableError extends ReservoirError {
  static create(op: string, state: string, why: string, cause?: unknown): RedisTierUnavailableError {
    return new RedisTierUnavailableError(RedisTierMessages.unavailable(op, state, why), { cause });
  }
}

/**
 * A value of a shared resource cannot be encoded by the tier's codec (a function, a class instance,
 * a `Map`, `NaN`, a cycle, ...). It is never stored or shared silently in a lossy form.
 *
 * @publicApi
 */
export class LazyCodecError extends ReservoirError {
  constructor(
    message: string,
    /** Where in the value the problem is, e.g. `value.items[2].at`. */
    readonly path: string,
  ) {
    super(message);
  }

  static notSerializable(path: string, given: unknown, why: string): LazyCodecError {
    return new LazyCodecError(RedisTierMessages.notSerializable(path, given, why), path);
  }
}
