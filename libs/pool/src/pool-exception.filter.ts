/**
 * Maps pool saturation and lost database connections to `503 Service Unavailable` with a
 * `Retry-After` header, instead of the `500 Internal server error` (plus a stack trace in the log)
 * that Nest answers for an unknown error. Everything else goes to Nest's default handling unchanged.
 *
 * - `PoolTimeoutError` (the acquire waited `acquireTimeoutMs`) and `PoolExhaustedError` (the wait
 *   queue is full): 503, body `{ statusCode, error, message, pool }`, one WARN line, no stack. The
 *   server is overloaded, not broken: the client should retry later.
 * - Connection-level PostgreSQL failures (`isPgConnectionError`: the same classification that makes
 *   `pgClientFactory` destroy a connection): 503 without `pool` (a `pg` error does not know it),
 *   one WARN line, no stack. The message sent to the client is generic; the log has the detail.
 *
 * Works on Express and Fastify (it replies through Nest's HTTP adapter). Non-HTTP contexts
 * (RPC, WebSocket) are passed on unchanged.
 *
 * @publicApi
 * @example
 * // app.module.ts: global, with defaults
 * providers: [{ provide: APP_FILTER, useClass: PoolExceptionFilter }]
 * // or with options
 * providers: [PoolExceptionFilter.provider({ retryAfterSeconds: 2 })]
 * // or in main.ts
 * app.useGlobalFilters(new PoolExceptionFilter({ retryAfterSeconds: 2 }, app.get(HttpAdapterHost).httpAdapter));
 */
import {
  type ArgumentsHost,
  Catch,
  type HttpServer,
  HttpStatus,
  Inject,
  Logger,
  Optional,
  type Provider,
} from '@nestjs/common';
import { APP_FILTER, BaseExceptionFilter, HttpAdapterHost } from '@nestjs/core';
import { OptionChecker } from '@reservoir/core';
import { isPgConnectionError } from './pg-errors';
import { PoolConfigError, PoolExhaustedError, PoolTimeoutError } from './pool.errors';
import { PoolFilterMessages } from './pool-exception.messages';

/**
 * Options of `PoolExceptionFilter`. The initialisers are the defaults.
 *
 * @publicApi
 */
export class PoolExceptionFilterOptions {
  /**
   * Value of the `Retry-After` header (seconds, an integer from 0 to 86400) on every 503. Short,
   * because saturation usually clears within an acquire timeout; clients should add jitter.
   * @default 1
   */
  retryAfterSeconds = 1;
  /**
   * Also answer 503 for connection-level PostgreSQL failures (`isPgConnectionError`).
   * @default true
   */
  connectionErrors = true;
}

/** DI token of the options when the filter is created by Nest (`PoolExceptionFilter.provider()`). */
export const POOL_EXCEPTION_FILTER_OPTIONS = 'RESERVOIR:POOL_EXCEPTION_FILTER_OPTIONS';

const KNOWN_KEYS = Object.keys(new PoolExceptionFilterOptions());

function resolveOptions(input: Partial<PoolExceptionFilterOptions> | undefined): PoolExceptionFilterOptions {
  const c: OptionChecker = new OptionChecker((option, given, allowed) =>
    PoolConfigError.invalidOption('', option, given, allowed, 'PoolExceptionFilter'),
  );
  const out = new PoolExceptionFilterOptions();
  if (input === undefined) return out;
  c.object('', input);
  c.knownKeys(input, KNOWN_KEYS);
  if (input.retryAfterSeconds !== undefined) {
    out.retryAfterSeconds = c.integer('retryAfterSeconds', input.retryAfterSeconds, 0, 86_400);
  }
  if (input.connectionErrors !== undefined) {
    if (typeof input.connectionErrors !== 'boolean') {
      throw c.error('connectionErrors', input.connectionErrors, 'true or false');
    }
    out.connectionErrors = input.connectionErrors;
  }
  return out;
}

/** Log lines must stay one line: a create error quoted in a timeout message may span several. */
const oneLine = (text: string): string => text.replace(/\s*[\r\n]+\s*/g, ' ');

