import { InvalidTenantError, TenantRequiredError } from './tenant.errors';
import type { TenantProblem } from './tenant.messages';

/** The rules a tenant id is checked against (a subset of `TenantOptions`). */
export interface TenantIdRules {
  pattern: RegExp;
  maxLength: number;
}

/* eslint-disable no-control-regex -- matching control characters is the point */
const CONTROL = /[\x00-\x1f\x7f]/;
const CONTROL_OR_COMMA = /[\x00-\x1f\x7f,]/;
const NON_ASCII = /[^\x00-\x7f]/;
/* eslint-enable no-control-regex */

/**
 * Framework-free tenant id validation, compiled once from the options and shared by the interceptor
 * and `TenantContext.run()`, so headers, `resolve()` results and job ids obey the same rules.
 *
 * The hot path (`problemOf` on a valid string) is a length check and two regex tests, with no
 * allocation; messages are built only when something is wrong.
 *
 * @publicApi
 */
export class TenantIdValidator {
  readonly pattern: RegExp;
  readonly maxLength: number;

  constructor(rules: TenantIdRules) {
    this.pattern = rules.pattern;
    this.maxLength = rules.maxLength;
  }

  /**
   * `undefined` when `value` is a valid organisation id, else the problem. `undefined`/`null` give
   * `'missing'`. With `fromHeader`, a comma is a problem too (Node joins a repeated header with ", ").
   */
  problemOf(value: unknown, fromHeader = false): TenantProblem | undefined {
    if (typeof value === 'string') {
      const n = value.length;
      if (
        n !== 0 &&
        n <= this.maxLength &&
        this.pattern.test(value) &&
        !(fromHeader ? CONTROL_OR_COMMA : CONTROL).test(value)
      ) {
        return undefined;
      }
      if (n === 0) return 'empty';
      if (n > this.maxLength) return 'too-long';
      if (CONTROL.test(value)) return 'control-characters';
      if (fromHeader && value.includes(',')) return 'list';
      return NON_ASCII.test(value) ? 'non-ascii' : 'pattern';
    }
    if (value === undefined || value === null) return 'missing';
    return Array.isArray(value) ? 'list' : 'not-a-string';
  }

  /** The error for a problem found by `problemOf`. `header` names the header for 'missing'. */
  errorFor(
    problem: TenantProblem,
    value: unknown,
    source: string,
    header?: string,
  ): InvalidTenantError | TenantRequiredError {
    return problem === 'missing'
      ? TenantRequiredError.missing(header)
      : InvalidTenantError.create(problem, source, value, this);
  }

  /** Returns `value` as a valid organisation id or throws `InvalidTenantError` / `TenantRequiredError`. */
  validate(value: unknown, source: string): string {
    const problem = this.problemOf(value);
    if (problem !== undefined) {
      throw problem === 'missing'
        ? InvalidTenantError.create('not-a-string', source, value, this)
        : this.errorFor(problem, value, source);
    }
    return value as string;
  }
}
