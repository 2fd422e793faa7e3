import { OptionChecker } from '@reservoir/core';
import { TenantConfigError } from './tenant.errors';

/**
 * A custom tenant extractor, e.g. from a JWT claim already on `request.user`, from RPC message
 * metadata or from a WS payload. It must be synchronous. Return `undefined` when the message carries
 * no tenant; whatever it returns is validated exactly like the header.
 *
 * @publicApi
 */
export type TenantResolver = {
  // Method syntax on purpose: its parameter is checked bivariantly, so a resolver annotated with
  // Nest's `(ctx: ExecutionContext) => …` stays assignable to this framework-free type.
  resolve(context: TenantExecutionContext): unknown;
}['resolve'];

/**
 * What a {@link TenantResolver} receives: the members of Nest's `ExecutionContext` (the object Nest
 * passes), written out so the declarations of `@reservoir/tenant/core` need no `@nestjs/common`. The
 * `any` defaults mirror Nest's own signatures, so `ctx.switchToHttp().getRequest().user` type-checks
 * exactly as it does with Nest's type.
 *
 * @publicApi
 */
export interface TenantExecutionContext {
  /** `'http'`, `'rpc'`, `'ws'` (or a custom transport's type, e.g. `'graphql'`). */
  getType<T extends string = string>(): T;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  getArgs<T extends any[] = any[]>(): T;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  getArgByIndex<T = any>(index: number): T;
  /* eslint-disable @typescript-eslint/no-explicit-any */
  switchToHttp(): { getRequest<T = any>(): T; getResponse<T = any>(): T; getNext<T = any>(): T };
  switchToRpc(): { getData<T = any>(): T; getContext<T = any>(): T };
  switchToWs(): { getData<T = any>(): T; getClient<T = any>(): T; getPattern(): string };
  /** The controller/gateway class of the handler. */
  getClass<T = any>(): new (...args: any[]) => T;
  /* eslint-enable @typescript-eslint/no-explicit-any */
  /** The handler about to run. */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  getHandler(): Function;
}

/**
 * Resolved `TenantModule` options. The field initialisers are the defaults, and this is the only
 * place they are written down; the validator's list of known keys is derived from it too.
 *
 * @publicApi
 */
export class TenantOptions {
  /**
   * HTTP header carrying the organisation id (case-insensitive, stored lower-cased).
   * @default 'x-organisation-id'
   */
  header = 'x-organisation-id';

  /**
   * Reject requests without a tenant (HTTP 400 / RpcException / WsException). With `false` such
   * requests run outside any tenant scope; a present but invalid value is still rejected.
   * @default true
   */
  required = true;

  /**
   * What a valid organisation id looks like. Anchor it (`^...$`); no `g` or `y` flag.
   * Control characters and, for headers, commas are rejected whatever the pattern says.
   * @default /^[A-Za-z0-9_-]+$/
   */
  pattern: RegExp = /^[A-Za-z0-9_-]+$/;

  /**
   * Longest accepted organisation id, in UTF-16 code units.
   * @default 64
   */
  maxLength = 64;

  /**
   * Custom extractor used instead of the header, for every transport.
   * @default undefined (HTTP: the `header`; RPC and WS: none, so set this for them)
   * @example resolve: (ctx) => ctx.switchToHttp().getRequest().user?.org
   */
  resolve?: TenantResolver = undefined;
}

/**
 * Options accepted by `TenantModule.forRoot()`; every field is optional and defaults as documented
 * on {@link TenantOptions}.
 *
 * @publicApi
 */
export type TenantModuleOptions = Partial<TenantOptions>;

/** Read off an instance (declaration order), so the validator cannot drift from the class. */
const KNOWN_KEYS: readonly string[] = Object.keys(new TenantOptions());
/** RFC 9110 token characters, i.e. what a header name may contain. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Upper bound for maxLength: ids are keys, not documents. */
export const MAX_MAX_LENGTH = 1024;

const checker: OptionChecker = new OptionChecker(TenantConfigError.create);

/**
 * Validates user options and fills in defaults. Unknown keys are rejected; a key set to `undefined`
 * means "use the default". Throws `TenantConfigError`.
 */
export function resolveTenantOptions(input: unknown = {}): TenantOptions {
  checker.object('', input);
  checker.knownKeys(input, KNOWN_KEYS);
  const resolved = new TenantOptions();
  const { header, required, pattern, maxLength, resolve } = input;
  if (header !== undefined) {
    const name = checker.string('header', header);
    if (!HEADER_NAME.test(name)) {
      throw checker.error('header', header, "a valid HTTP header name (letters, digits and !#$%&'*+.^_`|~-)");
    }
    resolved.header = name.toLowerCase();
  }
  if (required !== undefined) resolved.required = checker.boolean('required', required);
  if (pattern !== undefined) {
    if (!(pattern instanceof RegExp)) throw checker.error('pattern', pattern, 'a RegExp');
    if (pattern.global || pattern.sticky) {
      throw checker.error('pattern', pattern, 'a RegExp without the g or y flag (they make test() stateful)');
    }
    resolved.pattern = pattern;
  }
  if (maxLength !== undefined)
    resolved.maxLength = checker.integer('maxLength', maxLength, 1, MAX_MAX_LENGTH);
  if (resolve !== undefined) {
    checker.func('resolve', resolve);
    resolved.resolve = resolve as TenantResolver;
  }
  return resolved;
}
