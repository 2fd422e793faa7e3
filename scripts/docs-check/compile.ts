/**
 * Compiles documentation blocks with the project's own compiler options (strict, decorators, the
 * `@reservoir/*` path aliases onto the lib sources), each block as its own in-memory module placed in
 * the repository so `node_modules` resolves as it would for a user's file. Nothing is written to disk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import {
  blockFileName,
  extractBlocks,
  toModuleSource,
  type DocBlock,
  type DocsProblem,
  type ModuleSource,
} from './extract';

export interface MarkdownSource {
  /** Repository-relative path, used in reports. */
  file: string;
  text: string;
}

export interface DocsCheckResult {
  blocks: DocBlock[];
  problems: DocsProblem[];
}

/** Virtual directory the blocks live in; never created on disk. */
export const VIRTUAL_DIR = '.docs-check';

/** README.md, docs/*.md and libs/<lib>/README.md, in a stable order. */
export function findMarkdownFiles(root: string): string[] {
  const files: string[] = [];
  if (fs.existsSync(path.join(root, 'README.md'))) files.push('README.md');
  const listMd = (dir: string) =>
    fs.existsSync(path.join(root, dir))
      ? fs
          .readdirSync(path.join(root, dir))
          .filter((f) => f.endsWith('.md'))
          .sort()
          .map((f) => `${dir}/${f}`)
      : [];
  files.push(...listMd('docs'));
  if (fs.existsSync(path.join(root, 'libs')))
    for (const lib of fs.readdirSync(path.join(root, 'libs')).sort())
      if (fs.existsSync(path.join(root, 'libs', lib, 'README.md'))) files.push(`libs/${lib}/README.md`);
  return files;
}

/** The root tsconfig's options, adjusted for checking examples (no emit, no test-only globals). */
export function docsCompilerOptions(root: string): ts.CompilerOptions {
  const configPath = path.join(root, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath);
  return {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    incremental: false,
    // Examples are user code: they get Node's types, not Jest's `describe`/`expect`.
    types: ['node'],
    moduleDetection: ts.ModuleDetectionKind.Force,
  };
}

/** Extracts and compiles every block; problems carry Markdown file:line and the tsc error. */
export function checkDocs(root: string, sources: MarkdownSource[]): DocsCheckResult {
  const blocks: DocBlock[] = [];
  const problems: DocsProblem[] = [];
  for (const src of sources) {
    const r = extractBlocks(src.file, src.text);
    blocks.push(...r.blocks);
    problems.push(...r.problems);
  }
  const virtual = new Map<string, { block: DocBlock; module: ModuleSource }>();
  for (const block of blocks)
    virtual.set(path.join(root, VIRTUAL_DIR, blockFileName(block)), { block, module: toModuleSource(block) });

  const options = docsCompilerOptions(root);
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile, directoryExists } = host;
  const virtualDirs = new Set([...virtual.keys()].map((f) => path.dirname(f)));
  host.fileExists = (f) => virtual.has(path.resolve(f)) || fileExists.call(host, f);
  // Relative imports between blocks are only tried when their directory "exists".
  host.directoryExists = (d) => virtualDirs.has(path.resolve(d)) || (directoryExists?.call(host, d) ?? true);
  host.readFile = (f) => virtual.get(path.resolve(f))?.module.text ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, onError, create) => {
    const v = virtual.get(path.resolve(f));
    return v
      ? ts.createSourceFile(f, v.module.text, lang, true)
      : getSourceFile.call(host, f, lang, onError, create);
  };
  const program = ts.createProgram([...virtual.keys()], options, host);

  for (const d of program.getOptionsDiagnostics().concat(program.getGlobalDiagnostics()))
    problems.push({ file: 'tsconfig.json', line: 1, message: formatDiagnostic(d) });
  for (const [fileName, { block, module }] of virtual) {
    const sf = program.getSourceFile(fileName);
    if (!sf) {
      problems.push({ file: block.file, line: block.line, message: 'the compiler did not load this block' });
      continue;
    }
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const pos = d.start === undefined ? undefined : sf.getLineAndCharacterOfPosition(d.start);
      const line = pos ? (module.mdLine[pos.line] ?? block.line) : block.line;
      problems.push({
        file: block.file,
        line,
        column: pos ? pos.character + 1 : undefined,
        message: formatDiagnostic(d),
      });
    }
  }
  return { blocks, problems };
}

function formatDiagnostic(d: ts.Diagnostic): string {
  return `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
}

/** `file:line[:col] message`, the shape editors and CI logs link. */
export function formatProblem(p: DocsProblem): string {
  return `${p.file}:${p.line}${p.column ? `:${p.column}` : ''} ${p.message}`;
}
