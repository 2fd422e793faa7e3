/** Exponential backoff settings shared by pool create-retry and lazy load-retry. */
export interface BackoffOptions {
  /** Delay before the first retry. */
  initialDelayMs: number;
  /** Upper bound of any delay. */
  maxDelayMs: number;
  /** Growth per attempt. */
  factor: number;
  /**
   * Fraction of the delay that is randomised: 0 = none, 1 = "full jitter" (uniform in [0, delay]).
   * Jitter stops many instances from retrying in lock-step against a recovering service.
   */
  jitter: number;
}

/**
 * Delay before retry number `retry` (1 = the first retry).
 * `random` is injectable so tests can pin the jitter.
 */
export function backoffDelay(retry: number, o: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(o.maxDelayMs, o.initialDelayMs * Math.pow(o.factor, Math.max(0, retry - 1)));
  const spread = exp * o.jitter;
  return Math.max(0, Math.round(exp - spread + random() * spread));
}
