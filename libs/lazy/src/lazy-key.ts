import { LazyKeyError } from './lazy.errors';

/**
 * Stable serialization of a decorated method's arguments into a cache key: `Class.method(args)`.
 * Primitives keep their type (`"1"` vs `1`), object keys are sorted, Dates are ISO strings. Anything
 * else (functions, symbols, Maps, class instances, cycles) throws `LazyKeyError` naming the method.
 */
export type KeyBuilder = (args: readonly unknown[]) => string;

class Unserializable extends Error {}

const MEMO_MAX = 1024;

function primitive(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
    case 'boolean':
      return String(v);
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return `${v}n`;
    default:
      return v === null ? 'null' : undefined;
  }
}

function serialize(v: unknown, seen: Set<object>): string {
  const p = primitive(v);
  if (p !== undefined) return p;
  if (typeof v === 'function') throw new Unserializable('it is a function');
  if (typeof v === 'symbol') throw new Unserializable('it is a symbol');
  const o = v as object;
  if (seen.has(o)) throw new Unserializable('it contains a circular reference');
  if (o instanceof Date) {
    if (Number.isNaN(o.getTime())) throw new Unserializable('it is an invalid Date');
    return `Date(${o.toISOString()})`;
  }
  seen.add(o);
  let out: string;
  if (Array.isArray(o)) {
    out = `[${o.map((x) => serialize(x, seen)).join(',')}]`;
  } else {
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto?.constructor as { name?: string } | undefined)?.name || 'an object';
      throw new Unserializable(
        `it contains a ${name} instance; only primitives, plain objects, arrays and Dates are serialized`,
      );
    }
    const rec = o as Record<string, unknown>;
    out = `{${Object.keys(rec)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${serialize(rec[k], seen)}`)
      .join(',')}}`;
  }
  seen.delete(o);
  return out;
}

/** The default key builder of `resource` (`Class.method`). */
export function argumentKeyBuilder(resource: string): KeyBuilder {
  const prefix = `${resource}(`;
  const empty = `${resource}()`;
  // Keys of the common one-primitive-argument call, reused: no JSON.stringify and no concatenation on
  // a repeat call, and the reused string keeps its cached hash for the store lookup. Bounded.
  const memo = new Map<unknown, string>();
  return (args) => {
    const n = args.length;
    if (n === 0) return empty;
    if (n === 1) {
      const a = args[0];
      const t = typeof a;
      if (t === 'string' || t === 'number') {
        let k = memo.get(a);
        if (k === undefined) {
          if (memo.size >= MEMO_MAX) memo.clear();
          k = prefix + (primitive(a) as string) + ')';
          memo.set(a, k);
        }
        return k;
      }
      const p = primitive(a);
      if (p !== undefined) return prefix + p + ')';
    }
    let out = prefix;
    for (let i = 0; i < n; i++) {
      try {
        out += (i === 0 ? '' : ',') + serialize(args[i], new Set());
      } catch (err) {
        if (err instanceof Unserializable)
          throw LazyKeyError.unserializable(resource, i, args[i], err.message);
        throw err;
      }
    }
    return out + ')';
  };
}

/** A key builder around the user's `key: (...args) => string`. */
export function customKeyBuilder(resource: string, key: (...args: never[]) => string): KeyBuilder {
  const prefix = `${resource}(`;
  return (args) => {
    const k = (key as (...a: readonly unknown[]) => unknown)(...args);
    // NUL separates the organisation from the entry key in store keys (see TENANT_SEPARATOR).
    if (typeof k !== 'string' || k.length === 0 || k.includes('\u0000'))
      throw LazyKeyError.badKeyResult(resource, k);
    return prefix + k + ')';
  };
}
