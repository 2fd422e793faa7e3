/** Internal tokens. Not exported from the barrel. */

/** Injection token of the `ReservoirMetricsModule` options. */
export const METRICS_MODULE_OPTIONS = 'RESERVOIR:METRICS_MODULE_OPTIONS';
