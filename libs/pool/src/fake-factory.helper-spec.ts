/**
 * Test double for pool specs (not a spec itself: the name keeps it out of Jest's testMatch and out
 * of the lib build). A real factory with knobs, not a re-implementation of the pool.
 */
import { EventEmitter } from 'node:events';
import { Pool } from './pool';
import type { CreateContext, PoolLogger, PoolOptions, ResourceFactory, TenantBinding } from './pool.types';

export class FakeResource extends EventEmitter {
  destroyed = false;
  /** Tenant whose session state this resource carries (set by FakeBinding). */
  session: string | undefined = undefined;
  constructor(readonly id: number) {
    super();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class FakeFactory implements ResourceFactory<FakeResource> {
  createDelayMs = 0;
  destroyDelayMs = 0;
  /** Fail every create while true. */
  failing = false;
  /** Fail the next N creates. */
  failNext = 0;
  /** Never settle creates (unless aborted) while true. */
  hang = false;
  /** Ignore the abort signal (a badly behaved driver). */
  ignoreAbort = false;
  validateResult: (r: FakeResource) => boolean = () => true;
  validateCalls = 0;
  createCalls = 0;
  destroyCalls = 0;
  readonly live = new Set<FakeResource>();
  /** Highest number of resources alive at once (created and not yet finished destroying). */
  peakLive = 0;
  lastError: Error | undefined;
  private nextId = 1;

  create(ctx: CreateContext): Promise<FakeResource> {
    this.createCalls++;
    return new Promise<FakeResource>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        ctx.signal.removeEventListener('abort', onAbort);
        if (ctx.signal.aborted && !this.ignoreAbort) return; // already rejected
        if (this.failing || this.failNext > 0) {
          if (this.failNext > 0) this.failNext--;
          this.lastError = new Error(`ECONNREFUSED fake create #${this.createCalls}`);
          reject(this.lastError);
          return;
        }
        const r = new FakeResource(this.nextId++);
        this.live.add(r);
        this.peakLive = Math.max(this.peakLive, this.live.size);
        resolve(r);
      };
      const onAbort = (): void => {
        if (this.ignoreAbort) return;
        if (timer) clearTimeout(timer);
        reject(ctx.signal.reason);
      };
      ctx.signal.addEventListener('abort', onAbort);
      if (this.hang) return;
      if (this.createDelayMs > 0) timer = setTimeout(finish, this.createDelayMs);
      else queueMicrotask(finish);
    });
  }

  destroy(r: FakeResource): Promise<void> | void {
    this.destroyCalls++;
    const done = (): void => {
      r.destroyed = true;
      this.live.delete(r);
    };
    if (this.destroyDelayMs > 0) return sleep(this.destroyDelayMs).then(done);
    done();
  }

  validate(r: FakeResource): boolean {
    this.validateCalls++;
    return this.validateResult(r);
  }
}

/** A binding that writes the tenant onto the resource, so tests can check what each caller sees. */
export class FakeBinding implements TenantBinding<FakeResource> {
  calls: string[] = [];
  failUnbind = false;
  failBind = false;
  delayMs = 0;
  constructor(readonly unbindOnRelease = false) {}

  async bind(r: FakeResource, org: string): Promise<void> {
    this.calls.push(`bind:${r.id}:${org}`);
    if (this.delayMs) await sleep(this.delayMs);
    if (r.session !== undefined) throw new Error(`bind(${org}) on a resource still carrying ${r.session}`);
    if (this.failBind) throw new Error('bind failed');
    r.session = org;
  }

  /** Installed by tests that want the one-step switch. */
  rebind?: (r: FakeResource, from: string, to: string) => Promise<void>;

  useRebind(): this {
    this.rebind = async (r, from, to) => {
      this.calls.push(`rebind:${r.id}:${from}->${to}`);
      if (this.failUnbind) throw new Error('rebind failed');
      r.session = to;
    };
    return this;
  }

  async unbind(r: FakeResource, org: string): Promise<void> {
    this.calls.push(`unbind:${r.id}:${org}`);
    if (this.delayMs) await sleep(this.delayMs);
    if (this.failUnbind) throw new Error('unbind failed');
    r.session = undefined;
  }
}

export function captureLogger(): PoolLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: (m) => lines.push(`log ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

/**
 * `mk(opts?, factory?)` for a spec file: a pool of fake resources with a capturing logger, the
 * file's `defaults` under `opts`; every pool it made is closed after each test.
 */
export function fakePools(defaults: Partial<PoolOptions<FakeResource>>) {
  const open: Pool<FakeResource>[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
  });
  return (opts: Partial<PoolOptions<FakeResource>> = {}, factory = new FakeFactory()) => {
    const logger = captureLogger();
    const pool = new Pool<FakeResource>({ factory, logger, shutdownTimeoutMs: 200, ...defaults, ...opts });
    open.push(pool);
    return { pool, factory, logger };
  };
}
