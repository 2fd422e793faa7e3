import { ReservoirError } from '@reservoir/core';
import { TenantMessages, type TenantProblem } from './tenant.messages';

/**
 * Base class of the errors `@reservoir/tenant` throws.
 *
 * @publicApi
 */
export abstract class TenantError extends ReservoirError {
  /** A stable machine-readable code, also sent as `code` in HTTP 400 / RPC / WS error bodies. */
  abstract readonly code: string;
}

/**
 * No tenant is in scope where one is required: a request without the tenant header, or a
 * tenant-scoped pool/lazy resource used outside `TenantContext.run()`.
 *
 * @publicApi
 */
export class TenantRequiredError extends TenantError {
  readonly code = 'TENANT_REQUIRED';
  readonly problem: TenantProblem = 'missing';

  /** The request carried no tenant (`source` is the header name, or undefined for `resolve()`). */
  static missing(header?: string): TenantRequiredError {
    return new TenantRequiredError(
      header === undefined ? TenantMessages.missingResolved() : TenantMessages.missingHeader(header),
    );
  }

  /** `TenantContext.require()` (or a tenant-scoped resource) was used outside any tenant scope. */
  static outsideScope(): TenantRequiredError {
    return new TenantRequiredError(TenantMessages.outsideScope());
  }
}

/**
 * A tenant id failed validation (empty, too long, not matching the pattern, repeated header, ...).
 * `problem` names which rule failed.
 *
 * @publicApi
 */
export class InvalidTenantError extends TenantError {
  readonly code = 'TENANT_INVALID';

  constructor(
    message: string,
    readonly problem: Exclude<TenantProblem, 'missing'>,
  ) {
    super(message);
  }

  static create(
    problem: Exclude<TenantProblem, 'missing'>,
    source: string,
    value: unknown,
    rules: { pattern: RegExp; maxLength: number },
  ): InvalidTenantError {
    const text = typeof value === 'string' ? value : '';
    let message: string;
    switch (problem) {
      case 'not-a-string':
        message = TenantMessages.notAString(source, value);
        break;
      case 'list':
        message = TenantMessages.list(source, value);
        break;
      case 'empty':
        message = TenantMessages.empty(source);
        break;
      case 'too-long':
        message = TenantMessages.tooLong(source, text.length, rules.maxLength);
        break;
      case 'control-characters':
        message = TenantMessages.controlCharacters(source, text);
        break;
      case 'non-ascii':
        message = TenantMessages.nonAscii(source, text, rules.pattern);
        break;
      case 'pattern':
        message = TenantMessages.pattern(source, text, rules.pattern);
        break;
    }
    return new InvalidTenantError(message, problem);
  }
}

/**
 * `TenantModule.forRoot()` / `forRootAsync()` got an invalid or unknown option. Thrown at bootstrap.
 *
 * @publicApi
 */
export class TenantConfigError extends TenantError {
  readonly code = 'TENANT_CONFIG';

  static create(option: string, given: unknown, allowed: string): TenantConfigError {
    return new TenantConfigError(TenantMessages.config(option, given, allowed));
  }
}
