#!/usr/bin/env node
/**
 * `npm run pack`: builds every lib and writes one installable tarball per package to dist/packages/.
 *
 * The source of truth for each package is `libs/<lib>/package.json` + `libs/<lib>/README.md`; the
 * root LICENSE is shared. Each lib is compiled on its own (tsconfig.lib.json, no source maps) into
 * `dist/libs/<lib>`, that directory gets the manifest, README and LICENSE, and `npm pack` turns it
 * into `dist/packages/reservoir-<lib>-<version>.tgz`. Sizes are printed and written to
 * dist/packages/sizes.json.
 *
 * Options (for tests): `--out-dir <dir>` builds into `<dir>/libs` and `<dir>/packages` instead of
 * dist/ (each lib then compiles against the siblings in `<dir>/libs`); `--only core,tenant` builds a
 * prefix of the build order; `--no-tarballs` skips `npm pack`.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Build order: each lib compiles against the declarations of the ones before it. */
export const LIBS = ['core', 'tenant', 'pool', 'lazy', 'metrics'];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

/** Manifest keys that only make sense in the monorepo. */
const MONOREPO_ONLY = ['scripts', 'devDependencies', 'private'];

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    ...opts,
  });
}

function parseArgs(argv) {
  const args = { outDir: undefined, only: LIBS, tarballs: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out-dir') args.outDir = resolve(argv[++i]);
    else if (a === '--only') args.only = argv[++i].split(',');
    else if (a === '--no-tarballs') args.tarballs = false;
    else
      throw new Error(
        `pack: unknown argument '${a}' (allowed: --out-dir <dir>, --only <libs>, --no-tarballs)`,
      );
  }
  const unknown = args.only.filter((l) => !LIBS.includes(l));
  if (unknown.length > 0)
    throw new Error(`pack: unknown lib(s) ${unknown.join(', ')}; libs are ${LIBS.join(', ')}`);
  return args;
}

/**
 * The tsconfig to compile `lib` with. For dist/ that is the lib's own tsconfig.lib.json; for another
 * out dir, a generated config extending it with that outDir and sibling paths into `<outDir>/libs`.
 */
function tsconfigFor(lib, outDir) {
  const own = join(root, 'libs', lib, 'tsconfig.lib.json');
  if (outDir === undefined) return own;
  const paths = {};
  for (const l of LIBS) {
    paths[`@reservoir/${l}`] = [join(outDir, 'libs', l)];
    paths[`@reservoir/${l}/*`] = [join(outDir, 'libs', l, '*')];
  }
  const file = join(outDir, `tsconfig.${lib}.json`);
  // typeRoots: type libraries are looked up from the config's directory, which is outside the repo.
  const typeRoots = [join(root, 'node_modules/@types')];
  const config = { extends: own, compilerOptions: { outDir: join(outDir, 'libs', lib), paths, typeRoots } };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const base = args.outDir ?? join(root, 'dist');
  const distLibs = join(base, 'libs');
  const distPackages = join(base, 'packages');
  rmSync(distLibs, { recursive: true, force: true });
  rmSync(distPackages, { recursive: true, force: true });
  mkdirSync(distPackages, { recursive: true });

  const sizes = [];
  for (const lib of LIBS.filter((l) => args.only.includes(l))) {
    const src = join(root, 'libs', lib);
    const out = join(distLibs, lib);
    process.stdout.write(`build ${lib}\n`);
    run(process.execPath, [tsc, '-p', tsconfigFor(lib, args.outDir)], { stdio: 'inherit' });

    const manifest = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
    for (const key of MONOREPO_ONLY) delete manifest[key];
    writeFileSync(join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    copyFileSync(join(src, 'README.md'), join(out, 'README.md'));
    copyFileSync(join(root, 'LICENSE'), join(out, 'LICENSE'));
    if (!args.tarballs) continue;

    const [info] = JSON.parse(
      run('npm', ['pack', out, '--pack-destination', distPackages, '--json', '--silent'], {
        env: { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' },
      }),
    );
    sizes.push({
      name: info.name,
      version: info.version,
      tarball: info.filename,
      packed: info.size,
      unpacked: info.unpackedSize,
      files: info.entryCount,
    });
  }

  if (!args.tarballs) return;
  writeFileSync(join(distPackages, 'sizes.json'), `${JSON.stringify(sizes, null, 2)}\n`);
  const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
  process.stdout.write(`\n${'package'.padEnd(28)}   packed   unpacked  files\n`);
  for (const s of sizes) {
    process.stdout.write(
      `${s.tarball.padEnd(28)} ${kb(s.packed).padStart(8)} ${kb(s.unpacked).padStart(10)} ${String(s.files).padStart(6)}\n`,
    );
  }
}

// Run only as a script: check-packages.mjs imports LIBS from here.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
