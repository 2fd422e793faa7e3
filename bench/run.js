'use strict';
// Benchmarks run in plain Node on compiled output, never inside Jest: Jest wraps every test in an
// AsyncLocalStorage scope, which turns on promise hooks and slows promise-heavy code several-fold.
// This launcher compiles bench/ + libs/ with tsc, maps the @reservoir/* aliases onto that output
// (plain tsc does not rewrite `paths`), then runs bench/<name>.bench.ts's compiled file.
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const Module = require('node:module');

const name = process.argv[2];
if (!name) {
  console.error('usage: node bench/run.js <pool|tenant|lazy|lazy-shared|autosize|binding> [args...]');
  process.exit(2);
}
const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist', 'bench');
if (!process.env.BENCH_SKIP_BUILD) {
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(__dirname, 'tsconfig.json')],
    {
      stdio: 'inherit',
    },
  );
}
const aliases = /^@reservoir\/(core|pool|tenant|lazy|metrics)(\/.*)?$/;
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = aliases.exec(request);
  if (m) request = path.join(out, 'libs', m[1], 'src', m[2] || '');
  return resolve.call(this, request, ...rest);
};
process.argv.splice(2, 1);
require(path.join(out, 'bench', `${name}.bench.js`));
