/**
 * Pulls the TypeScript examples out of Markdown and turns each into a module `tsc` can compile on its own.
 * Framework-free and synchronous so the CLI, the boot test and the unit test share one implementation.
 *
 * A block is a full module unless a marker says otherwise. The marker sits on the nearest non-blank line
 * above the fence as `<!-- docs-check: ... -->`, or on the block's first line as `// docs-check: ...`:
 *   fragment wrapper=async-fn   statements, compiled inside `export async function docsExample()`
 *   fragment wrapper=class-body class members, compiled inside `export class DocsExample`
 *   boot                        the block is an app: test/docs-examples.e2e-spec.ts starts its exported
 *                               `AppModule` (or its only exported @Module()), listens on port 0, closes
 *   module=Name                 boot this exported module instead
 *   pg-env=A,B                  env vars the boot test points at a fresh PostgreSQL database
 *                               (default DATABASE_URL)
 *   file=app.module.ts          the block's file name, so another block of the same Markdown file can
 *                               `import { AppModule } from './app.module'`
 *   get=/path=200               after listen, GET /path and expect that status; `/path@acme=200` sends
 *                               `x-organisation-id: acme`; `/path=200~text` also expects `text` in the
 *                               body. A comma list, or repeat the token
 * Leading `import` declarations of a fragment stay at module level, so a fragment can say what it uses.
 */
import * as ts from 'typescript';

export const WRAPPERS = ['none', 'async-fn', 'class-body'] as const;
export type Wrapper = (typeof WRAPPERS)[number];

export interface BootCheck {
  path: string;
  /** Sent as `x-organisation-id` when given. */
  organisationId?: string;
  status: number;
  /** Text the response body must contain (no spaces or commas). */
  bodyContains?: string;
}

export interface DocsMarker {
  fragment: boolean;
  wrapper: Wrapper;
  boot: boolean;
  /** Exported @Module() class to boot; undefined = the last exported module of the block. */
  module?: string;
  /** Environment variables that get a PostgreSQL URL before the block is loaded. */
  pgEnv: string[];
  get: BootCheck[];
  /** File name other blocks of the same Markdown file import it by (`./app.module`). */
  file?: string;
}

export interface DocBlock {
  /** Markdown file the block came from, as given to extractBlocks (repository-relative in practice). */
  file: string;
  /** 1-based line, in the Markdown file, of the block's first code line. */
  line: number;
  lang: string;
  code: string;
  marker: DocsMarker;
}

/** A Markdown problem the check reports like a compile error (bad marker, unclosed fence). */
export interface DocsProblem {
  file: string;
  line: number;
  column?: number;
  message: string;
}

export class DocsMarkerError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'DocsMarkerError';
  }
}

const TS_LANGS = new Set(['ts', 'typescript']);
const HTML_MARKER = /^<!--\s*docs-check:(.*?)-->\s*$/;
const LINE_MARKER = /^\/\/\s*docs-check:(.*)$/;
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/;

/** Parses the text after `docs-check:`; throws DocsMarkerError naming the bad token and what is allowed. */
export function parseMarker(text: string, file = '<markdown>', line = 0): DocsMarker {
  const marker: DocsMarker = { fragment: false, wrapper: 'none', boot: false, pgEnv: [], get: [] };
  let pgEnvGiven = false;
  const fail = (msg: string): never => {
    throw new DocsMarkerError(file, line, `docs-check marker: ${msg}`);
  };
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const eq = token.indexOf('=');
    const key = eq < 0 ? token : token.slice(0, eq);
    const value = eq < 0 ? undefined : token.slice(eq + 1);
    switch (key) {
      case 'fragment':
      case 'boot':
        if (value !== undefined) fail(`"${key}" takes no value, got "${token}"`);
        marker[key] = true;
        break;
      case 'wrapper':
        if (!value || !(WRAPPERS as readonly string[]).includes(value))
          fail(`wrapper must be one of ${WRAPPERS.join(', ')}, got "${value ?? ''}"`);
        marker.wrapper = value as Wrapper;
        break;
      case 'module':
        if (!value || !/^[A-Za-z_$][\w$]*$/.test(value))
          fail(`module must be a class name, got "${value ?? ''}"`);
        marker.module = value;
        break;
      case 'file':
        if (!value || !/^[A-Za-z0-9_-][\w.-]*\.ts$/.test(value) || value.endsWith('.d.ts'))
          fail(`file must be a plain .ts file name such as app.module.ts, got "${value ?? ''}"`);
        marker.file = value;
        break;
      case 'pg-env':
        if (!value || !value.split(',').every((v) => /^[A-Z_][A-Z0-9_]*$/.test(v)))
          fail(`pg-env must be a comma list of env var names, got "${value ?? ''}"`);
        marker.pgEnv.push(...value!.split(','));
        pgEnvGiven = true;
        break;
      case 'get':
        for (const item of (value ?? '').split(',')) {
          const m = /^(\/[^\s=@~]*)(?:@([A-Za-z0-9_-]+))?=(\d{3})(?:~(\S+))?$/.exec(item);
          if (!m) fail(`get must look like get=/path=200, /path@org=200 or /path=200~text, got "${item}"`);
          const check: BootCheck = { path: m![1], status: Number(m![3]) };
          if (m![2] !== undefined) check.organisationId = m![2];
          if (m![4] !== undefined) check.bodyContains = m![4];
          marker.get.push(check);
        }
        break;
      default:
        fail(
          `unknown token "${token}"; allowed: fragment, wrapper=…, boot, module=…, pg-env=…, get=…, file=…`,
        );
    }
  }
  if (marker.fragment && marker.wrapper === 'none')
    fail(`a fragment must name its wrapper (wrapper=${WRAPPERS.filter((w) => w !== 'none').join('|')})`);
  if (!marker.fragment && marker.wrapper !== 'none') fail(`wrapper=${marker.wrapper} needs "fragment"`);
  if (marker.boot && marker.fragment) fail('a boot block must be a full module, not a fragment');
  if (!marker.boot && (marker.module || marker.get.length || pgEnvGiven))
    fail('module=, pg-env= and get= only apply to a boot block');
  if (!pgEnvGiven) marker.pgEnv.push('DATABASE_URL');
  return marker;
}

