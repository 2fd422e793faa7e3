/**
 * The dependency check (scripts/check-deps.js) against small fixture packages written to a temp dir:
 * a package whose emitted code requires a module its manifest does not declare must fail, the same
 * package with the module declared must pass, and comments, builtins, relative paths and the
 * package's own name must not count as imports.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

interface CheckResult {
  name: string;
  problems: string[];
  used: string[];
  unused: string[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { checkPackage } = require('../scripts/check-deps.js') as {
  checkPackage: (dir: string) => CheckResult;
};

const script = resolve(__dirname, '../scripts/check-deps.js');
let tmp: string;

/** Writes a fixture package: the emitted files of a lazy-like package, and the given manifest. */
function fixture(name: string, manifest: Record<string, unknown>): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: '@fixture/lazy', version: '1.2.3', ...manifest }),
  );
  writeFileSync(
    join(dir, 'index.js'),
    [
      '"use strict";',
      '// require("not-a-dependency") in a comment is not an import',
      'const lru_cache_1 = require("lru-cache");',
      "const node_events_1 = require('node:events');",
      'const fs = require("fs");',
      'const self = require("@fixture/lazy/sub/x");',
      'const local = require("./sub/x");',
      'const msg = "require(\'also-not-an-import\')";',
      'exports.load = () => Promise.resolve().then(() => require("@nestjs/terminus"));',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'sub/x.js'), 'module.exports = 1;\n');
  writeFileSync(
    join(dir, 'index.d.ts'),
    "import type { Observable } from 'rxjs';\nexport declare const x: Observable<number>;\n",
  );
  return dir;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'reservoir-check-deps-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const declaredAll = {
  dependencies: { 'lru-cache': '^11.0.0', '@reservoir/core': '^1.2.3' },
  peerDependencies: { rxjs: '^7.0.0', '@nestjs/terminus': '^12.0.0' },
};

describe('check-deps', () => {
  it('fails a package whose emitted code requires an undeclared module (lru-cache)', () => {
    const dir = fixture('missing', {
      dependencies: {},
      peerDependencies: { rxjs: '^7.0.0', '@nestjs/terminus': '^12.0.0' },
    });
    const r = checkPackage(dir);
    expect(r.problems).toEqual([
      "index.js:3 imports 'lru-cache', but 'lru-cache' is in neither dependencies nor peerDependencies",
    ]);
  });

  it('also sees imports that only the declarations have', () => {
    const dir = fixture('types-only', {
      dependencies: { 'lru-cache': '^11.0.0' },
      peerDependencies: { '@nestjs/terminus': '^12.0.0' },
    });
    expect(checkPackage(dir).problems).toEqual([
      "index.d.ts:1 imports 'rxjs', but 'rxjs' is in neither dependencies nor peerDependencies",
    ]);
  });

  it('passes the same package once everything is declared, ignoring comments, strings, builtins and self-references', () => {
    const dir = fixture('complete', declaredAll);
    const r = checkPackage(dir);
    expect(r.problems).toEqual([]);
    expect(r.used).toEqual(['@nestjs/terminus', 'lru-cache', 'rxjs']);
    expect(r.unused).toEqual(['@reservoir/core']);
  });

  it('fails internal dependencies that are not a caret range on the own version', () => {
    const dir = fixture('pinned', {
      ...declaredAll,
      dependencies: { 'lru-cache': '^11.0.0', '@reservoir/core': '1.2.3' },
    });
    expect(checkPackage(dir).problems).toEqual([
      "dependency '@reservoir/core' is '1.2.3'; internal dependencies use '^1.2.3'",
    ]);
  });

  it('the CLI exits 1 on a failing package and 0 on a clean one', () => {
    const bad = spawnSync(process.execPath, [script, fixture('cli-bad', { dependencies: {} })], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('✗ @fixture/lazy\n');
    expect(bad.stdout).toContain("    index.js:3 imports 'lru-cache'");
    const good = spawnSync(process.execPath, [script, fixture('cli-good', declaredAll)], {
      encoding: 'utf8',
    });
    expect(good.stdout).toContain('✓ @fixture/lazy: @nestjs/terminus, lru-cache, rxjs');
    expect(good.status).toBe(0);
  });
});

describe('tarball contents check', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { contentProblems } = require('../scripts/check-deps.js') as {
    contentProblems: (files: string[]) => string[];
  };

  it('accepts emitted code, declarations, README, LICENSE and the manifest', () => {
    expect(
      contentProblems(['package.json', 'README.md', 'LICENSE', 'index.js', 'index.d.ts', 'core.js']),
    ).toEqual([]);
  });

  it('rejects specs, tsconfig, source maps and .ts sources, and a missing LICENSE', () => {
    expect(
      contentProblems([
        'package.json',
        'README.md',
        'pool.spec.js',
        'tsconfig.lib.json',
        'pool.js.map',
        'pool.ts',
      ]),
    ).toEqual([
      'LICENSE is missing',
      'pool.spec.js: specs are not shipped',
      'tsconfig.lib.json: tsconfig files are not shipped',
      'pool.js.map: source maps would point at unshipped sources',
      'pool.ts: TypeScript sources are not shipped',
    ]);
  });
});
