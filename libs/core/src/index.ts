export { ReservoirError } from './errors';
export { OptionChecker, describeValue, type ConfigErrorFactory } from './validate';
export { backoffDelay, type BackoffOptions } from './backoff';
export { SampleWindow, TrendWindow, type TrendDirection, type TrendSnapshot } from './window';
// Terminus is an optional peer: the reporter loads it lazily, so this re-export is safe without it.
export {
  TerminusReporter,
  type HealthGrade,
  type ModuleLookup,
  type ReservoirHealthResult,
} from './terminus';
export { withDeadline } from './deadline';
