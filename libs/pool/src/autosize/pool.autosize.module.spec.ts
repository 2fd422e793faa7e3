import { Test } from '@nestjs/testing';
import { type Pool } from '../pool';
import { getPoolToken } from '../pool.constants';
import { PoolConfigError } from '../pool.errors';
import { PoolModule } from '../pool.module';
import { silentPoolLogger } from '../pool.logger';

const factory = { create: async () => ({}), destroy: () => undefined };

describe('PoolModule.forRoot({ autoSize })', () => {
  it('passes autoSize through to the pool', async () => {
    const ref = await Test.createTestingModule({
      imports: [
        PoolModule.forRoot({ factory, max: 6, logger: silentPoolLogger, autoSize: { initialLimit: 3 } }),
      ],
    }).compile();
    await ref.init();
    const pool = ref.get<Pool<object>>(getPoolToken());
    expect(pool.stats().autoSize).toEqual({ limit: 3, target: 3, reason: 'initial', adjustments: 0 });
    await ref.close();
  });

  it('fails bootstrap with a PoolConfigError naming the bad autoSize option', async () => {
    const compiling = Test.createTestingModule({
      imports: [PoolModule.forRoot({ factory, logger: silentPoolLogger, autoSize: { decayFactor: 2 } })],
    })
      .compile()
      .then((ref) => ref.init());
    await expect(compiling).rejects.toThrow(PoolConfigError);
    await expect(compiling).rejects.toThrow(
      'Pool "default": invalid option "autoSize.decayFactor": given 2, expected a finite number >= 0.01 and <= 1.',
    );
  });
});
