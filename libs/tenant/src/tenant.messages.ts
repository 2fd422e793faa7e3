/**
 * Every message `@reservoir/tenant` produces, in one file, so the abuse spec can pin them and a
 * reviewer can read them side by side. Each says what happened and how to fix it.
 *
 * Tenant values come from clients. They only ever appear here through `escapeTenantValue()`, which
 * truncates and escapes them, so a message (and any log line built from it) never carries raw control
 * characters, newlines, bidi overrides or other non-ASCII text.
 */
import { describeValue } from '@reservoir/core';

/** The kind of problem found in a tenant id; also the `problem` field of the 400 body. */
export type TenantProblem =
  'missing' | 'not-a-string' | 'list' | 'empty' | 'too-long' | 'control-characters' | 'non-ascii' | 'pattern';

const MAX_ECHO = 40;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Renders a client-supplied value for a message or a log line: at most 40 characters, JSON-quoted,
 * with every character outside printable ASCII written as `\uXXXX`.
 *
 * @publicApi
 */
export function escapeTenantValue(value: string): string {
  const cut = value.length > MAX_ECHO ? `${value.slice(0, MAX_ECHO)}...` : value;
  return asciiOnly(JSON.stringify(cut));
}

/** Writes every character outside printable ASCII as `\uXXXX`. */
function asciiOnly(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const TenantMessages = {
  missingHeader: (header: string) =>
    `Tenant required: the '${header}' header is missing. Send the organisation id in it, ` +
    `mark the route or controller with @SkipTenant(), or set TenantModule's required: false.`,
  missingResolved: () =>
    `Tenant required: resolve(context) returned no organisation id. Send the organisation id where ` +
    `resolve() reads it, mark the handler with @SkipTenant(), or set TenantModule's required: false.`,
  outsideScope: () =>
    `Tenant required: no tenant scope is active. Call this inside a request handled by ` +
    `TenantInterceptor, or wrap the work in TenantContext.run(organisationId, fn).`,
  notAString: (source: string, value: unknown) =>
    `Invalid tenant: ${source} must be a string, got ${asciiOnly(describeValue(value))}.`,
  list: (source: string, value: unknown) =>
    `Invalid tenant: ${source} was given more than once or as a list ` +
    `(${Array.isArray(value) ? plural(value.length, 'value') : escapeTenantValue(String(value))}). ` +
    `Send exactly one organisation id.`,
  empty: (source: string) => `Invalid tenant: ${source} is empty. Send a non-empty organisation id.`,
  tooLong: (source: string, length: number, maxLength: number) =>
    `Invalid tenant: ${source} is ${length} characters long, more than maxLength ${maxLength}. ` +
    `Send a shorter organisation id or raise TenantModule's maxLength.`,
  controlCharacters: (source: string, value: string) =>
    `Invalid tenant: ${source} contains control characters (${escapeTenantValue(value)}). ` +
    `Send printable characters only.`,
  nonAscii: (source: string, value: string, pattern: RegExp) =>
    `Invalid tenant: ${source} contains non-ASCII characters (${escapeTenantValue(value)}), ` +
    `e.g. Unicode look-alikes, which the pattern ${String(pattern)} does not allow.`,
  pattern: (source: string, value: string, pattern: RegExp) =>
    `Invalid tenant: ${source} ${escapeTenantValue(value)} does not match the pattern ${String(pattern)}.`,
  config: (option: string, given: unknown, allowed: string) =>
    `Invalid TenantModule option '${option}': got ${describeValue(given)}, expected ${allowed}.`,
} as const;

/** How the sources of a tenant id are named in messages. */
export const TenantSources = {
  header: (header: string) => `the '${header}' header`,
  resolve: 'the value from resolve(context)',
  run: 'the organisation id given to TenantContext.run()',
} as const;
