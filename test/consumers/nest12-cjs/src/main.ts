import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn', 'log'] });
  // SIGTERM drains the pool (PoolModule's onApplicationShutdown).
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  console.log(`consumer listening on ${await app.getUrl()}`);
}

// CommonJS has no top-level await.
bootstrap().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
