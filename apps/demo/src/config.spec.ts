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

describe('loadConfig: REDIS_URL and REDIS_PREFIX (the shared lazy tier)', () => {
  it('is off without REDIS_URL, on with a redis:// or rediss:// URL', () => {
    expect(loadConfig({}).redisUrl).toBeUndefined();
    expect(loadConfig({ REDIS_URL: ' ' }).redisUrl).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl).toBe('redis://127.0.0.1:6379');
    expect(loadConfig({ REDIS_URL: 'rediss://cache:6380/2' }).redisUrl).toBe('rediss://cache:6380/2');
    expect(loadConfig({}).redisPrefix).toBe('reservoir:demo');
    expect(loadConfig({ REDIS_PREFIX: 'demo:t1' }).redisPrefix).toBe('demo:t1');
  });

  it('names the variable and what is allowed for a bad value (and never echoes a password)', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://user:secret@host' })).toThrow(
      'REDIS_URL must be a redis:// or rediss:// URL (got "http:…"); unset it to keep the lazy resources local to this instance.',
    );
    expect(() => loadConfig({ REDIS_PREFIX: 'a b' })).toThrow(
      'Invalid REDIS_PREFIX="a b": expected 1 to 64 characters of A-Z a-z 0-9 : _ . -',
    );
  });
});
