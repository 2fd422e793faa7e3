/**
 * The docs check's extraction, marker parsing, wrapping and line mapping, plus one real compile of
 * synthetic Markdown (so a mapping bug shows up as a wrong file:line, not as a silent pass).
 */
import * as path from 'node:path';
import { checkDocs, formatProblem } from '../scripts/docs-check/compile';
import { extractBlocks, importLines, parseMarker, toModuleSource } from '../scripts/docs-check/extract';

const md = (...lines: string[]) => lines.join('\n');

describe('extractBlocks', () => {
  it('returns ts and typescript blocks with the Markdown line of their first code line, and skips others', () => {
    const { blocks, problems } = extractBlocks(
      'x.md',
      md(
        '# t', //               1
        '```bash', //           2
        'npm ci', //            3
        '```', //               4
        '```ts', //             5
        'const a = 1;', //      6
        '```', //               7
        '  ```typescript', //   8 (indented, as in a list)
        '  const b = 2;', //    9
        '  ```', //             10
        '```json', //           11
        '{}', //                12
        '```', //               13
      ),
    );
    expect(problems).toEqual([]);
    expect(blocks.map((b) => [b.line, b.lang, b.code])).toEqual([
      [6, 'ts', 'const a = 1;'],
      [9, 'typescript', 'const b = 2;'],
    ]);
    expect(blocks[0].marker).toEqual({
      fragment: false,
      wrapper: 'none',
      boot: false,
      pgEnv: ['DATABASE_URL'],
      get: [],
    });
  });

  it('reads an HTML marker above the fence (blank lines allowed) and a first-line comment marker', () => {
    const { blocks } = extractBlocks(
      'x.md',
      md(
        '<!-- docs-check: fragment wrapper=async-fn -->',
        '',
        '```ts',
        'await x;',
        '```',
        '```ts',
        '// docs-check: boot module=AppModule pg-env=A_URL,B_URL get=/health=200,/x@acme=400~"code":"TENANT_INVALID"',
        'export class AppModule {}',
        '```',
      ),
    );
    expect(blocks[0].marker).toMatchObject({ fragment: true, wrapper: 'async-fn', boot: false });
    expect(blocks[1].marker).toEqual({
      fragment: false,
      wrapper: 'none',
      boot: true,
      module: 'AppModule',
      pgEnv: ['A_URL', 'B_URL'],
      get: [
        { path: '/health', status: 200 },
        { path: '/x', organisationId: 'acme', status: 400, bodyContains: '"code":"TENANT_INVALID"' },
      ],
    });
  });

  it('does not take a marker from above an unrelated paragraph', () => {
    const { blocks } = extractBlocks(
      'x.md',
      md('<!-- docs-check: boot -->', 'Some text.', '```ts', 'x;', '```'),
    );
    expect(blocks[0].marker.boot).toBe(false);
  });

  it('reports bad markers and unclosed fences with file:line instead of throwing', () => {
    const { blocks, problems } = extractBlocks(
      'y.md',
      md(
        '<!-- docs-check: fragmnet -->', // 1
        '```ts', //                          2
        'x;', //                             3
        '```', //                            4
        '```ts', //                          5
        '// docs-check: fragment', //        6
        'x;', //                             7
        '```', //                            8
        '```ts', //                          9
        'never closed', //                   10
      ),
    );
    expect(blocks).toEqual([]);
    expect(problems.map(formatProblem)).toEqual([
      'y.md:1 docs-check marker: unknown token "fragmnet"; allowed: fragment, wrapper=…, boot, module=…, pg-env=…, get=…, file=…',
      'y.md:6 docs-check marker: a fragment must name its wrapper (wrapper=async-fn|class-body)',
      'y.md:9 unclosed ``` fence',
    ]);
  });
});

describe('parseMarker', () => {
  it.each([
    ['wrapper=async-fn', 'wrapper=async-fn needs "fragment"'],
    ['fragment wrapper=loop', 'wrapper must be one of none, async-fn, class-body, got "loop"'],
    ['boot fragment wrapper=async-fn', 'a boot block must be a full module, not a fragment'],
    ['get=/health=200', 'module=, pg-env= and get= only apply to a boot block'],
    ['boot get=/health', 'get must look like get=/path=200, /path@org=200 or /path=200~text, got "/health"'],
    ['boot pg-env=lower', 'pg-env must be a comma list of env var names, got "lower"'],
    ['boot=yes', '"boot" takes no value, got "boot=yes"'],
  ])('rejects %s', (text, message) => {
    expect(() => parseMarker(text, 'z.md', 3)).toThrow(`docs-check marker: ${message}`);
  });
});

