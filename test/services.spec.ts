import { requirePostgres, requireRedis } from './helpers/services';

describe('test services', () => {
  it('PostgreSQL answers at DATABASE_URL', async () => {
    await expect(requirePostgres()).resolves.toBeUndefined();
  });
  it('Redis answers PING at REDIS_URL', async () => {
    await expect(requireRedis()).resolves.toBeUndefined();
  });
  it('an unreachable service fails with where and how to start it', async () => {
    await expect(requirePostgres('postgres://postgres@127.0.0.1:1/postgres')).rejects.toThrow(
      /PostgreSQL is not reachable at postgres:\/\/postgres@127\.0\.0\.1:1\/postgres .*start it with: pg_ctlcluster/,
    );
    await expect(requireRedis('redis://127.0.0.1:1')).rejects.toThrow(
      /Redis is not reachable at redis:\/\/127\.0\.0\.1:1 .*redis-server/,
    );
  });
});
