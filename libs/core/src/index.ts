export { ReservoirError } from './errors';
export { OptionChecker, describeValue, type ConfigErrorFactory } from './validate';
export { backoffDelay, type BackoffOptions } from './backoff';
export { SampleWindow, TrendWindow, type TrendDirection, type TrendSnapshot } from './window';
