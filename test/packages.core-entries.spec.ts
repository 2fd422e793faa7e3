/**
 * The framework-free entries `@reservoir/pool/core`, `@reservoir/lazy/core` and `@reservoir/tenant/core`,
 * checked the way an installed package is used: the libs are built with the real pack script into a
 * temp dir, copied into a temp `node_modules` next to only their non-Nest runtime dependencies
 * (rxjs, lru-cache), and loaded by a separate `node` process. Nothing under the temp dir can resolve
 * `@nestjs/*`, which the negative control (the root `@reservoir/pool` entry needs Nest) proves.
 * The same layout then type-checks small consumers with `strict` and `skipLibCheck: false`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(__dirname, '..');
const BUILT = ['core', 'tenant', 'pool', 'lazy'];

let tmp: string;
let app: string;

/** Links a package of the repo's node_modules into `<into>/node_modules`. */
function link(pkg: string, into: string): void {
  const target = join(into, 'node_modules', pkg);
  mkdirSync(join(target, '..'), { recursive: true });
  symlinkSync(join(repo, 'node_modules', pkg), target, 'dir');
}

function runNode(script: string): { status: number | null; stdout: string; stderr: string } {
  const file = join(app, `script-${Math.random().toString(36).slice(2)}.js`);
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], {
    cwd: app,
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'reservoir-core-entries-'));
  const build = join(tmp, 'build');
  execFileSync(
    process.execPath,
    [join(repo, 'scripts/pack.mjs'), '--out-dir', build, '--only', BUILT.join(','), '--no-tarballs'],
    {
      cwd: repo,
      stdio: 'pipe',
      timeout: 240_000,
    },
  );
  app = join(tmp, 'app');
  mkdirSync(join(app, 'node_modules/@reservoir'), { recursive: true });
  for (const lib of BUILT)
    cpSync(join(build, 'libs', lib), join(app, 'node_modules/@reservoir', lib), { recursive: true });
  // The runtime dependencies of the cores (rxjs needs tslib), nothing else.
  for (const pkg of ['rxjs', 'tslib', 'lru-cache']) link(pkg, app);
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('framework-free /core entries', () => {
  it('the temp install cannot resolve @nestjs/*: the root pool entry fails to load (control)', () => {
    const r = runNode(`require('@reservoir/pool');`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot find module '@nestjs\/(common|core)'/);
  });

  it.each(['@reservoir/pool/core', '@reservoir/lazy/core', '@reservoir/tenant/core'])(
    '%s loads and loads no @nestjs module',
    (entry) => {
      const r = runNode(`
        const api = require(${JSON.stringify(entry)});
        process.stdout.write(JSON.stringify({
          exports: Object.keys(api),
          nest: Object.keys(require.cache).filter((k) => k.includes('@nestjs')),
          reservoir: Object.keys(require.cache).filter((k) => k.includes('@reservoir')).length,
        }));
      `);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout) as { exports: string[]; nest: string[]; reservoir: number };
      expect(out.nest).toEqual([]);
      expect(out.reservoir).toBeGreaterThan(1);
      const expected: Record<string, string[]> = {
        '@reservoir/pool/core': [
          'Pool',
          'PoolTimeoutError',
          'pgClientFactory',
          'pgTenantBinding',
          'silentPoolLogger',
        ],
        '@reservoir/lazy/core': ['LazyLoaderCore', 'MemoryCacheStore', 'LazyLoadError', 'LazyModuleOptions'],
        '@reservoir/tenant/core': [
          'TenantContext',
          'TenantIdValidator',
          'getCurrentTenant',
          'TenantRequiredError',
        ],
      };
      expect(out.exports).toEqual(expect.arrayContaining(expected[entry]));
    },
  );

  it('a bare Pool logs through console with the Pool(<name>) context, loading no Nest', () => {
    const r = runNode(`
      const lines = [];
      for (const m of ['log', 'warn', 'error']) console[m] = (...a) => lines.push(m + ': ' + a.join(' '));
      const { Pool } = require('@reservoir/pool/core');
      const pool = new Pool({
        name: 'probe', min: 0, max: 1, acquireTimeoutMs: 200,
        factory: { create: async () => { throw new Error('boom'); }, destroy() {} },
      });
      pool.acquire().catch((e) => lines.push('acquire: ' + e.name)).then(() => pool.close()).then(() => {
        process.stdout.write(JSON.stringify({ lines, nest: Object.keys(require.cache).filter((k) => k.includes('@nestjs')) }));
      });
    `);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { lines: string[]; nest: string[] };
    expect(out.nest).toEqual([]);
    expect(out.lines).toContain('acquire: PoolTimeoutError');
    expect(
      out.lines.some((l) => l.startsWith('warn: [Pool(probe)] ') && l.includes('factory.create failed')),
    ).toBe(true);
  });

  it('TenantContext.run() scopes the tenant for the lazy core without Nest', () => {
    const r = runNode(`
      const { TenantContext, getCurrentTenant } = require('@reservoir/tenant/core');
      const tenant = new TenantContext();
      const done = tenant.run('acme', async () => {
        await new Promise((r) => setTimeout(r, 5));
        return getCurrentTenant();
      });
      const outside = getCurrentTenant() ?? null;
      done.then((inside) => process.stdout.write(JSON.stringify({ inside, outside })));
      let invalid = '';
      try { tenant.run('bad id!', () => undefined); } catch (e) { invalid = e.name; }
      process.stderr.write(invalid);
    `);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ inside: 'acme', outside: null });
    expect(r.stderr).toBe('InvalidTenantError');
  });
});

