/**
 * Small option-validation toolkit shared by every Reservoir lib, so each lib's validator reads as a
 * list of rules and every message has the same shape: which option, what was given, what is allowed.
 */

/** Renders a user-supplied value for an error message without dumping huge objects or functions. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `array(${value.length})`;
  if (value instanceof RegExp) return String(value);
  try {
    const json = JSON.stringify(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The error a lib wants thrown; receives the full option path and the rule's text. */
export type ConfigErrorFactory = (option: string, given: unknown, allowed: string) => Error;

/**
 * A validator bound to one lib's error factory and an option-path prefix
 * (e.g. `retry.` for nested options).
 */
export class OptionChecker {
  constructor(
    private readonly fail: ConfigErrorFactory,
    private readonly prefix = '',
  ) {}

  /** A checker for a nested object, e.g. `checker.nested('retry')` reports `retry.attempts`. */
  nested(key: string): OptionChecker {
    return new OptionChecker(this.fail, `${this.prefix}${key}.`);
  }

  error(key: string, given: unknown, allowed: string): Error {
    return this.fail(`${this.prefix}${key}`, given, allowed);
  }

  /** Throws when `value` is not a plain object. */
  object(key: string, value: unknown): asserts value is Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw this.fail(
        key === '' ? this.prefix.replace(/\.$/, '') || 'options' : `${this.prefix}${key}`,
        value,
        'an object',
      );
    }
  }

  /** Throws on the first key of `obj` that is not in `allowed`. */
  knownKeys(obj: object, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        throw this.fail(
          `${this.prefix}${key}`,
          (obj as Record<string, unknown>)[key],
          `no such option; known options are ${allowed.join(', ')}`,
        );
      }
    }
  }

  /** A finite integer in [min, max]; `Infinity` is accepted when `allowInfinity`. */
  integer(
    key: string,
    value: unknown,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
    allowInfinity = false,
  ): number {
    if (allowInfinity && value === Infinity) return value;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const upper =
        (max === Number.MAX_SAFE_INTEGER ? '' : ` and <= ${max}`) + (allowInfinity ? ' or Infinity' : '');
      throw this.fail(`${this.prefix}${key}`, value, `an integer >= ${min}${upper}`);
    }
    return value;
  }

  /** A finite number in [min, max]. */
  number(key: string, value: unknown, min: number, max = Number.MAX_VALUE): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      const upper = max === Number.MAX_VALUE ? '' : ` and <= ${max}`;
      throw this.fail(`${this.prefix}${key}`, value, `a finite number >= ${min}${upper}`);
    }
    return value;
  }

  boolean(key: string, value: unknown): boolean {
    if (typeof value !== 'boolean') throw this.fail(`${this.prefix}${key}`, value, 'true or false');
    return value;
  }

  string(key: string, value: unknown, nonEmpty = true): string {
    if (typeof value !== 'string' || (nonEmpty && value.length === 0)) {
      throw this.fail(`${this.prefix}${key}`, value, nonEmpty ? 'a non-empty string' : 'a string');
    }
    return value;
  }

  oneOf<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw this.fail(`${this.prefix}${key}`, value, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
    }
    return value as T;
  }

  func(key: string, value: unknown): void {
    if (typeof value !== 'function') throw this.fail(`${this.prefix}${key}`, value, 'a function');
  }
}
