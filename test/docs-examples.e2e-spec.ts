/**
 * Boots every documentation example marked `docs-check: boot`: the block is written, exactly as the
 * reader sees it, to a temporary directory inside the repository (so `node_modules` and the
 * `@reservoir/*` aliases resolve as for a user's file), loaded through ts-jest (type-checked), and its
 * module is started with `NestFactory.create` on a real PostgreSQL database, listened on port 0,
 * probed with the block's `get=` checks, and closed. `npm run docs:check` compiles every block; this
 * spec proves the apps among them also start (dependency injection, option validation, bootstrap hooks).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { findMarkdownFiles } from '../scripts/docs-check/compile';
import { blockFileName, extractBlocks, type DocBlock } from '../scripts/docs-check/extract';
import { createTestDatabase } from './helpers/services';

const root = path.resolve(__dirname, '..');
const files = findMarkdownFiles(root);
const extracted = files.map((file) => extractBlocks(file, fs.readFileSync(path.join(root, file), 'utf8')));
const allBlocks: DocBlock[] = extracted.flatMap((r) => r.blocks);
const bootBlocks = allBlocks.filter((b) => b.marker.boot);
const MODULE_KEYS = ['imports', 'providers', 'controllers', 'exports'];

type Ctor = Type<unknown>;
const isNestModule = (v: unknown): v is Ctor =>
  typeof v === 'function' && MODULE_KEYS.some((k) => Reflect.hasOwnMetadata(k, v));

function moduleToBoot(block: DocBlock, exports: Record<string, unknown>): Ctor {
  const where = `${block.file}:${block.line}`;
  const wanted = block.marker.module;
  if (wanted) {
    const m = exports[wanted];
    if (!isNestModule(m)) throw new Error(`${where}: module=${wanted} is not an exported @Module() class`);
    return m;
  }
  if (isNestModule(exports.AppModule)) return exports.AppModule;
  const modules = Object.values(exports).filter(isNestModule);
  if (modules.length !== 1)
    throw new Error(
      `${where}: ${modules.length} exported @Module() classes and no AppModule; add module=<Name>`,
    );
  return modules[0];
}

describe('documentation examples boot', () => {
  const dir = path.join(root, 'test', `.docs-boot-${randomBytes(4).toString('hex')}`);
  const savedEnv = { ...process.env };
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('reservoir_docs');
    fs.mkdirSync(dir, { recursive: true });
  });

  afterAll(async () => {
    process.env = savedEnv;
    fs.rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('finds bootable examples in the README and in every package reference', () => {
    expect(extracted.flatMap((r) => r.problems)).toEqual([]);
    const withBoot = new Set(bootBlocks.map((b) => b.file));
    for (const file of ['README.md', 'docs/pool.md', 'docs/tenant.md', 'docs/lazy.md', 'docs/metrics.md'])
      expect(withBoot).toContain(file);
  });

  it.each(bootBlocks.map((b) => [`${b.file}:${b.line}`, b] as const))(
    '%s starts, answers, and closes',
    async (_where, block) => {
      for (const name of block.marker.pgEnv) process.env[name] = db!.url;
      // Blocks of the same Markdown file it imports by their file= names are written next to it.
      for (const b of allBlocks.filter((x) => x.file === block.file && (x === block || x.marker.file))) {
        fs.mkdirSync(path.dirname(path.join(dir, blockFileName(b))), { recursive: true });
        fs.writeFileSync(path.join(dir, blockFileName(b)), b.code + '\n');
      }
      const file = path.join(dir, blockFileName(block));
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const exports = require(file) as Record<string, unknown>;
      const mod = moduleToBoot(block, exports);
      let app: INestApplication | undefined;
      try {
        // abortOnError: false makes a DI failure reject here instead of exiting the process.
        app = await NestFactory.create(mod, { logger: ['error'], abortOnError: false });
        await app.listen(0, '127.0.0.1');
        const { port } = app.getHttpServer().address() as { port: number };
        for (const check of block.marker.get) {
          const headers: Record<string, string> = check.organisationId
            ? { 'x-organisation-id': check.organisationId }
            : {};
          const res = await fetch(`http://127.0.0.1:${port}${check.path}`, {
            headers,
            signal: AbortSignal.timeout(10_000),
          });
          const body = await res.text();
          expect({ path: check.path, status: res.status, body }).toEqual({
            path: check.path,
            status: check.status,
            body:
              check.bodyContains === undefined
                ? expect.any(String)
                : expect.stringContaining(check.bodyContains),
          });
        }
      } finally {
        await app?.close();
      }
    },
    60_000,
  );
});
