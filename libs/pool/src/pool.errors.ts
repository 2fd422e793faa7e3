import { ReservoirError } from '@reservoir/core';
import { PoolMessages, type PoolCounts } from './pool.messages';

/**
 * Base class of every error the pool throws. `pool` names the pool it came from.
 *
 * @publicApi
 */
export class PoolError extends ReservoirError {
  constructor(
    readonly pool: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * An acquire (or `start()`, or one `factory.create`) did not finish in time. When creates are
 * failing, `cause` is the last create error, so "the database is down" is visible at the waiter.
 *
 * @publicApi
 */
export class PoolTimeoutError extends PoolError {
  constructor(
    pool: string,
    message: string,
    readonly timeoutMs: number,
    readonly organisationId?: string,
    options?: { cause?: unknown },
  ) {
    super(pool, message, options);
  }

  static acquire(
    pool: string,
    timeoutMs: number,
    counts: PoolCounts,
    organisationId: string | undefined,
    lastCreateError: unknown,
  ): PoolTimeoutError {
    return new PoolTimeoutError(
      pool,
      PoolMessages.acquireTimeout(pool, timeoutMs, counts, organisationId, lastCreateError),
      timeoutMs,
      organisationId,
      lastCreateError === undefined ? undefined : { cause: lastCreateError },
    );
  }

  static start(
    pool: string,
    timeoutMs: number,
    min: number,
    size: number,
    lastCreateError: unknown,
  ): PoolTimeoutError {
    return new PoolTimeoutError(
      pool,
      PoolMessages.startTimeout(pool, timeoutMs, min, size, lastCreateError),
      timeoutMs,
      undefined,
      lastCreateError === undefined ? undefined : { cause: lastCreateError },
    );
  }

  static create(pool: string, timeoutMs: number): PoolTimeoutError {
    return new PoolTimeoutError(pool, PoolMessages.createTimeout(pool, timeoutMs), timeoutMs);
  }
}

/**
 * Nothing is free and the wait queue already holds `maxWaiting` callers.
 *
 * @publicApi
 */
export class PoolExhaustedError extends PoolError {
  static create(
    pool: string,
    maxWaiting: number,
    counts: PoolCounts,
    organisationId: string | undefined,
  ): PoolExhaustedError {
    return new PoolExhaustedError(pool, PoolMessages.exhausted(pool, maxWaiting, counts, organisationId));
  }
}

/**
 * The pool is closed (or closing): acquires fail, and waiters are rejected with this.
 *
 * @publicApi
 */
export class PoolClosedError extends PoolError {
  static create(pool: string, whileWaiting = false): PoolClosedError {
    return new PoolClosedError(
      pool,
      whileWaiting ? PoolMessages.closedWhileWaiting(pool) : PoolMessages.closed(pool),
    );
  }
}

/**
 * An option is invalid or unknown. Thrown by the constructor, before anything is created.
 *
 * @publicApi
 */
export class PoolConfigError extends PoolError {
  constructor(
    pool: string,
    message: string,
    readonly option: string,
    readonly given: unknown,
  ) {
    super(pool, message);
  }

  /** `scope` is how the message starts, e.g. `Pool "orders"` or `pgTenantBinding`. */
  static invalidOption(
    pool: string,
    option: string,
    given: unknown,
    allowed: string,
    scope = `Pool "${pool}"`,
  ): PoolConfigError {
    return new PoolConfigError(
      pool,
      PoolMessages.invalidOption(scope, option, given, allowed),
      option,
      given,
    );
  }
}

/**
 * `release` or `destroy` of a resource that is not currently leased from this pool. The pool's
 * state is left exactly as it was.
 *
 * @publicApi
 */
export class PoolReleaseError extends PoolError {
  static unknown(pool: string): PoolReleaseError {
    return new PoolReleaseError(pool, PoolMessages.releaseUnknown(pool));
  }

  static notLeased(pool: string): PoolReleaseError {
    return new PoolReleaseError(pool, PoolMessages.releaseNotLeased(pool));
  }
}

/**
 * `use()` ran its callback, but with `unbindOnRelease` (e.g. `pgTenantBinding({ mode: 'transaction' })`,
 * where the unbind is the COMMIT) the binding's `unbind` on release failed or could not run, so
 * the lease's work may not have been committed and the call fails instead of returning. The
 * resource was destroyed. `cause` is the unbind's error; when the unbind could not run (the
 * resource broke during the lease, or `close()` destroyed the loan after `shutdownTimeoutMs`) it is
 * a `PoolError` saying so, whose own `cause` is the resource's error, if any.
 *
 * @publicApi
 */
export class PoolUnbindError extends PoolError {
  constructor(
    pool: string,
    message: string,
    readonly organisationId: string,
    options?: { cause?: unknown },
  ) {
    super(pool, message, options);
  }

  static create(pool: string, organisationId: string, cause: unknown): PoolUnbindError {
    return new PoolUnbindError(
      pool,
      PoolMessages.unbindAfterUse(pool, organisationId, cause),
      organisationId,
      {
        cause,
      },
    );
  }
}
