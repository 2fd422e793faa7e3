import { ReservoirError, describeValue } from '@reservoir/core';

/**
 * An invalid `ReservoirMetricsModule` / `ReservoirMetricsCollector` option. The message names the
 * option, the value given and what is allowed.
 *
 * @publicApi
 */
export class MetricsConfigError extends ReservoirError {
  static create(option: string, given: unknown, allowed: string): MetricsConfigError {
    return new MetricsConfigError(
      `@reservoir/metrics: invalid option ${option}: got ${describeValue(given)}, expected ${allowed}.`,
    );
  }
}
