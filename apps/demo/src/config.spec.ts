import { loadConfig } from './config';

describe('loadConfig: DB_POOL_MAX_PER_TENANT', () => {
  it('defaults to half the pool, at least 1', () => {
    expect(loadConfig({}).poolMaxPerTenant).toBe(5);
    expect(loadConfig({ DB_POOL_MAX: '7' }).poolMaxPerTenant).toBe(3);
    expect(loadConfig({ DB_POOL_MAX: '1' }).poolMaxPerTenant).toBe(1);
  });

  it('takes an override from 1 to DB_POOL_MAX, and names the variable when it is out of range', () => {
    expect(loadConfig({ DB_POOL_MAX_PER_TENANT: '10' }).poolMaxPerTenant).toBe(10);
    expect(() => loadConfig({ DB_POOL_MAX_PER_TENANT: '11' })).toThrow(
      'Invalid DB_POOL_MAX_PER_TENANT="11": expected an integer from 1 to 10.',
    );
    expect(() => loadConfig({ DB_POOL_MAX_PER_TENANT: 'half' })).toThrow(
      'Invalid DB_POOL_MAX_PER_TENANT="half"',
    );
  });
});
