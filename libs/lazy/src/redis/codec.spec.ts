import { JsonTierCodec } from './codec';
import { LazyCodecError } from './redis-tier.errors';

describe('JsonTierCodec', () => {
  const codec = new JsonTierCodec();
  const roundTrip = (v: unknown): unknown => codec.decode(codec.encode(v));

  it('round-trips JSON data and keeps Date a Date, at any depth', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const v = { a: 1, b: 'x', c: [true, null, { at }], at, nested: { list: [at, 2.5] } };
    const back = roundTrip(v) as typeof v;
    expect(back).toEqual(v);
    expect(back.at).toBeInstanceOf(Date);
    expect(back.at.getTime()).toBe(at.getTime());
    expect((back.c[2] as { at: Date }).at).toBeInstanceOf(Date);
    expect(roundTrip(at)).toEqual(at);
    expect(roundTrip('plain')).toBe('plain');
  });

  it('keeps a plain object that uses the Date tag as data', () => {
    const v = { $reservoir: 'Date', v: 'not a date', inner: { $reservoir: 'escaped', v: [] } };
    expect(roundTrip(v)).toEqual(v);
  });

  it('drops undefined properties as JSON does', () => {
    expect(roundTrip({ a: 1, b: undefined })).toEqual({ a: 1 });
  });

  it.each([
    ['a function', { f: () => 1 }, 'value.f', 'a function is not JSON data'],
    ['a bigint', [1n], 'value[0]', 'a bigint is not JSON data'],
    ['NaN', { n: NaN }, 'value.n', 'JSON has no NaN or Infinity'],
    ['undefined at the top', undefined, 'value', 'JSON has no undefined'],
    ['undefined in an array', [1, undefined], 'value[1]', 'JSON has no undefined'],
    ['a Map', { m: new Map() }, 'value.m', 'an instance of Map, which would come back as a plain object'],
    ['a class instance', { x: new (class Money {})() }, 'value.x', 'an instance of Money'],
    ['an invalid Date', { d: new Date('nope') }, 'value.d', 'an invalid Date'],
  ])('refuses %s with a named error naming the path', (_what, value, path, why) => {
    let err: unknown;
    try {
      codec.encode(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LazyCodecError);
    expect((err as LazyCodecError).name).toBe('LazyCodecError');
    expect((err as LazyCodecError).path).toBe(path);
    expect((err as Error).message).toContain(`${path} is`);
    expect((err as Error).message).toContain(why);
    expect((err as Error).message).toContain('mark the resource shared: false');
  });

  it('refuses a cycle', () => {
    const v: Record<string, unknown> = { a: 1 };
    v.self = v;
    expect(() => codec.encode(v)).toThrow(/value\.self is "a cycle" \(the value refers to itself\)/);
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(roundTrip({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });
});
