/**
 * Bounded load for the demo: workers looping over `tenants` organisations for `durationMs`, every
 * iteration a tenant-scoped settings read (LazyModule hit) plus a slow read that holds a pooled
 * connection for `holdMs`. The number of workers ramps up in three stages (`rampPlan`): below the
 * main pool's degraded threshold, past it, then the peak `concurrency`, which saturates the pool
 * (callers queue). So one default run walks HEALTHY → DEGRADED → UNHEALTHY, and the pool recovers to
 * HEALTHY when it ends.
 *
 * Parameters are validated by the controller (`parseLoadBody`), only one run exists at a time, and a
 * run stops early on shutdown.
 */
import { ConflictException, Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { TenantContext } from '@reservoir/tenant';
import { DEMO_CONFIG, type DemoConfig, MAIN_POOL_THRESHOLDS } from '../config';
import { PROJECTS_REPOSITORY, type ProjectsRepository } from '../db/db.types';
import { SEED_ORGANISATIONS, sleep } from '../db/seed';
import { TenantSettingsService } from '../settings/lazy-resources.service';
import { LoadMessages } from './load.messages';
import { type LoadParams, type RampStage, rampPlan, withLoadDefaults } from './load.params';

export interface LoadStatus extends LoadParams {
  running: boolean;
  startedAt: string | null;
  endsAt: string | null;
  /** The run's stages: from `atMs` after the start, `workers` workers. */
  ramp: RampStage[];
  /** Workers running now. */
  workers: number;
  completed: number;
  failed: number;
  lastError: string | null;
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
    ...withLoadDefaults(),
    running: false,
    startedAt: null,
    endsAt: null,
    ramp: [],
    workers: 0,
    completed: 0,
    failed: 0,
    lastError: null,
  };

  constructor(
    @Inject(PROJECTS_REPOSITORY) private readonly repo: ProjectsRepository,
    private readonly tenant: TenantContext,
    private readonly settings: TenantSettingsService,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
  ) {}

  current(): LoadStatus {
    return { ...this.status, ramp: this.status.ramp.map((s) => ({ ...s })) };
  }

  start(input: Partial<LoadParams> = {}): LoadStatus {
    if (this.status.running) throw new ConflictException(LoadMessages.alreadyRunning(this.status.endsAt));
    const params = withLoadDefaults(input);
    const ramp = rampPlan(params, { max: this.config.poolMax, ...MAIN_POOL_THRESHOLDS });
    const abort = new AbortController();
    const started = Date.now();
    this.abort = abort;
    this.status = {
      ...params,
      running: true,
      startedAt: new Date(started).toISOString(),
      endsAt: new Date(started + params.durationMs).toISOString(),
      ramp,
      workers: 0,
      completed: 0,
      failed: 0,
      lastError: null,
    };
    this.logger.log(
      `load: ${ramp.map((s) => s.workers).join(' → ')} workers × ${params.tenants} tenants for ${params.durationMs} ms (hold ${params.holdMs} ms)`,
    );
    const timer = setTimeout(() => abort.abort(new Error('load run finished')), params.durationMs);
    const tenants = loadTenants(params.tenants);
    // Workers join stage by stage and run to the end. One timer per stage, not one sleep per
    // worker: a sleep on the run's signal would add an abort listener per worker.
    // One signal per worker: each worker keeps at most one abort listener at a time (its pool wait
    // or its hold), so sharing the run's signal would put up to `concurrency` listeners on one
    // AbortSignal (above 10, Node prints MaxListenersExceededWarning). The run's signal gets one
    // listener, which fans the abort out.
    const perWorker: AbortController[] = [];
    const ended = new Promise<void>((res) =>
      abort.signal.addEventListener(
        'abort',
        () => {
          for (const c of perWorker) c.abort(abort.signal.reason);
          res();
        },
        { once: true },
      ),
    );
    const launched: Array<Promise<void>> = [];
    const launch = (upTo: number) => {
      while (launched.length < upTo && !abort.signal.aborted) {
        const i = launched.length;
        const c = new AbortController();
        perWorker.push(c);
        this.status.workers++;
        launched.push(this.worker(i, tenants, params.holdMs, c.signal).finally(() => this.status.workers--));
      }
    };
    launch(ramp[0].workers);
    const stageTimers = ramp.slice(1).map((s) => setTimeout(() => launch(s.workers), s.atMs));
    this.run = ended
      .then(() => {
        clearTimeout(timer);
        for (const t of stageTimers) clearTimeout(t);
        return Promise.all(launched); // complete: nothing launches after the abort
      })
      .then(() => {
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
