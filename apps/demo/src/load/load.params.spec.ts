import { BadRequestException } from '@nestjs/common';
import { LOAD_LIMITS, parseLoadBody, rampPlan, withLoadDefaults } from './load.params';

/** The 400 message `parseLoadBody(body)` throws (fails the test if it does not throw a 400). */
function rejection(body: unknown): string {
  try {
    parseLoadBody(body);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestException);
    return (err as BadRequestException).message;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('parseLoadBody', () => {
  it('accepts nothing, {} and in-range integers, returning only what was given', () => {
    expect(parseLoadBody(undefined)).toEqual({});
    expect(parseLoadBody({})).toEqual({});
    expect(parseLoadBody({ tenants: 1, concurrency: 64, durationMs: 500, holdMs: 2000 })).toEqual({
      tenants: 1,
      concurrency: 64,
      durationMs: 500,
      holdMs: 2000,
    });
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'])(
    'rejects the inherited name %s as an unknown key (JSON.parse makes it an own key)',
    (key) => {
      expect(rejection(JSON.parse(`{"${key}": 5}`))).toBe(
        `unknown load parameter "${key}"; known: tenants, concurrency, durationMs, holdMs`,
      );
    },
  );

  it('rejects an unknown key on a null-prototype body too', () => {
    const body = Object.assign(Object.create(null) as object, { concurency: 3 });
    expect(rejection(body)).toContain('unknown load parameter "concurency"');
  });

  it('says out of range, with the range, for 1e400, -1e400 and other values past a bound', () => {
    expect(rejection(JSON.parse('{"durationMs": 1e400}'))).toBe(
      'load parameter "durationMs" is out of range: got Infinity, allowed 500 to 60000',
    );
    expect(rejection(JSON.parse('{"holdMs": -1e400}'))).toBe(
      'load parameter "holdMs" is out of range: got -Infinity, allowed 10 to 2000',
    );
    for (const key of Object.keys(LOAD_LIMITS) as Array<keyof typeof LOAD_LIMITS>) {
      const [min, , max] = LOAD_LIMITS[key];
      expect(rejection({ [key]: min - 1 })).toBe(
        `load parameter "${key}" is out of range: got ${min - 1}, allowed ${min} to ${max}`,
      );
      expect(rejection({ [key]: max + 1 })).toContain(`got ${max + 1}, allowed ${min} to ${max}`);
    }
  });

  it('rejects non-numbers and non-integers, naming the value', () => {
    expect(rejection({ concurrency: 'lots' })).toBe(
      'load parameter "concurrency" must be a finite number, got "lots"',
    );
    expect(rejection({ tenants: null })).toBe('load parameter "tenants" must be a finite number, got null');
    expect(rejection({ tenants: 2.5 })).toBe('load parameter "tenants" must be an integer, got 2.5');
    expect(rejection({ tenants: NaN })).toBe('load parameter "tenants" must be a finite number, got NaN');
  });

  it('rejects bodies that are not objects', () => {
    for (const body of [null, [], 'x', 3]) expect(rejection(body)).toBe('body must be a JSON object');
  });
});

describe('withLoadDefaults', () => {
  it('fills what is missing from LOAD_LIMITS', () => {
    expect(withLoadDefaults({ holdMs: 100 })).toEqual({
      tenants: 4,
      concurrency: 12,
      durationMs: 12_000,
      holdMs: 100,
    });
  });
});

describe('rampPlan', () => {
  const pool = { max: 10, degraded: 0.7, unhealthy: 1 };

  it('walks the default run through HEALTHY, DEGRADED and UNHEALTHY in three equal stages', () => {
    const d = withLoadDefaults();
    expect(rampPlan(d, pool)).toEqual([
      { atMs: 0, workers: 4, target: 'HEALTHY' },
      { atMs: 4000, workers: 9, target: 'DEGRADED' },
      { atMs: 8000, workers: 12, target: 'UNHEALTHY' },
    ]);
  });

  it('caps every stage at the peak concurrency and never decreases', () => {
    expect(rampPlan({ concurrency: 6, durationMs: 3000 }, pool).map((s) => s.workers)).toEqual([4, 6, 6]);
    expect(rampPlan({ concurrency: 1, durationMs: 3000 }, pool).map((s) => s.workers)).toEqual([1, 1, 1]);
    for (const max of [1, 2, 3, 5, 10, 20, 100]) {
      for (const concurrency of [1, 5, 12, 64]) {
        const w = rampPlan({ concurrency, durationMs: 900 }, { ...pool, max }).map((s) => s.workers);
        expect(w[0]).toBeGreaterThanOrEqual(1);
        expect(w[1]).toBeGreaterThanOrEqual(w[0]);
        expect(w[2]).toBe(concurrency);
        expect(Math.max(...w)).toBe(concurrency);
      }
    }
  });

  it('sizes the stages from the pool: the DEGRADED stage stays below max', () => {
    const big = rampPlan({ concurrency: 64, durationMs: 3000 }, { ...pool, max: 40 });
    expect(big.map((s) => [s.workers, s.target])).toEqual([
      [16, 'HEALTHY'],
      [34, 'DEGRADED'],
      [64, 'UNHEALTHY'],
    ]);
  });
});
