/** Pins the exact error for each invalid option (the dataloader "abuse" pattern). */
import { ReservoirMetricsCollector } from './metrics.collector';
import { MetricsConfigError } from './metrics.errors';
import { ReservoirMetricsModule } from './metrics.module';
import { resolveMetricsOptions } from './metrics.options';

const cases: Array<[string, unknown, string]> = [
  ['not an object', 42, '@reservoir/metrics: invalid option options: got 42, expected an object.'],
  [
    'an unknown key',
    { path: '/m' },
    '@reservoir/metrics: invalid option path: got "/m", expected no such option; known options are registry, prefix, perTenant, buckets, defaultMetrics.',
  ],
  [
    'a registry that is not a prom-client Registry',
    { registry: {} },
    '@reservoir/metrics: invalid option registry: got {}, expected a prom-client Registry.',
  ],
  [
    'a prefix that is not a metric name',
    { prefix: '9-bad' },
    '@reservoir/metrics: invalid option prefix: got "9-bad", expected a valid Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*).',
  ],
  [
    'perTenant.maxTenants of 0',
    { perTenant: { enabled: true, maxTenants: 0 } },
    '@reservoir/metrics: invalid option perTenant.maxTenants: got 0, expected an integer >= 1 and <= 10000.',
  ],
  [
    'perTenant.enabled that is not a boolean',
    { perTenant: { enabled: 'yes' } },
    '@reservoir/metrics: invalid option perTenant.enabled: got "yes", expected true or false.',
  ],
  [
    'an unknown perTenant key',
    { perTenant: { max: 3 } },
    '@reservoir/metrics: invalid option perTenant.max: got 3, expected no such option; known options are enabled, maxTenants.',
  ],
  [
    'buckets that do not increase',
    { buckets: { acquireSeconds: [1, 0.5] } },
    '@reservoir/metrics: invalid option buckets.acquireSeconds: got array(2), expected a non-empty array of finite, positive, strictly increasing numbers.',
  ],
  [
    'defaultMetrics that is not a boolean',
    { defaultMetrics: 1 },
    '@reservoir/metrics: invalid option defaultMetrics: got 1, expected true or false.',
  ],
];

describe('@reservoir/metrics options (abuse)', () => {
  it.each(cases)('rejects %s', (_what, input, message) => {
    expect(() => resolveMetricsOptions(input)).toThrow(MetricsConfigError);
    expect(() => resolveMetricsOptions(input)).toThrow(message);
  });

  it('the collector validates too', () => {
    expect(
      () => new ReservoirMetricsCollector({ pools: () => [] }, { prefix: '' as never, nope: 1 } as never),
    ).toThrow('invalid option nope');
  });

  it('rejects a bad module path at definition time', () => {
    expect(() => ReservoirMetricsModule.forRoot({ path: '' })).toThrow(
      '@reservoir/metrics: invalid option path: got "", expected a non-empty string.',
    );
  });

  it('keys set to undefined mean "use the default"', () => {
    const o = resolveMetricsOptions({ prefix: undefined, perTenant: { enabled: undefined } });
    expect(o.prefix).toBe('reservoir_');
    expect(o.perTenant).toEqual({ enabled: false, maxTenants: 20 });
  });
});
