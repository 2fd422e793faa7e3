import { isPgConnectionError } from './pg-errors';

describe('isPgConnectionError', () => {
  const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

  it.each(['08000', '08003', '08006', '08P01', '57P01', '57P02', '57P03', 'ECONNRESET', 'EPIPE'])(
    'classifies %s as a connection failure',
    (code) => expect(isPgConnectionError(withCode(code))).toBe(true),
  );

  it.each(['23505', '42P01', '42501', '57014', '22P02', '0800'])('leaves SQL error %s usable', (code) =>
    expect(isPgConnectionError(withCode(code))).toBe(false),
  );

  it('recognises node-postgres messages and causes', () => {
    expect(isPgConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isPgConnectionError(new Error('Client was closed and is not queryable'))).toBe(true);
    expect(isPgConnectionError(new Error('wrapped', { cause: withCode('57P01') }))).toBe(true);
    expect(isPgConnectionError(new Error('duplicate key value'))).toBe(false);
    expect(isPgConnectionError(undefined)).toBe(false);
    expect(isPgConnectionError('ECONNRESET')).toBe(false);
  });
});
