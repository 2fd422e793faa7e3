/*
 * Lets a plain `node` child process (the multi-process tests' workers) run our TypeScript sources:
 * `node -r ./test/helpers/ts-register.js worker.ts`. @swc/core strips the types (type-checking is
 * done by tsc and ts-jest), and the `@reservoir/*` aliases resolve to `libs/<name>/src`.
 */
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '../..');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = /^@reservoir\/([\w-]+)(\/.*)?$/.exec(request);
  if (m) request = path.join(root, 'libs', m[1], 'src', m[2] || '');
  return resolve.call(this, request, ...rest);
};
require.extensions['.ts'] = function (module, filename) {
  const out = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      target: 'es2022',
      transform: { legacyDecorator: true, decoratorMetadata: true },
    },
    module: { type: 'commonjs' },
  });
  module._compile(out.code, filename);
};
