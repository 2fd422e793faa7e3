import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Pool } from './pool';
import { getPoolToken } from './pool.constants';
import { defaultPoolLogger } from './pool.logger';
import { PoolModule } from './pool.module';
import type { ResourceFactory } from './pool.types';

/** A factory whose creates always fail, so the pool warns on the first attempt. */
const failing: ResourceFactory<object> = {
  create: async () => {
    throw new Error('boom');
  },
  destroy: () => undefined,
};

afterEach(() => jest.restoreAllMocks());

describe('pool logging', () => {
  it('the default logger of a bare Pool is console, with the Pool(<name>) context', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const nestWarn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const pool = new Pool<object>({ name: 'bare', max: 1, acquireTimeoutMs: 100, factory: failing });
    await expect(pool.acquire()).rejects.toThrow();
    await pool.close();
    expect(warn).toHaveBeenCalledWith(
      '[Pool(bare)]',
      expect.stringContaining('factory.create failed (1 in a row)'),
    );
    expect(nestWarn).not.toHaveBeenCalled();
  });

  it('defaultPoolLogger maps log/warn/error onto console', () => {
    const spies = (['log', 'warn', 'error'] as const).map((m) =>
      jest.spyOn(console, m).mockImplementation(() => undefined),
    );
    const logger = defaultPoolLogger('x');
    logger.log('a');
    logger.warn('b');
    logger.error('c');
    expect(spies.map((s) => s.mock.calls)).toEqual([
      [['[Pool(x)]', 'a']],
      [['[Pool(x)]', 'b']],
      [['[Pool(x)]', 'c']],
    ]);
  });

  it('PoolModule logs through Nest Logger with the context Pool(<name>)', async () => {
    const consoleWarn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const contexts: unknown[] = [];
    const messages: unknown[] = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(function (this: Logger, message: unknown) {
      contexts.push((this as unknown as { context?: string }).context);
      messages.push(message);
    });
    const ref = await Test.createTestingModule({
      imports: [PoolModule.forRoot({ name: 'nested', max: 1, acquireTimeoutMs: 100, factory: failing })],
    }).compile();
    await ref.init();
    const pool = ref.get<Pool<object>>(getPoolToken('nested'));
    await expect(pool.acquire()).rejects.toThrow();
    await ref.close();
    expect(contexts[0]).toBe('Pool(nested)');
    expect(String(messages[0])).toContain('factory.create failed (1 in a row)');
    expect(consoleWarn).not.toHaveBeenCalled();
  });
});
