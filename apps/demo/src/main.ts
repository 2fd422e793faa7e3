import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { loadConfig } from './config';
import { DemoSetupError, checkPostgresSetup } from './db/postgres.setup';
import { redactRedisUrl } from './shared/shared-tier.module';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  if (config.databaseUrl !== undefined) await checkPostgresSetup(config.databaseUrl);
  const app = await NestFactory.create(AppModule.forRoot(config));
  // SIGTERM/SIGINT → stop load and SSE streams (onModuleDestroy), let in-flight requests finish
  // (the HTTP server closes), then drain the pools (PoolModule's onApplicationShutdown).
  app.enableShutdownHooks();
  await app.listen(config.port);
  const url = (await app.getUrl()).replace('[::1]', 'localhost').replace('127.0.0.1', 'localhost');
  const db = config.database === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : `SQLite in ${config.dataDir}`;
  const lazy =
    config.redisUrl === undefined
      ? ''
      : `; lazy resources shared on ${redactRedisUrl(config.redisUrl)} prefix "${config.redisPrefix}"`;
  Logger.log(
    `Reservoir demo on ${url}/dashboard (${db}${lazy}); also ${url}/health and ${url}/metrics`,
    'Bootstrap',
  );
}

bootstrap().catch((err: unknown) => {
  if (!(err instanceof DemoSetupError)) throw err;
  // Plain text on stderr, no stack: the message is the commands to run.
  process.stderr.write(`\n${err.message}\n\n`);
  process.exitCode = 1;
});