/**
 * Every ```ts / ```typescript block of a Markdown text, with its marker. Problems (unclosed fence, bad
 * marker) are returned instead of thrown, so one run reports all of them.
 */
export function extractBlocks(
  file: string,
  markdown: string,
): { blocks: DocBlock[]; problems: DocsProblem[] } {
  const lines = markdown.split(/\r?\n/);
  const blocks: DocBlock[] = [];
  const problems: DocsProblem[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let end = i + 1;
    const closes = (l: string) =>
      l.trim().startsWith(fence[0].repeat(fence.length)) && l.trim().replace(/[`~]/g, '') === '';
    while (end < lines.length && !closes(lines[end])) end++;
    if (end >= lines.length) {
      problems.push({ file, line: i + 1, message: `unclosed ${fence} fence` });
      break;
    }
    if (TS_LANGS.has(lang.toLowerCase())) {
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
        .join('\n');
      try {
        blocks.push({ file, line: i + 2, lang, code, marker: findMarker(file, lines, i, code) });
      } catch (err) {
        if (!(err instanceof DocsMarkerError)) throw err;
        problems.push({ file: err.file, line: err.line, message: err.message });
      }
    }
    i = end;
  }
  const named = new Map<string, number>();
  for (const b of blocks) {
    if (!b.marker.file) continue;
    const first = named.get(b.marker.file);
    if (first !== undefined)
      problems.push({
        file,
        line: b.line,
        message: `file=${b.marker.file} is already used by the block at line ${first}`,
      });
    else named.set(b.marker.file, b.line);
  }
  return { blocks, problems };
}

function findMarker(file: string, lines: string[], fenceIndex: number, code: string): DocsMarker {
  const first = LINE_MARKER.exec(code.split('\n', 1)[0].trim());
  if (first) return parseMarker(first[1], file, fenceIndex + 2);
  let j = fenceIndex - 1;
  while (j >= 0 && lines[j].trim() === '') j--;
  const html = j >= 0 ? HTML_MARKER.exec(lines[j].trim()) : null;
  return html ? parseMarker(html[1], file, j + 1) : parseMarker('', file, fenceIndex + 1);
}

/** A block as a compilable module, with a map from its lines back to Markdown lines. */
export interface ModuleSource {
  text: string;
  /** mdLine[i] = the Markdown line of output line i (0-based); wrapper lines map to the block's first line. */
  mdLine: number[];
}

/**
 * Wraps a block according to its marker. Leading imports are hoisted above the wrapper (whole lines,
 * so line numbers stay exact), and `export {}` is appended so every block is its own module.
 */
export function toModuleSource(block: DocBlock): ModuleSource {
  const codeLines = block.code.split('\n');
  const at = (i: number) => block.line + i;
  const out: string[] = [];
  const mdLine: number[] = [];
  const push = (text: string, line: number) => {
    out.push(text);
    mdLine.push(line);
  };
  const last = at(Math.max(0, codeLines.length - 1));
  if (block.marker.wrapper === 'none') {
    codeLines.forEach((l, i) => push(l, at(i)));
  } else {
    const split = importLines(block.code);
    codeLines.slice(0, split).forEach((l, i) => push(l, at(i)));
    push(
      block.marker.wrapper === 'async-fn'
        ? 'export async function docsExample(): Promise<void> {'
        : 'export class DocsExample {',
      at(split),
    );
    codeLines.slice(split).forEach((l, i) => push(l, at(split + i)));
    push('}', last);
  }
  push('export {};', last);
  return { text: out.join('\n') + '\n', mdLine };
}

/** How many leading lines of `code` hold its import declarations (and the comments between them). */
export function importLines(code: string): number {
  const sf = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  let end = -1;
  for (const stmt of sf.statements) {
    if (!ts.isImportDeclaration(stmt) && !ts.isImportEqualsDeclaration(stmt)) break;
    end = stmt.getEnd();
  }
  if (end < 0) return 0;
  const { line } = sf.getLineAndCharacterOfPosition(end);
  return line + 1;
}

/**
 * Where a block lives, relative to the check's directory: one directory per Markdown file (so blocks of
 * one file can import each other by their `file=` names), then the given name or `L<line>.ts`.
 */
export function blockFileName(block: DocBlock): string {
  return `${block.file.replace(/[^A-Za-z0-9]+/g, '_')}/${block.marker.file ?? `L${block.line}.ts`}`;
}
