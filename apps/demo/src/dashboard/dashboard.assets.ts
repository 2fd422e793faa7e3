/**
 * Finds the dashboard's static files at run time, from the source tree or from dist, whatever the
 * working directory: `apps/demo/public` (not copied by `nest build`, so it is looked up from this
 * file and from the cwd) and uPlot's prebuilt files from `node_modules/uplot/dist`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * `apps/demo/public`, found by walking up from this file (source tree, or any dist layout) and
 * from the working directory.
 */
function publicDir(): string {
  const tried: string[] = [];
  for (const start of [__dirname, process.cwd()]) {
    let dir = start;
    for (;;) {
      for (const candidate of [join(dir, 'public'), join(dir, 'apps', 'demo', 'public')]) {
        if (existsSync(join(candidate, 'dashboard.html'))) return candidate;
      }
      tried.push(dir);
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error(
    `dashboard files not found: no apps/demo/public/dashboard.html above ${tried[0]} or the cwd`,
  );
}

/** Every file the page may load, by URL name. Anything else is a 404. */
export function loadDashboardAssets(): Map<string, Asset> {
  const dir = publicDir();
  const uplot = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  const files: Array<[string, string]> = [
    ['dashboard.html', join(dir, 'dashboard.html')],
    ['dashboard.js', join(dir, 'dashboard.js')],
    ['dashboard.css', join(dir, 'dashboard.css')],
    ['favicon.svg', join(dir, 'favicon.svg')],
    ['uPlot.iife.min.js', join(uplot, 'uPlot.iife.min.js')],
    ['uPlot.min.css', join(uplot, 'uPlot.min.css')],
  ];
  return new Map(
    files.map(([name, path]) => [
      name,
      { body: readFileSync(path), type: TYPES[path.slice(path.lastIndexOf('.'))] },
    ]),
  );
}
