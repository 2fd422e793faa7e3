/**
 * `npm run docs:check`: compiles every ```ts block of README.md, docs/*.md and libs/<lib>/README.md.
 * Exit code 1 with `file:line:col TSxxxx: message` lines when a block does not compile.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkDocs, findMarkdownFiles, formatProblem } from './docs-check/compile';

const root = path.resolve(__dirname, '..');
const files = findMarkdownFiles(root);
const started = Date.now();
const { blocks, problems } = checkDocs(
  root,
  files.map((file) => ({ file, text: fs.readFileSync(path.join(root, file), 'utf8') })),
);
for (const p of problems) console.error(formatProblem(p));
const failed = new Set(problems.map((p) => `${p.file}:${p.line}`)).size;
const fragments = blocks.filter((b) => b.marker.fragment).length;
const boot = blocks.filter((b) => b.marker.boot).length;
console.log(
  `docs check: ${blocks.length} ts blocks in ${files.length} files (${fragments} fragments, ${boot} booted by ` +
    `test/docs-examples.e2e-spec.ts), ${problems.length} problems, ${Date.now() - started} ms`,
);
if (problems.length > 0 || failed > 0) process.exitCode = 1;
