#!/usr/bin/env node
'use strict';
/**
 * Makes a fresh machine ready for the integration tests, so `npm ci && npm test` needs no other step:
 *
 * - system tools: `chromium` (browser test), `promtool` (/metrics check) and `pgbouncer` (RLS proof
 *   behind PgBouncer). When one is missing and we
 *   are root with apt-get, it is installed (one line says so); otherwise this fails at once and prints
 *   the exact install command. Nothing is ever skipped.
 * - the built demo: `nest build demo` when `dist` is missing or older than any source it is built from.
 *
 * Plain CommonJS with no dependencies, because `.ci/run` calls it before `npm ci` (`tools`), and Jest's
 * globalSetup (test/global-setup.ts) calls it before the integration tests (`all`).
 * The decision logic (`planTools`, `demoBuildNeeded`) takes PATH, uid and the file system state as
 * input, so it is unit-tested without touching the machine (scripts/test-prepare.spec.ts).
 *
 * CLI: node scripts/test-prepare.cjs [tools|build|all]   (default: all)
 */
const { spawnSync } = require('node:child_process');
const { accessSync, constants, existsSync, readdirSync, statSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** What the tests need from the system, and the Debian package that provides it. */
const TOOLS = [
  { command: 'chromium', pkg: 'chromium', neededBy: 'the browser test, test/dashboard.browser.e2e-spec.ts' },
  { command: 'promtool', pkg: 'prometheus', neededBy: 'the /metrics check in test/demo.app.e2e-spec.ts' },
  {
    command: 'pgbouncer',
    pkg: 'pgbouncer',
    neededBy: 'the RLS proof behind PgBouncer, test/tenant-rls.pgbouncer.e2e-spec.ts',
  },
];

/** apt and dpkg waits are bounded: the dpkg lock (another install running) and the whole command. */
const APT_LOCK_TIMEOUT_S = 300;
const APT_TIMEOUT_MS = 15 * 60_000;
const BUILD_TIMEOUT_MS = 5 * 60_000;

/** The exact command a user runs to install `pkgs` (also what we run as root). */
function installCommand(pkgs) {
  return `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

/** `command`'s absolute path on `PATH` (an executable regular file), or null. */
function findOnPath(command, PATH) {
  for (const dir of String(PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      /* not here */
    }
  }
  return null;
}

/**
 * What to do about the system tools. Pure: `which(command)` says where a command is (or null),
 * `uid` is the effective user id (undefined where there is none, e.g. Windows).
 *
 * @returns {{ action: 'none' }
 *   | { action: 'install', missing: string[], packages: string[], command: string, message: string }
 *   | { action: 'fail', missing: string[], packages: string[], command: string, message: string }}
 */
function planTools({ which, uid, tools = TOOLS }) {
  const missing = tools.filter((t) => !which(t.command));
  if (missing.length === 0) return { action: 'none' };
  const packages = [...new Set(missing.map((t) => t.pkg))];
  const names = missing.map((t) => t.command);
  const command = installCommand(packages);
  const what = missing.map((t) => `${t.command} (for ${t.neededBy})`).join(' and ');
  if (uid === 0 && which('apt-get')) {
    return {
      action: 'install',
      missing: names,
      packages,
      command,
      message: `test-prepare: ${names.join(' and ')} missing, installing Debian package${packages.length > 1 ? 's' : ''} ${packages.join(' ')} (${command})`,
    };
  }
  const why = uid !== 0 ? 'not root' : 'no apt-get on PATH';
  return {
    action: 'fail',
    missing: names,
    packages,
    command,
    message:
      `test-prepare: the tests need ${what}, which ${missing.length > 1 ? 'are' : 'is'} not on PATH, ` +
      `and this cannot install ${missing.length > 1 ? 'them' : 'it'} (${why}). Install with:\n  ` +
      (uid === 0 ? command : `sudo sh -c '${command}'`),
  };
}

/**
 * Carries out `planTools`: nothing, one line and an apt install (output kept unless it fails), or a
 * thrown error with the install command. Injected `spawn` (spawnSync's signature) and `log` for tests.
 */
function provisionTools({
  PATH = process.env.PATH,
  uid = typeof process.getuid === 'function' ? process.getuid() : undefined,
  which = (c) => findOnPath(c, PATH),
  spawn = spawnSync,
  log = (line) => process.stderr.write(line + '\n'),
  tools = TOOLS,
} = {}) {
  const plan = planTools({ which, uid, tools });
  if (plan.action === 'none') return plan;
  if (plan.action === 'fail') throw new Error(plan.message);
  log(plan.message);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = `DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`;
  for (const args of [
    ['-o', lock, 'update', '-qq'],
    ['-o', lock, 'install', '-y', '-qq', '--no-install-recommends', ...plan.packages],
  ]) {
    const r = spawn('apt-get', args, { env, encoding: 'utf8', timeout: APT_TIMEOUT_MS });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : `exit code ${r.status}`;
      throw new Error(
        `test-prepare: apt-get ${args.slice(2).join(' ')} failed (${why}):\n${r.stdout || ''}${r.stderr || ''}` +
          `\nInstall by hand with: ${plan.command}`,
      );
    }
  }
  const still = tools.filter((t) => !which(t.command)).map((t) => t.command);
  if (still.length) {
    throw new Error(
      `test-prepare: installed ${plan.packages.join(' ')} but ${still.join(', ')} is still not on PATH`,
    );
  }
  return plan;
}

/** Where `nest build demo` puts the entry file (TypeScript 6 needs rootDir ../.., see docs/design.md). */
const DEMO_MAIN_CANDIDATES = [
  path.join('dist', 'apps', 'demo', 'apps', 'demo', 'src', 'main.js'),
  path.join('dist', 'apps', 'demo', 'main.js'),
];

/** Inputs of the demo build: a newer one than the built entry means the build is stale. */
const BUILD_INPUTS = [
  'apps/demo/src',
  'libs',
  'tsconfig.json',
  'apps/demo/tsconfig.app.json',
  'nest-cli.json',
];

/** Newest mtime (ms) of the .ts/.json files under `rel` (a file or a directory), ignoring specs. */
function newestInput(root, rel) {
  const abs = path.join(root, rel);
  if (!existsSync(abs)) return 0;
  const st = statSync(abs);
  if (st.isFile()) return st.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(abs, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const child = path.join(rel, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestInput(root, child));
    else if (/\.(ts|json)$/.test(entry.name) && !/spec\.ts$/.test(entry.name)) {
      newest = Math.max(newest, statSync(path.join(root, child)).mtimeMs);
    }
  }
  return newest;
}

/** The built entry, or null. */
function builtDemoMain(root = ROOT) {
  const found = DEMO_MAIN_CANDIDATES.map((c) => path.join(root, c)).find((c) => existsSync(c));
  return found || null;
}

/** Whether the demo must be (re)built, and why; `newestSourceMs` and `builtMs` are injectable. */
function demoBuildNeeded({ builtMs, newestSourceMs }) {
  if (builtMs === null) return { build: true, why: 'the demo is not built' };
  if (newestSourceMs > builtMs) return { build: true, why: 'the demo build is older than its sources' };
  return { build: false, why: 'the demo build is up to date' };
}

/** Runs `nest build demo` when dist is missing or stale; one line says so. Returns the entry file. */
function ensureDemoBuilt({
  root = ROOT,
  spawn = spawnSync,
  log = (l) => process.stderr.write(l + '\n'),
} = {}) {
  const main = builtDemoMain(root);
  const decision = demoBuildNeeded({
    builtMs: main ? statSync(main).mtimeMs : null,
    newestSourceMs: Math.max(...BUILD_INPUTS.map((rel) => newestInput(root, rel))),
  });
  if (!decision.build) return main;
  log(`test-prepare: ${decision.why}, running nest build demo`);
  const nest = path.join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
  const r = spawn(process.execPath, [nest, 'build', 'demo'], {
    cwd: root,
    encoding: 'utf8',
    timeout: BUILD_TIMEOUT_MS,
  });
  if (r.error || r.status !== 0) {
    throw new Error(
      `test-prepare: nest build demo failed (${r.error ? r.error.message : `exit code ${r.status}`}):\n${r.stdout || ''}${r.stderr || ''}`,
    );
  }
  const built = builtDemoMain(root);
  if (!built)
    throw new Error(`test-prepare: nest build demo wrote none of ${DEMO_MAIN_CANDIDATES.join(', ')}`);
  return built;
}

module.exports = {
  TOOLS,
  installCommand,
  findOnPath,
  planTools,
  provisionTools,
  builtDemoMain,
  demoBuildNeeded,
  ensureDemoBuilt,
};

if (require.main === module) {
  const what = process.argv[2] || 'all';
  if (!['tools', 'build', 'all'].includes(what)) {
    process.stderr.write('usage: node scripts/test-prepare.cjs [tools|build|all]\n');
    process.exit(2);
  }
  try {
    if (what !== 'build') provisionTools();
    if (what !== 'tools') ensureDemoBuilt();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
