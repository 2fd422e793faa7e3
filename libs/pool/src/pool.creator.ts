/**
 * The creator: runs `factory.create` with a bound (`createTimeoutMs`) and an abort signal, counts
 * failures, and pauses creates with exponential backoff after one. It decides nothing about how many
 * resources the pool needs: the pool's dispatch step asks it to `start()` one create at a time and
 * hears back through `CreatorHost`. Framework-free and monomorphic (one shape per pool).
 */
import { backoffDelay } from '@reservoir/core';
import { PoolTimeoutError } from './pool.errors';
import { PoolMessages } from './pool.messages';
import type { CreateRetryOptions, PoolLogger, ResourceFactory } from './pool.types';

/** What the pool hears from its creator. */
export interface CreatorHost<T> {
  /** A create succeeded; `creating` already counts it as finished. */
  created(resource: T): void;
  /** A create failed or timed out; counters and backoff are already updated. */
  failed(err: unknown, consecutive: number): void;
  /** A resource that must not join the pool (it finished after its timeout, or after close): destroy it. */
  discard(resource: T): void;
  /** A backoff pause ended: creates may start again. */
  resume(): void;
}

export class ResourceCreator<T> {
  /** Creates started and not yet settled. */
  creating = 0;
  /** Every failed create (including timeouts), for stats. */
  failures = 0;
  /** Failures since the last success (drives backoff and health). */
  consecutiveFailures = 0;
  private lastError: unknown = undefined;
  private backoffTimer: NodeJS.Timeout | undefined = undefined;
  private readonly aborts = new Set<AbortController>();
  private settledWaiter: (() => void) | undefined = undefined;
  private closed = false;

  constructor(
    private readonly pool: string,
    private readonly factory: ResourceFactory<T>,
    private readonly timeoutMs: number,
    private readonly retry: Required<CreateRetryOptions>,
    private readonly logger: PoolLogger,
    private readonly host: CreatorHost<T>,
  ) {}

  /** While a backoff pause runs (or after close) no create may start. */
  get paused(): boolean {
    return this.backoffTimer !== undefined || this.closed;
  }

  /** The last create error while creates are failing, else undefined (the cause named by timeouts). */
  get failingCause(): unknown {
    return this.consecutiveFailures > 0 ? this.lastError : undefined;
  }

  /** Starts one create, bounded by `createTimeoutMs`; a create that outlives it is discarded when it lands. */
  start(): void {
    this.creating++;
    const ac = new AbortController();
    this.aborts.add(ac);
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      const err = PoolTimeoutError.create(this.pool, this.timeoutMs);
      ac.abort(err);
      this.aborts.delete(ac);
      this.fail(err);
    }, this.timeoutMs);
    timer.unref();
    let p: Promise<T>;
    try {
      p = Promise.resolve(
        this.factory.create({ signal: ac.signal, attempt: this.consecutiveFailures + 1, pool: this.pool }),
      );
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (resource) => {
        if (done) {
          // Timed out (or the pool closed) before this finished: never leak it.
          this.logger.warn(PoolMessages.lateCreateDestroyed(this.pool));
          this.host.discard(resource);
          return;
        }
        done = true;
        clearTimeout(timer);
        this.aborts.delete(ac);
        this.succeed(resource);
      },
      (err: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.aborts.delete(ac);
        this.fail(err);
      },
    );
  }

  /** Pauses creates for `delay` (exponential in `failures` by default), then tells the host to resume. */
  backOff(failures: number, delay = backoffDelay(failures, this.retry)): void {
    if (this.backoffTimer !== undefined || this.closed) return;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.host.resume();
    }, delay);
    this.backoffTimer.unref();
  }

  /** Stops backoff and aborts every running create with `reason`; later successes are discarded. */
  close(reason: unknown): void {
    this.closed = true;
    if (this.backoffTimer !== undefined) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = undefined;
    }
    for (const ac of this.aborts) ac.abort(reason);
  }

  /** Resolves once no create is running (each is bounded by createTimeoutMs, so this is bounded too). */
  settled(): Promise<void> {
    if (this.creating === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.settledWaiter = () => {
        this.settledWaiter = undefined;
        resolve();
      };
    });
  }

  private succeed(resource: T): void {
    this.creating--;
    if (this.consecutiveFailures > 0) {
      this.logger.log(PoolMessages.createRecovered(this.pool, this.consecutiveFailures));
      this.consecutiveFailures = 0;
      this.lastError = undefined;
    }
    if (this.closed) {
      this.host.discard(resource);
      this.notifySettled();
      return;
    }
    this.host.created(resource);
  }

  private fail(err: unknown): void {
    this.creating--;
    this.failures++;
    this.consecutiveFailures++;
    this.lastError = err;
    const n = this.consecutiveFailures;
    if (!this.closed) {
      const delay = backoffDelay(n, this.retry);
      // Log the first failure and then at powers of two, so an outage doesn't flood the log.
      if ((n & (n - 1)) === 0) this.logger.warn(PoolMessages.createFailed(this.pool, n, delay, err));
      this.backOff(n, delay);
    }
    this.host.failed(err, n);
    if (this.closed) this.notifySettled();
  }

  private notifySettled(): void {
    if (this.creating === 0 && this.settledWaiter !== undefined) this.settledWaiter();
  }
}