describe('toModuleSource', () => {
  const block = (code: string, wrapper: 'none' | 'async-fn' | 'class-body', line = 10) => ({
    file: 'x.md',
    line,
    lang: 'ts',
    code,
    marker: { fragment: wrapper !== 'none', wrapper, boot: false, pgEnv: [], get: [] },
  });

  it('hoists leading imports (multi-line too) above an async-fn wrapper and maps every line back', () => {
    const code = md('import {', '  a,', "} from 'a';", "import b from 'b';", 'await a(b);', 'await b();');
    expect(importLines(code)).toBe(4);
    const m = toModuleSource(block(code, 'async-fn'));
    expect(m.text).toBe(
      md(
        'import {',
        '  a,',
        "} from 'a';",
        "import b from 'b';",
        'export async function docsExample(): Promise<void> {',
        'await a(b);',
        'await b();',
        '}',
        'export {};',
        '',
      ),
    );
    // import lines 10-13, wrapper header at the first body line, body 14-15, closers at the last line
    expect(m.mdLine).toEqual([10, 11, 12, 13, 14, 14, 15, 15, 15]);
  });

  it('wraps class members in a class and leaves a full module untouched but for export {}', () => {
    expect(toModuleSource(block('x = 1;', 'class-body')).text).toBe(
      md('export class DocsExample {', 'x = 1;', '}', 'export {};', ''),
    );
    const full = toModuleSource(block(md('const a = 1;', 'a;'), 'none', 3));
    expect(full.text).toBe(md('const a = 1;', 'a;', 'export {};', ''));
    expect(full.mdLine).toEqual([3, 4, 4]);
  });
});

describe('checkDocs (real tsc, project options)', () => {
  const root = path.resolve(__dirname, '..');

  it('passes good blocks, reports broken ones at their Markdown file:line with the tsc error', () => {
    const text = md(
      '# Examples', //                                                     1
      '```ts', //                                                          2
      "import { Pool, type ResourceFactory } from '@reservoir/pool';", //  3
      'declare const factory: ResourceFactory<{ id: number }>;', //         4
      "export const pool = new Pool({ name: 'p', factory });", //          5
      '```', //                                                            6
      '```ts', //                                                          7
      'export const used = new Later();', //                               8
      'class Later {}', //                                                 9
      '```', //                                                            10
      '```ts', //                                                          11
      'await Promise.resolve(1);', //                                      12
      '```', //                                                            13
      '<!-- docs-check: fragment wrapper=async-fn -->', //                 14
      '```ts', //                                                          15
      "import { Pool } from '@reservoir/pool';", //                        16
      "const n: number = 'nope';", //                                       17
      'await Promise.resolve(Pool);', //                                   18
      '```', //                                                            19
    );
    const { blocks, problems } = checkDocs(root, [{ file: 'docs/example.md', text }]);
    expect(blocks).toHaveLength(4);
    expect(problems.map((p) => `${p.file}:${p.line} ${p.message.slice(0, 7)}`)).toEqual([
      'docs/example.md:8 TS2449:',
      'docs/example.md:12 TS1378:',
      'docs/example.md:17 TS2322:',
    ]);
    expect(problems[0].message).toContain("Class 'Later' used before its declaration");
    expect(problems[2].column).toBe(7);
  }, 60_000);
});

describe('blocks that import each other by file= name', () => {
  const root = path.resolve(__dirname, '..');

  it('puts them in one directory per Markdown file and rejects a name used twice', () => {
    const text = md(
      '<!-- docs-check: file=app.module.ts -->', // 1
      '```ts', //                                  2
      'export class AppModule {}', //              3
      '```', //                                    4
      '```ts', //                                  5
      "import { AppModule } from './app.module';", // 6
      'export const m: AppModule = new AppModule();', // 7
      '```', //                                    8
      '```ts', //                                  9
      "import { Missing } from './app.module';", // 10
      'export const x = Missing;', //              11
      '```', //                                    12
      '<!-- docs-check: file=app.module.ts -->', // 13
      '```ts', //                                  14
      'export {};', //                             15
      '```', //                                    16
    );
    const extracted = extractBlocks('docs/two.md', text);
    expect(extracted.problems.map(formatProblem)).toEqual([
      'docs/two.md:15 file=app.module.ts is already used by the block at line 3',
    ]);
    const { problems } = checkDocs(root, [
      { file: 'docs/two.md', text: text.split('\n').slice(0, 12).join('\n') },
    ]);
    expect(problems.map((p) => `${p.file}:${p.line} ${p.message}`)).toEqual([
      `docs/two.md:10 TS2305: Module '"./app.module"' has no exported member 'Missing'.`,
    ]);
  }, 60_000);
});
