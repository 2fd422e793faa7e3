/**
 * No test is skipped or left as a todo, silently or not: a suite that cannot run must fail and say
 * why (missing tools are installed or reported by Jest's global setup, missing services by
 * test/helpers/services.ts). This scans every spec file for the ways Jest skips.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

function specFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...specFiles(p));
    else if (/\.(e2e-)?spec\.ts$/.test(e.name) || /-spec\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

// Built from parts so this file does not match itself.
const SKIPS = new RegExp(
  [
    '\\b(describe|it|test)\\.(skip|todo)\\b',
    '\\bx(describe|it|test)\\s*\\(',
    '\\b(describe|it|test)\\.only\\b',
  ].join('|'),
);

it('no spec file skips, todos or focuses a test', () => {
  const files = ['libs', 'apps', 'test', 'scripts', 'bench'].flatMap((d) => specFiles(join(ROOT, d)));
  expect(files.length).toBeGreaterThan(10);
  const found = files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => SKIPS.test(line))
      .map(({ line, i }) => `${relative(ROOT, f)}:${i + 1}: ${line.trim()}`),
  );
  expect(found).toEqual([]);
});
