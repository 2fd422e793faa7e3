import { LazyCodecError } from './redis-tier.errors';

/**
 * Turns shared values into the text stored in L2 and back. Every instance of a fleet must use the
 * same codec. `encode` must throw (preferably `LazyCodecError`) on a value it cannot round-trip,
 * never store a lossy form.
 *
 * @publicApi
 */
export interface TierCodec {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/** The tag that marks an encoded Date; a plain object using this key is escaped, see below. */
const TAG = '$reservoir';

/**
 * The default codec: JSON, with `Date` kept as a `Date`. It refuses (with `LazyCodecError`, naming
 * the path) everything JSON would silently change: `undefined` at the top or in an array, functions,
 * symbols, bigints, `NaN`/`Infinity`, invalid dates, cycles, and objects that are not plain (class
 * instances, `Map`, `Set`, typed arrays, ...), because after a round trip they would come back as
 * something else. `undefined` object properties are dropped, as JSON does (reading them gives
 * `undefined` either way).
 *
 * @publicApi
 */
export class JsonTierCodec implements TierCodec {
  encode(value: unknown): string {
    return JSON.stringify(this.toJson(value, 'value', new Set()));
  }

  decode(text: string): unknown {
    return JSON.parse(text, function (this: unknown, _key, v: unknown) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && TAG in v) {
        const o = v as Record<string, unknown>;
        if (o[TAG] === 'Date') return new Date(o.v as string);
        if (o[TAG] === 'escaped') return Object.fromEntries(o.v as [string, unknown][]);
      }
      return v;
    });
  }

  /** Validates and converts in one walk, so encode never calls toJSON or a replacer behind our back. */
  private toJson(v: unknown, path: string, seen: Set<object>): unknown {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        if (!Number.isFinite(v)) throw LazyCodecError.notSerializable(path, v, 'JSON has no NaN or Infinity');
        return v;
      case 'undefined':
        throw LazyCodecError.notSerializable(path, v, 'JSON has no undefined');
      case 'function':
      case 'symbol':
      case 'bigint':
        throw LazyCodecError.notSerializable(path, v, `a ${typeof v} is not JSON data`);
    }
    if (v === null) return null;
    const obj = v as object;
    if (seen.has(obj)) throw LazyCodecError.notSerializable(path, 'a cycle', 'the value refers to itself');
    if (obj instanceof Date) {
      if (Number.isNaN(obj.getTime())) throw LazyCodecError.notSerializable(path, v, 'an invalid Date');
      return { [TAG]: 'Date', v: obj.toISOString() };
    }
    seen.add(obj);
    try {
      if (Array.isArray(obj)) return obj.map((item, i) => this.toJson(item, `${path}[${i}]`, seen));
      const proto = Object.getPrototypeOf(obj) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        const name = (obj.constructor as { name?: string } | undefined)?.name ?? 'unknown';
        throw LazyCodecError.notSerializable(
          path,
          v,
          `an instance of ${name}, which would come back as a plain object`,
        );
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(obj)) {
        const item = (obj as Record<string, unknown>)[key];
        if (item === undefined) continue;
        out[key] = this.toJson(item, `${path}.${key}`, seen);
      }
      // A plain object that happens to use the tag is stored as entries, which the reviver leaves alone.
      if (TAG in out) return { [TAG]: 'escaped', v: Object.entries(out) };
      return out;
    } finally {
      seen.delete(obj);
    }
  }
}
