#!/usr/bin/env node
/**
 * Dependency check for the built packages: every bare module specifier that a package's EMITTED
 * code (`.js`) or declarations (`.d.ts`) imports must be declared in that package's `dependencies`
 * or `peerDependencies`. Node builtins and the package's own name (self-reference) are exempt.
 * Internal `@reservoir/*` dependencies must use a caret range on the package's own version.
 *
 * Imports are found with TypeScript's own pre-processor (`ts.preProcessFile`), which sees
 * `require('x')`, `import('x')`, `import … from 'x'` and `export … from 'x'` and ignores comments
 * and strings, so a JSDoc line that mentions `require('pg')` is not an import.
 *
 * Usage: node scripts/check-deps.js [packageDir ...]   (default: every dist/libs/<lib>)
 * Exit code 1 when any package has a problem.
 *
 * Also exports `contentProblems(files)`, the tarball contents rule used by check-packages.mjs.
 *
 * CommonJS on purpose: the jest specs require `checkPackage` and `contentProblems` directly.
 */
'use strict';
const { readdirSync, readFileSync, statSync, existsSync } = require('node:fs');
const { builtinModules } = require('node:module');
const { join, relative, resolve } = require('node:path');
const ts = require('typescript');

const BUILTINS = new Set(builtinModules);

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`; relative paths → undefined. */
function packageNameOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function isBuiltin(specifier) {
  if (specifier.startsWith('node:')) return true;
  return BUILTINS.has(specifier.split('/')[0]);
}

/** Every `.js` and `.d.ts` file under `dir`, skipping node_modules. */
function emittedFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...emittedFiles(path));
    else if (/\.(c|m)?js$/.test(entry) || /\.d\.(c|m)?ts$/.test(entry)) out.push(path);
  }
  return out.sort();
}

/** Bare specifiers imported by one file's text, with their line numbers. */
function importsOf(text) {
  const info = ts.preProcessFile(text, true, true);
  const found = info.importedFiles.map((ref) => ({
    specifier: ref.fileName,
    line: text.slice(0, ref.pos).split('\n').length,
  }));
  // `/// <reference types="x" />` needs x's types too (except node's, which a consumer brings).
  for (const ref of info.typeReferenceDirectives) {
    found.push({ specifier: ref.fileName, line: text.slice(0, ref.pos).split('\n').length, typesOnly: true });
  }
  return found;
}

/**
 * Checks one package directory (a `package.json` next to its emitted files).
 * @param {string} dir
 * @returns {{ name: string, dir: string, problems: string[], used: string[], unused: string[] }}
 */
function checkPackage(dir) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const declared = { ...(manifest.peerDependencies ?? {}), ...(manifest.dependencies ?? {}) };
  const problems = [];
  const used = new Set();

  for (const file of emittedFiles(dir)) {
    const text = readFileSync(file, 'utf8');
    for (const { specifier, line, typesOnly } of importsOf(text)) {
      if (typesOnly && specifier === 'node') continue;
      if (isBuiltin(specifier)) continue;
      const pkg = packageNameOf(specifier);
      if (pkg === undefined || pkg === manifest.name) continue;
      used.add(pkg);
      if (!(pkg in declared)) {
        problems.push(
          `${relative(dir, file)}:${line} imports '${specifier}', but '${pkg}' is in neither dependencies nor peerDependencies`,
        );
      }
    }
  }

  for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
    if (dep.startsWith('@reservoir/') && range !== `^${manifest.version}`) {
      problems.push(`dependency '${dep}' is '${range}'; internal dependencies use '^${manifest.version}'`);
    }
  }

  const unused = Object.keys(declared).filter((dep) => !used.has(dep));
  return { name: manifest.name, dir, problems, used: [...used].sort(), unused };
}

/** Problems with what the tarball contains (paths are relative to the package root). */
function contentProblems(files) {
  const problems = [];
  for (const required of ['package.json', 'README.md', 'LICENSE']) {
    if (!files.includes(required)) problems.push(`${required} is missing`);
  }
  for (const f of files) {
    if (/(^|\/)tsconfig[^/]*\.json$/.test(f)) problems.push(`${f}: tsconfig files are not shipped`);
    else if (/\.spec\.|helper-spec/.test(f)) problems.push(`${f}: specs are not shipped`);
    else if (/\.map$/.test(f)) problems.push(`${f}: source maps would point at unshipped sources`);
    else if (/\.(c|m)?ts$/.test(f) && !/\.d\.(c|m)?ts$/.test(f))
      problems.push(`${f}: TypeScript sources are not shipped`);
  }
  return problems;
}

function main(argv) {
  const root = resolve(__dirname, '..');
  let dirs = argv.map((d) => resolve(d));
  if (dirs.length === 0) {
    const libs = join(root, 'dist/libs');
    if (!existsSync(libs)) {
      process.stderr.write('check-deps: dist/libs does not exist; run `npm run pack` first\n');
      return 1;
    }
    dirs = readdirSync(libs)
      .map((d) => join(libs, d))
      .filter((d) => existsSync(join(d, 'package.json')));
  }
  let failed = 0;
  for (const dir of dirs) {
    const r = checkPackage(dir);
    if (r.problems.length > 0) {
      failed++;
      process.stdout.write(`✗ ${r.name}\n${r.problems.map((p) => `    ${p}\n`).join('')}`);
    } else {
      const note = r.unused.length > 0 ? ` (declared, not imported: ${r.unused.join(', ')})` : '';
      process.stdout.write(`✓ ${r.name}: ${r.used.join(', ') || 'no external imports'}${note}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

module.exports = { checkPackage, contentProblems, packageNameOf, importsOf };

if (require.main === module) process.exitCode = main(process.argv.slice(2));
