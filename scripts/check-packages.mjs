#!/usr/bin/env node
/**
 * `npm run check:packages` (after `npm run pack`): for every package in dist/libs + dist/packages
 *  - publint --strict on the package directory (warnings count as errors),
 *  - attw (@arethetypeswrong/cli) on the tarball, all resolution modes (node10, node16 CJS/ESM, bundler),
 *  - the dependency check (scripts/check-deps.js) on the emitted code,
 *  - the tarball's contents: README.md, LICENSE and package.json present; no specs, no tsconfig, no
 *    source maps and no .ts sources (only .d.ts).
 * No attw or publint rule is switched off; docs/design.md says why none needs to be.
 * Exits 1 if any package fails any check.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIBS } from './pack.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { checkPackage, contentProblems } = require('./check-deps.js');

function bin(pkg, name) {
  // Read the manifest from disk: publint's exports map does not export ./package.json.
  const manifestPath = join(root, 'node_modules', pkg, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const rel = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin[name];
  return join(dirname(manifestPath), rel);
}

function run(args) {
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  return {
    ok: r.status === 0,
    output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`,
  };
}

function tarballContents(tarball) {
  const r = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, output: `tar -tzf failed: ${r.stderr}` };
  const files = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
  const problems = contentProblems(files);
  return { ok: problems.length === 0, output: problems.join('\n') };
}

const publint = bin('publint', 'publint');
const attw = bin('@arethetypeswrong/cli', 'attw');
let failures = 0;

for (const lib of LIBS) {
  const dir = join(root, 'dist/libs', lib);
  const manifestFile = join(dir, 'package.json');
  if (!existsSync(manifestFile)) {
    process.stderr.write(`check:packages: ${dir} is missing; run \`npm run pack\` first\n`);
    process.exit(1);
  }
  const { name, version } = JSON.parse(readFileSync(manifestFile, 'utf8'));
  const tarball = join(root, 'dist/packages', `${name.replace('@', '').replace('/', '-')}-${version}.tgz`);
  const results = [
    ['publint', run([publint, dir, '--strict'])],
    [
      'attw',
      existsSync(tarball)
        ? run([attw, tarball, '--format', 'ascii'])
        : { ok: false, output: `${tarball} missing` },
    ],
  ];
  results.push([
    'contents',
    existsSync(tarball) ? tarballContents(tarball) : { ok: false, output: `${tarball} missing` },
  ]);
  const deps = checkPackage(dir);
  results.push(['check-deps', { ok: deps.problems.length === 0, output: deps.problems.join('\n') }]);
  for (const [tool, r] of results) {
    process.stdout.write(`${r.ok ? '✓' : '✗'} ${name} ${tool}\n`);
    if (!r.ok) {
      failures++;
      process.stdout.write(`${r.output.replace(/^/gm, '    ')}\n`);
    }
  }
}

if (failures > 0) {
  process.stdout.write(`\n${failures} package check(s) failed\n`);
  process.exit(1);
}
process.stdout.write('\nall packages: publint, attw and check-deps clean\n');