describe('declarations of the /core entries (strict, skipLibCheck: false)', () => {
  function compile(
    name: string,
    source: string,
    typePackages: string[],
    extraOptions: Record<string, unknown> = {},
  ): { status: number | null; output: string } {
    const dir = join(tmp, `types-${name}`);
    mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
    // The consumer sees the same installed packages as the runtime test, plus the listed types.
    // Copied, not linked: tsc resolves a link to its real path and would look for types next to it.
    cpSync(join(app, 'node_modules/@reservoir'), join(dir, 'node_modules/@reservoir'), { recursive: true });
    for (const pkg of ['rxjs', 'tslib', 'lru-cache']) link(pkg, dir);
    for (const pkg of typePackages) link(pkg, dir);
    writeFileSync(join(dir, 'main.ts'), source);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          types: ['node'],
          ...extraOptions,
        },
        files: ['main.ts'],
      }),
    );
    const r = spawnSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  }

  it('tenant/core and lazy/core compile with no @nestjs/* and no pg types installed', () => {
    const r = compile(
      'tenant-lazy',
      `
      import { TenantContext, type TenantResolver } from '@reservoir/tenant/core';
      import { LazyLoaderCore, MemoryCacheStore } from '@reservoir/lazy/core';
      const tenant = new TenantContext();
      const resolver: TenantResolver = (ctx) => ctx.switchToHttp().getRequest<{ org?: string }>().org;
      const loader = new LazyLoaderCore({}, { tenantResolver: () => tenant.organisationId });
      export const used: unknown[] = [resolver, loader, MemoryCacheStore];
      `,
      ['@types/node'],
    );
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  }, 180_000);

  it('pool/core with pgClientFactory compiles with @types/pg, as its README says', () => {
    const r = compile(
      'pool-pg',
      `
      import type { Client } from 'pg';
      import { Pool, pgClientFactory, pgTenantBinding } from '@reservoir/pool/core';
      const pool: Pool<Client> = new Pool({
        name: 'main',
        factory: pgClientFactory('postgres://localhost/app'),
        tenantBinding: pgTenantBinding({ setting: 'app.organisation_id' }),
      });
      export const run = (): Promise<number> => pool.use(async (c) => (await c.query('SELECT 1')).rowCount ?? 0);
      `,
      ['@types/node', '@types/pg', 'pg-types', 'pg-protocol'],
    );
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  }, 180_000);

  it('the Nest entries and both health indicators compile without @nestjs/terminus installed', () => {
    const r = compile(
      'nest-no-terminus',
      `
      import 'reflect-metadata';
      import { Module } from '@nestjs/common';
      import { PoolModule, PoolHealthIndicator } from '@reservoir/pool';
      import { TenantModule } from '@reservoir/tenant';
      import { LazyModule, LazyHealthIndicator } from '@reservoir/lazy';
      @Module({
        imports: [
          TenantModule.forRoot(),
          LazyModule.forRoot({}),
          PoolModule.forRoot({ factory: { create: async () => ({ id: 1 }), destroy: () => undefined }, max: 2 }),
        ],
      })
      export class AppModule {}
      export const indicators = (p: PoolHealthIndicator, l: LazyHealthIndicator) =>
        Promise.all([p.isHealthy('pool'), l.isHealthy('lazy')]).then(([a, b]) => a.pool.status === b.lazy.status);
      `,
      [
        '@types/node',
        '@types/pg',
        'pg-types',
        'pg-protocol',
        '@nestjs/common',
        '@nestjs/core',
        'reflect-metadata',
      ],
      { experimentalDecorators: true, emitDecoratorMetadata: true },
    );
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  }, 180_000);
});
