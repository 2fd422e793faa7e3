/**
 * Bounded load for the demo: `concurrency` workers, each looping over `tenants` organisations for
 * `durationMs`, every iteration a tenant-scoped settings read (LazyModule hit) plus a slow read
 * that holds a pooled connection for `holdMs`. With concurrency above 70 % of the pool's max the
 * pool goes DEGRADED, at or above max UNHEALTHY (callers queue), and it recovers when the run ends.
 *
 * Every parameter is clamped, only one run exists at a time, and a run stops early on shutdown.
 */
import { ConflictException, Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { TenantContext } from '@reservoir/tenant';
import { PROJECTS_REPOSITORY, type ProjectsRepository } from '../db/db.types';
import { SEED_ORGANISATIONS, sleep } from '../db/seed';
import { TenantSettingsService } from '../settings/lazy-resources.service';

/** Bounds of every load parameter: [min, default, max]. */
export const LOAD_LIMITS = {
  tenants: [1, 4, 20],
  concurrency: [1, 12, 64],
  durationMs: [500, 8_000, 60_000],
  holdMs: [10, 250, 2_000],
} as const;

export type LoadParams = { -readonly [K in keyof typeof LOAD_LIMITS]: number };

export interface LoadStatus extends LoadParams {
  running: boolean;
  startedAt: string | null;
  endsAt: string | null;
  completed: number;
  failed: number;
  lastError: string | null;
}

/** Clamps each parameter into its bounds; non-numbers take the default. */
export function clampLoad(input: Partial<Record<keyof LoadParams, unknown>> = {}): LoadParams {
  const out = {} as LoadParams;
  for (const key of Object.keys(LOAD_LIMITS) as Array<keyof LoadParams>) {
    const [min, def, max] = LOAD_LIMITS[key];
    const raw = input[key];
    const n =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    out[key] = Number.isFinite(n) ? Math.min(max, Math.max(min, Math.round(n))) : def;
  }
  return out;
}

/** Seeded organisations first, then synthetic ones (`load-06`, …) up to `n`. */
export function loadTenants(n: number): string[] {
  const ids = SEED_ORGANISATIONS.map((o) => o.id).slice(0, n);
  for (let i = ids.length + 1; ids.length < n; i++) ids.push(`load-${String(i).padStart(2, '0')}`);
  return ids;
}

@Injectable()
export class LoadService implements OnModuleDestroy {
  private readonly logger = new Logger('DemoLoad');
  private abort?: AbortController;
  private run?: Promise<void>;
  private status: LoadStatus = {
    ...clampLoad(),
    running: false,
    startedAt: null,
    endsAt: null,
    completed: 0,
    failed: 0,
    lastError: null,
  };

  constructor(
    @Inject(PROJECTS_REPOSITORY) private readonly repo: ProjectsRepository,
    private readonly tenant: TenantContext,
    private readonly settings: TenantSettingsService,
  ) {}

  current(): LoadStatus {
    return { ...this.status };
  }

  start(input: Partial<Record<keyof LoadParams, unknown>>): LoadStatus {
    if (this.status.running) {
      throw new ConflictException(
        `a load run is already going until ${this.status.endsAt}; DELETE /demo/load stops it`,
      );
    }
    const params = clampLoad(input);
    const abort = new AbortController();
    const started = Date.now();
    this.abort = abort;
    this.status = {
      ...params,
      running: true,
      startedAt: new Date(started).toISOString(),
      endsAt: new Date(started + params.durationMs).toISOString(),
      completed: 0,
      failed: 0,
      lastError: null,
    };
    this.logger.log(
      `load: ${params.concurrency} workers × ${params.tenants} tenants for ${params.durationMs} ms (hold ${params.holdMs} ms)`,
    );
    const timer = setTimeout(() => abort.abort(new Error('load run finished')), params.durationMs);
    const tenants = loadTenants(params.tenants);
    // One signal per worker. Each worker keeps at most one abort listener at a time (its pool wait
    // or its hold), so sharing the run's signal would put `concurrency` listeners on one
    // AbortSignal: above 10, Node prints MaxListenersExceededWarning ("possible memory leak"). The
    // run's signal gets exactly one listener, which fans the abort out.
    const perWorker = Array.from({ length: params.concurrency }, () => new AbortController());
    abort.signal.addEventListener(
      'abort',
      () => {
        for (const c of perWorker) c.abort(abort.signal.reason);
      },
      { once: true },
    );
    const workers = perWorker.map((c, i) => this.worker(i, tenants, params.holdMs, c.signal));
    this.run = Promise.all(workers).then(() => {
      clearTimeout(timer);
      this.status.running = false;
      this.logger.log(`load finished: ${this.status.completed} ops, ${this.status.failed} failed`);
    });
    return this.current();
  }

  async stop(): Promise<LoadStatus> {
    this.abort?.abort(new Error('load run stopped'));
    await this.run;
    return this.current();
  }

  private async worker(i: number, tenants: string[], holdMs: number, signal: AbortSignal): Promise<void> {
    for (let n = i; !signal.aborted; n++) {
      const org = tenants[n % tenants.length];
      try {
        await this.tenant.run(org, async () => {
          await this.settings.settings();
          await this.repo.slowRead(org, holdMs, signal);
        });
        this.status.completed++;
      } catch (err) {
        if (signal.aborted) break;
        this.status.failed++;
        this.status.lastError = err instanceof Error ? err.message : String(err);
        await sleep(50, signal).catch(() => undefined);
      }
    }
  }

  /** Stop the run before the pools drain, so shutdown does not wait for a full duration. */
  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }
}
