/**
 * One classification of PostgreSQL / node-postgres failures, shared by everything that must decide
 * whether a connection is still usable: the default `isBroken` of `pgClientFactory`, and the
 * exception filter that maps connection failures to 503. SQL errors (constraint violations, syntax,
 * permission) leave the connection usable; connection-level failures do not.
 *
 * Connection-level means:
 * - SQLSTATE class 08 (connection exception);
 * - 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now;
 * - socket errors such as `ECONNRESET`, `ECONNREFUSED`, `EPIPE`, `ETIMEDOUT`;
 * - node-postgres' own "Connection terminated" / "Client was closed" / "not queryable" errors.
 */
const BROKEN_SQLSTATES = new Set(['57P01', '57P02', '57P03']);
const BROKEN_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const BROKEN_MESSAGE =
  /connection terminated|client was closed|not queryable|client has encountered a connection error/i;

/**
 * `true` when `err` (or its `cause`) means the PostgreSQL connection that raised it can no longer be
 * trusted; `false` for SQL errors and anything unrecognised.
 *
 * @publicApi
 */
export function isPgConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (code.startsWith('08') && code.length === 5) return true;
      if (BROKEN_SQLSTATES.has(code) || BROKEN_ERRNO.has(code)) return true;
    }
    if (typeof message === 'string' && BROKEN_MESSAGE.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
