import { HealthIndicatorService } from '@nestjs/terminus';
import { TerminusReporter } from './terminus';

/** A `check(key)` session that records which status it was asked for. */
function fakeService(withDegraded: boolean) {
  const calls: string[] = [];
  const session = (key: string) => ({
    up: (data: object) => (calls.push('up'), { [key]: { status: 'up', ...data } }),
    down: (data: object) => (calls.push('down'), { [key]: { status: 'down', ...data } }),
    ...(withDegraded
      ? { degraded: (data: object) => (calls.push('degraded'), { [key]: { status: 'degraded', ...data } }) }
      : {}),
  });
  return { calls, service: { check: session } };
}

describe('TerminusReporter', () => {
  it('maps HEALTHY/DEGRADED/UNHEALTHY to up/degraded/down (Terminus 12)', async () => {
    const { calls, service } = fakeService(true);
    const reporter = new TerminusReporter({ get: () => service } as never);
    expect(await reporter.report('k', 'HEALTHY', { state: 'HEALTHY' })).toEqual({
      k: { status: 'up', state: 'HEALTHY' },
    });
    await reporter.report('k', 'DEGRADED', { state: 'DEGRADED' });
    await reporter.report('k', 'UNHEALTHY', { state: 'UNHEALTHY' });
    expect(calls).toEqual(['up', 'degraded', 'down']);
  });

  it('reports DEGRADED as up with the details on Terminus 11.1 (no degraded())', async () => {
    const { calls, service } = fakeService(false);
    const reporter = new TerminusReporter({ get: () => service } as never);
    expect(await reporter.report('k', 'DEGRADED', { state: 'DEGRADED' })).toEqual({
      k: { status: 'up', state: 'DEGRADED' },
    });
    expect(calls).toEqual(['up']);
  });

  it("uses the app's HealthIndicatorService once, or its own when TerminusModule is not imported", async () => {
    const get = jest.fn(() => {
      throw new Error('not found');
    });
    const reporter = new TerminusReporter({ get } as never);
    const result = await reporter.report('k', 'HEALTHY', {});
    expect(result).toEqual({ k: { status: 'up' } });
    await reporter.report('k', 'HEALTHY', {});
    expect(get).toHaveBeenCalledTimes(1);
    expect(get.mock.calls[0]).toEqual([HealthIndicatorService, { strict: false }]);
  });
});
