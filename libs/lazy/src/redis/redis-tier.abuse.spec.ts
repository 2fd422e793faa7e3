import { RedisTier } from './redis-tier';
import { RedisTierConfigError } from './redis-tier.errors';
import { RedisTierOptions } from './redis-tier.options';

/** Bad options fail in the constructor, before any connection is opened, with the exact message. */
describe('RedisTier abuse: option validation', () => {
  const msg = (o: unknown): string => {
    try {
      new RedisTier(o as RedisTierOptions);
    } catch (e) {
      expect(e).toBeInstanceOf(RedisTierConfigError);
      return (e as Error).message;
    }
    throw new Error('no error thrown');
  };

  it('rejects unknown keys and lists the known ones', () => {
    expect(msg({ urll: 'redis://x' })).toBe(
      `Invalid RedisTier option "urll": got "redis://x", expected no such option; known options are ${Object.keys(
        new RedisTierOptions(),
      ).join(', ')}.`,
    );
  });

  it.each([
    [{ url: '' }, 'Invalid RedisTier option "url": got "", expected a non-empty string.'],
    [
      { url: 'redis://a', client: {} },
      'Invalid RedisTier option "client": got {}, expected either url (an ioredis connection string) or client ' +
        '(an existing ioredis client), not both; pass one of them.',
    ],
    [
      { client: { get: 1 } },
      'Invalid RedisTier option "client": got {"get":1}, expected an ioredis client (an object with duplicate, status and evalsha).',
    ],
    [{ prefix: '' }, 'Invalid RedisTier option "prefix": got "", expected a non-empty string.'],
    [
      { commandTimeoutMs: 0 },
      'Invalid RedisTier option "commandTimeoutMs": got 0, expected an integer >= 1 and <= 60000.',
    ],
    [
      { commandTimeoutMs: Infinity },
      'Invalid RedisTier option "commandTimeoutMs": got Infinity, expected an integer >= 1 and <= 60000.',
    ],
    [
      { streamMaxLen: 5 },
      'Invalid RedisTier option "streamMaxLen": got 5, expected an integer >= 10 and <= 100000000.',
    ],
    [
      { pollInitialMs: 50, pollMaxMs: 20 },
      'Invalid RedisTier option "pollMaxMs": got 20, expected an integer >= 50 and <= 60000.',
    ],
    [{ l2TtlMs: -1 }, 'Invalid RedisTier option "l2TtlMs": got -1, expected an integer >= 1 or Infinity.'],
    [
      { codec: { encode: 1 } },
      'Invalid RedisTier option "codec": got {"encode":1}, expected a TierCodec (an object with encode and decode methods).',
    ],
    [{ instanceId: 7 }, 'Invalid RedisTier option "instanceId": got 7, expected a non-empty string.'],
  ])('%j', (opts, expected) => {
    expect(msg(opts)).toBe(expected);
  });

  it('rejects a non-object', () => {
    expect(msg('redis://x')).toBe('Invalid RedisTier option "options": got "redis://x", expected an object.');
  });
});
