import { Pool } from '@reservoir/pool';
import { ReservoirMetricsCollector } from './metrics.collector';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const factory = { create: async () => ({}), destroy: () => undefined };

function limitSample(text: string, pool: string): number | undefined {
  const m = new RegExp(`^reservoir_pool_limit\\{pool="${pool}"\\} (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

describe('reservoir_pool_limit', () => {
  it('is the auto-sizing limit when autoSize is on, else max', async () => {
    const auto = new Pool<object>({
      name: 'auto',
      factory,
      max: 9,
      logger: quiet,
      autoSize: { initialLimit: 4 },
    });
    const fixed = new Pool<object>({ name: 'fixed', factory, max: 7, logger: quiet });
    const collector = new ReservoirMetricsCollector({ pools: () => [auto, fixed] });
    const text = await collector.metrics();
    expect(text).toContain('# TYPE reservoir_pool_limit gauge');
    expect(limitSample(text, 'auto')).toBe(4);
    expect(limitSample(text, 'fixed')).toBe(7);
    collector.close();
    await Promise.all([auto.close(), fixed.close()]);
  });
});
