/**
 * Texts of `PoolExceptionFilter` (the client-facing 503 message and its WARN log lines), kept apart
 * from the core's `pool.messages.ts` because only the Nest layer uses them.
 * @internal
 */
export const PoolFilterMessages = {
  /** Sent to the client for a lost database connection: the detail stays in the log. */
  connectionLost: (): string => 'The database connection failed; retry later.',
  connectionLog: (detail: string, code: string | undefined): string =>
    `database connection failure${code === undefined ? '' : ` (${code})`}: ${detail}`,
  logLine: (method: string | undefined, url: string | undefined, retryAfter: number, what: string): string =>
    `503 for ${method ?? '?'} ${url ?? '?'} (Retry-After: ${retryAfter} s): ${what}`,
  noAdapter: (): string =>
    'PoolExceptionFilter has no HTTP adapter to reply through. Register it as APP_FILTER ' +
    '(useClass or PoolExceptionFilter.provider()), or pass app.get(HttpAdapterHost).httpAdapter to its constructor.',
} as const;