/** The body of every 503 this filter sends. `pool` is present when the error names its pool. */
export interface PoolUnavailableBody {
  statusCode: 503;
  error: 'Service Unavailable';
  message: string;
  pool?: string;
}

/** @publicApi */
@Catch()
export class PoolExceptionFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('PoolExceptionFilter');
  /** The options in effect (defaults applied). */
  readonly options: PoolExceptionFilterOptions;
  private adapterHost: HttpAdapterHost | undefined;
  private fallback: BaseExceptionFilter | undefined;

  constructor(
    @Optional() @Inject(POOL_EXCEPTION_FILTER_OPTIONS) options?: Partial<PoolExceptionFilterOptions>,
    @Optional() applicationRef?: HttpServer,
  ) {
    super(applicationRef);
    this.options = resolveOptions(options);
  }

  /**
   * A global-filter provider (`APP_FILTER`) with these options, for `providers: [...]` of the root
   * module. Nest supplies the HTTP adapter.
   */
  static provider(options?: Partial<PoolExceptionFilterOptions>): Provider {
    const resolved = resolveOptions(options); // bad options fail at module definition, not per request
    return {
      provide: APP_FILTER,
      useFactory: (host: HttpAdapterHost) => {
        // The adapter is attached to the host only when the app is created, after this factory ran.
        const filter = new PoolExceptionFilter(resolved);
        filter.adapterHost = host;
        return filter;
      },
      inject: [HttpAdapterHost],
    };
  }

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const mapped = this.classify(exception);
    if (mapped === undefined) return this.passOn(exception, host);

    const http = host.switchToHttp();
    const request = http.getRequest<{ method?: string; url?: string; originalUrl?: string }>();
    const response: unknown = http.getResponse();
    this.logger.warn(
      oneLine(
        PoolFilterMessages.logLine(
          request?.method,
          request?.originalUrl ?? request?.url,
          this.options.retryAfterSeconds,
          mapped.log,
        ),
      ),
    );
    const adapter = this.applicationRef ?? this.httpAdapterHost?.httpAdapter ?? this.adapterHost?.httpAdapter;
    if (adapter === undefined) {
      // Created with `new` and no adapter: nothing to reply through. Say how to fix it, once per
      // request, and let the exception take Nest's default path.
      this.logger.error(PoolFilterMessages.noAdapter());
      throw exception;
    }
    if (adapter.isHeadersSent(response)) {
      adapter.end(response);
      return;
    }
    adapter.setHeader(response, 'Retry-After', String(this.options.retryAfterSeconds));
    adapter.reply(response, mapped.body, HttpStatus.SERVICE_UNAVAILABLE);
  }

  /** Nest's default handling, through whichever adapter reference this instance has. */
  private passOn(exception: unknown, host: ArgumentsHost): void {
    if (this.applicationRef === undefined && this.httpAdapterHost === undefined && this.adapterHost) {
      this.fallback ??= new BaseExceptionFilter(this.adapterHost.httpAdapter);
      return this.fallback.catch(exception, host);
    }
    return super.catch(exception, host);
  }

  /** The 503 body and the log text for `exception`, or undefined when it is not ours to map. */
  private classify(exception: unknown): { body: PoolUnavailableBody; log: string } | undefined {
    if (exception instanceof PoolTimeoutError || exception instanceof PoolExhaustedError) {
      return {
        body: {
          statusCode: 503,
          error: 'Service Unavailable',
          message: exception.message,
          pool: exception.pool,
        },
        log: `${exception.name}: ${exception.message}`,
      };
    }
    if (this.options.connectionErrors && isPgConnectionError(exception)) {
      const e = exception as { name?: unknown; message?: unknown; code?: unknown };
      const detail = `${typeof e.name === 'string' ? e.name : 'Error'}: ${String(e.message)}`;
      return {
        body: { statusCode: 503, error: 'Service Unavailable', message: PoolFilterMessages.connectionLost() },
        log: PoolFilterMessages.connectionLog(detail, typeof e.code === 'string' ? e.code : undefined),
      };
    }
    return undefined;
  }
}
