'use strict';
// Launcher for scripts/check-docs.ts. The check is TypeScript (it shares its extraction code with the
// jest specs), so this loads .ts files through TypeScript's own transpiler: no build step, no extra
// dependency. Type-checking of the scripts themselves is `npm run typecheck`'s job.
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  module._compile(outputText, filename);
};
require(path.join(__dirname, 'check-docs.ts'));
