/**
 * Picks the database at bootstrap: the embedded SQLite file by default, PostgreSQL when
 * DATABASE_URL is a postgres:// URL. Either way the app gets the same `ProjectsRepository` under
 * `PROJECTS_REPOSITORY`, and the main pool is named 'db' (metrics label, /health, dashboard).
 */
import { type DynamicModule, Module } from '@nestjs/common';
import type { Client } from 'pg';
import { type Pool, PoolModule, getPoolToken, pgTenantBinding } from '@reservoir/pool';
import { type DemoConfig, MAIN_POOL_THRESHOLDS } from '../config';
import { MAIN_POOL, PROJECTS_REPOSITORY, WRITER_POOL } from './db.types';
import { PG_TENANT_SETTING, pgFactory, preparePostgres } from './postgres.database';
import { PostgresProjectsRepository } from './postgres.repository';
import { type Sqlite, prepareSqlite, sqliteFactory } from './sqlite.database';
import { SqliteProjectsRepository } from './sqlite.repository';

const SQLITE_FILE = 'DEMO:SQLITE_FILE';

/** The SQLite file, created, migrated and seeded once before either pool prefills. */
@Module({})
class SqliteFileModule {
  static forRoot(dataDir: string): DynamicModule {
    return {
      module: SqliteFileModule,
      providers: [{ provide: SQLITE_FILE, useFactory: () => prepareSqlite(dataDir) }],
      exports: [SQLITE_FILE],
    };
  }
}

@Module({})
export class DatabaseModule {
  static forRoot(config: DemoConfig): DynamicModule {
    const main = {
      min: config.poolMin,
      max: config.poolMax,
      // One tenant's slow requests queue behind its own share; everybody else keeps being served.
      maxPerTenant: config.poolMaxPerTenant,
      acquireTimeoutMs: config.acquireTimeoutMs,
      health: {
        degradedUtilization: MAIN_POOL_THRESHOLDS.degraded,
        unhealthyUtilization: MAIN_POOL_THRESHOLDS.unhealthy,
        windowMs: config.healthWindowMs,
      },
      shutdownTimeoutMs: 10_000,
      autoSize: config.poolAutoSize,
    };
    return config.database === 'postgres' ? this.postgres(config, main) : this.sqlite(config, main);
  }

  private static sqlite(config: DemoConfig, main: object): DynamicModule {
    const file = SqliteFileModule.forRoot(config.dataDir);
    const pools = [
      PoolModule.forRootAsync({
        name: MAIN_POOL,
        imports: [file],
        inject: [SQLITE_FILE],
        useFactory: (path: string) => ({ ...main, factory: sqliteFactory(path, true) }),
      }),
      PoolModule.forRootAsync({
        name: WRITER_POOL,
        imports: [file],
        inject: [SQLITE_FILE],
        // One writer, by design always "100 % utilized" while writing: the utilization rules are
        // off; timeouts and create failures still make it UNHEALTHY.
        useFactory: (path: string) => ({
          factory: sqliteFactory(path, false),
          min: 1,
          max: 1,
          acquireTimeoutMs: config.acquireTimeoutMs,
          health: {
            degradedUtilization: Infinity,
            unhealthyUtilization: Infinity,
            windowMs: config.healthWindowMs,
          },
        }),
      }),
    ];
    return {
      module: DatabaseModule,
      imports: pools,
      providers: [
        {
          provide: PROJECTS_REPOSITORY,
          useFactory: (readers: Pool<Sqlite>, writer: Pool<Sqlite>) =>
            new SqliteProjectsRepository(readers, writer),
          inject: [getPoolToken(MAIN_POOL), getPoolToken(WRITER_POOL)],
        },
      ],
      // The pools too, so the app can @InjectPool() them.
      exports: [PROJECTS_REPOSITORY, ...pools],
    };
  }

  private static postgres(config: DemoConfig, main: object): DynamicModule {
    const url = config.databaseUrl as string;
    const pool = PoolModule.forRootAsync({
      name: MAIN_POOL,
      // Schema, policies and the unprivileged role exist before the pool opens its first client.
      useFactory: async () => ({
        ...main,
        factory: pgFactory(url, await preparePostgres(url)),
        // Session mode: set_config(…, false) on acquire (skipped when the connection is already
        // bound to that tenant), reset on reuse by another tenant.
        tenantBinding: pgTenantBinding<Client>({ setting: PG_TENANT_SETTING, mode: 'session' }),
      }),
    });
    return {
      module: DatabaseModule,
      imports: [pool],
      providers: [
        {
          provide: PROJECTS_REPOSITORY,
          useFactory: (pool: Pool<Client>) => new PostgresProjectsRepository(pool),
          inject: [getPoolToken(MAIN_POOL)],
        },
      ],
      exports: [PROJECTS_REPOSITORY, pool],
    };
  }
}
