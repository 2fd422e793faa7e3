/**
 * `@nestjs/terminus` is an optional peer: importing `@reservoir/pool` must work without it, and only
 * calling the indicator may need it. Here terminus "is not installed": requiring it throws.
 */
jest.mock('@nestjs/terminus', () => {
  throw Object.assign(new Error("Cannot find module '@nestjs/terminus'"), { code: 'MODULE_NOT_FOUND' });
});

describe('@reservoir/pool without @nestjs/terminus installed', () => {
  it('the barrel loads, PoolModule works, and only isHealthy() needs terminus', async () => {
    const lib = await import('./index');
    expect(typeof lib.PoolModule.forRoot).toBe('function');
    expect(typeof lib.PoolHealthIndicator).toBe('function');

    const { Test } = await import('@nestjs/testing');
    const ref = await Test.createTestingModule({
      imports: [lib.PoolModule.forRoot({ factory: { create: async () => ({}), destroy: () => undefined } })],
      providers: [lib.PoolHealthIndicator],
    }).compile();
    await ref.init();
    try {
      await expect(ref.get(lib.PoolHealthIndicator).isHealthy('pool')).rejects.toThrow(
        /Cannot find module '@nestjs\/terminus'/,
      );
    } finally {
      await ref.close();
    }
  });
});
