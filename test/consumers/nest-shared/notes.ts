import { Body, Controller, Get, Injectable, type OnApplicationBootstrap, Post } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { LazyHealthIndicator, LazyResource } from '@reservoir/lazy';
import { InjectPool, type Pool, PoolHealthIndicator, PoolRegistry } from '@reservoir/pool';
import { CurrentTenant, SkipTenant, TenantContext } from '@reservoir/tenant';
import type { Client } from 'pg';

export const POOL = 'main';

export interface Note {
  id: number;
  organisation_id: string;
  body: string;
}

/** No tenant filter in SQL: the RLS policy and the pool's tenant binding keep organisations apart. */
@Injectable()
export class NotesRepository {
  constructor(@InjectPool(POOL) private readonly pool: Pool<Client>) {}

  list(): Promise<Note[]> {
    return this.pool.use(
      async (c) => (await c.query<Note>('SELECT id, organisation_id, body FROM notes ORDER BY id')).rows,
    );
  }

  add(organisationId: string, body: string): Promise<Note> {
    return this.pool.use(async (c) => {
      const sql =
        'INSERT INTO notes (organisation_id, body) VALUES ($1, $2) RETURNING id, organisation_id, body';
      return (await c.query<Note>(sql, [organisationId, body])).rows[0];
    });
  }
}

export interface Profile {
  organisationId: string;
  notes: number;
  load: number;
}

@Injectable()
export class ProfileService {
  private loads = 0;

  constructor(
    private readonly notes: NotesRepository,
    private readonly tenant: TenantContext,
  ) {}

  /** Cached per organisation: `load` only grows when the loader really runs. */
  @LazyResource({ staleAfterMs: 60_000 })
  async profile(): Promise<Profile> {
    const load = ++this.loads;
    return { organisationId: this.tenant.require(), notes: (await this.notes.list()).length, load };
  }
}

@Controller()
export class NotesController {
  constructor(
    private readonly notes: NotesRepository,
    private readonly profiles: ProfileService,
  ) {}

  @Get('notes')
  list(): Promise<Note[]> {
    return this.notes.list();
  }

  @Post('notes')
  add(@CurrentTenant() organisationId: string, @Body() body: { body?: unknown }): Promise<Note> {
    return this.notes.add(organisationId, String(body.body ?? ''));
  }

  @Get('profile')
  profile(): Promise<Profile> {
    return this.profiles.profile();
  }
}

@SkipTenant()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly pools: PoolHealthIndicator,
    private readonly lazy: LazyHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.pools.isHealthy('pool', { pool: POOL }),
      () => this.lazy.isHealthy('lazy'),
    ]);
  }
}

/**
 * Prints what is left of each pool once its close() finished (the `closed` event comes after every
 * destroy): on SIGTERM the harness expects size=0 and every created client destroyed.
 */
@Injectable()
export class ShutdownReport implements OnApplicationBootstrap {
  constructor(private readonly registry: PoolRegistry) {}

  onApplicationBootstrap(): void {
    for (const pool of this.registry.all()) {
      pool.events$.subscribe((event) => {
        if (event.type !== 'closed') return;
        const s = pool.stats();
        console.log(
          `consumer pool closed: ${s.name} size=${s.size} created=${s.created} destroyed=${s.destroyed}`,
        );
      });
    }
  }
}
