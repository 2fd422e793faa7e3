/**
 * The decisions of scripts/test-prepare.cjs, with `which`, the uid and `spawn` injected: nothing on
 * this machine is installed or built here. The real install path ran once on a machine without the
 * tools (see docs/design.md, "Fresh machine").
 */
import type { SpawnSyncReturns } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Spawn,
  TOOLS,
  demoBuildNeeded,
  ensureDemoBuilt,
  findOnPath,
  installCommand,
  planTools,
  provisionTools,
} from './test-prepare.cjs';

const ok = (stdout = ''): SpawnSyncReturns<string> => ({
  pid: 1,
  output: [],
  stdout,
  stderr: '',
  status: 0,
  signal: null,
});

/** A `which` over a fixed set of commands (the PATH as the decision logic sees it). */
const on =
  (...commands: string[]) =>
  (c: string) =>
    commands.includes(c) ? `/usr/bin/${c}` : null;

/** A temp dir removed after the callback, pass or fail. */
function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'reservoir-prepare-spec-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('planTools', () => {
  it('does nothing when chromium, promtool and pgbouncer are on PATH, whoever the user is', () => {
    const all = on('chromium', 'promtool', 'pgbouncer');
    expect(planTools({ which: all, uid: 1000 })).toEqual({ action: 'none' });
    expect(planTools({ which: all, uid: 0 })).toEqual({ action: 'none' });
  });

  it('installs the missing packages when root with apt-get, in one line naming them', () => {
    const plan = planTools({ which: on('apt-get', 'chromium', 'pgbouncer'), uid: 0 });
    expect(plan).toMatchObject({ action: 'install', missing: ['promtool'], packages: ['prometheus'] });
    if (plan.action === 'none') throw new Error('unreachable');
    expect(plan.message).not.toContain('\n');
    expect(plan.message).toContain('installing Debian package prometheus');

    const both = planTools({ which: on('apt-get'), uid: 0 });
    expect(both).toMatchObject({
      action: 'install',
      missing: ['chromium', 'promtool', 'pgbouncer'],
      packages: ['chromium', 'prometheus', 'pgbouncer'],
      command: 'apt-get update && apt-get install -y --no-install-recommends chromium prometheus pgbouncer',
    });
  });

  it('fails with the exact install command when not root', () => {
    const plan = planTools({ which: on('apt-get', 'promtool', 'pgbouncer'), uid: 1000 });
    expect(plan.action).toBe('fail');
    if (plan.action === 'none') throw new Error('unreachable');
    expect(plan.packages).toEqual(['chromium']);
    expect(plan.message).toContain('not root');
    expect(plan.message).toContain(
      "sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends chromium'",
    );
    expect(plan.message).toContain('test/dashboard.browser.e2e-spec.ts');
  });

  it('fails when root but without apt-get, and when there is no uid at all', () => {
    const noApt = planTools({ which: on(), uid: 0 });
    expect(noApt.action).toBe('fail');
    if (noApt.action === 'none') throw new Error('unreachable');
    expect(noApt.message).toContain('no apt-get on PATH');
    expect(noApt.message).toContain(installCommand(['chromium', 'prometheus', 'pgbouncer']));
    expect(planTools({ which: on('apt-get'), uid: undefined }).action).toBe('fail');
  });
});

describe('findOnPath', () => {
  it('finds executable files only, in PATH order', () =>
    withTempDir((dir) => {
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      mkdirSync(a);
      mkdirSync(b);
      writeFileSync(join(a, 'promtool'), '#!/bin/sh\n'); // not executable
      writeFileSync(join(b, 'promtool'), '#!/bin/sh\n');
      chmodSync(join(b, 'promtool'), 0o755);
      mkdirSync(join(a, 'chromium')); // a directory is not a command
      expect(findOnPath('promtool', `${a}:${b}`)).toBe(join(b, 'promtool'));
      expect(findOnPath('chromium', `${a}:${b}`)).toBeNull();
      expect(findOnPath('promtool', '')).toBeNull();
      expect(findOnPath('promtool', undefined)).toBeNull();
    }));
});

describe('provisionTools', () => {
  it('on a PATH without the tools and not root: throws at once, runs nothing', () => {
    const spawn = jest.fn<ReturnType<Spawn>, Parameters<Spawn>>();
    const log = jest.fn();
    expect(() => provisionTools({ PATH: '/nonexistent', uid: 1000, spawn, log })).toThrow(
      /chromium .* and promtool .* and pgbouncer .*not on PATH[\s\S]*apt-get install -y --no-install-recommends chromium prometheus pgbouncer/,
    );
    expect(spawn).not.toHaveBeenCalled();
    expect(log).not.toHaveBeenCalled();
  });

  it('as root with apt-get: prints one line, runs apt-get update then install, checks again', () => {
    const installed = new Set(['apt-get']);
    const calls: string[][] = [];
    const spawn: Spawn = (cmd, args, options) => {
      calls.push([cmd, ...args]);
      expect(options.env?.DEBIAN_FRONTEND).toBe('noninteractive');
      expect(options.timeout).toBeGreaterThan(0); // bounded
      if (args.includes('install')) for (const t of TOOLS) installed.add(t.command);
      return ok();
    };
    const lines: string[] = [];
    const plan = provisionTools({
      uid: 0,
      which: (c) => (installed.has(c) ? `/usr/bin/${c}` : null),
      spawn,
      log: (l) => lines.push(l),
    });
    expect(plan.action).toBe('install');
    expect(lines).toHaveLength(1);
    expect(calls).toEqual([
      ['apt-get', '-o', 'DPkg::Lock::Timeout=300', 'update', '-qq'],
      [
        'apt-get',
        '-o',
        'DPkg::Lock::Timeout=300',
        'install',
        '-y',
        '-qq',
        '--no-install-recommends',
        'chromium',
        'prometheus',
        'pgbouncer',
      ],
    ]);
  });

  it('as root: a failing apt-get is an error with its output and the command to run by hand', () => {
    const spawn: Spawn = () => ({ ...ok(), status: 100, stderr: 'E: Unable to locate package chromium' });
    expect(() => provisionTools({ uid: 0, which: on('apt-get'), spawn, log: () => undefined })).toThrow(
      /apt-get update -qq failed \(exit code 100\)[\s\S]*Unable to locate package[\s\S]*Install by hand with: apt-get update/,
    );
  });

  it('as root: an install that leaves the command missing is an error', () => {
    expect(() =>
      provisionTools({
        uid: 0,
        which: on('apt-get', 'chromium', 'pgbouncer'),
        spawn: () => ok(),
        log: () => undefined,
      }),
    ).toThrow(/installed prometheus but promtool is still not on PATH/);
  });
});

describe('demo build', () => {
  it('demoBuildNeeded: missing, stale, fresh', () => {
    expect(demoBuildNeeded({ builtMs: null, newestSourceMs: 5 })).toMatchObject({ build: true });
    expect(demoBuildNeeded({ builtMs: 10, newestSourceMs: 11 })).toMatchObject({
      build: true,
      why: 'the demo build is older than its sources',
    });
    expect(demoBuildNeeded({ builtMs: 10, newestSourceMs: 10 })).toMatchObject({ build: false });
  });

  /** A minimal repo layout: one source file, optionally a built entry, with given mtimes (s). */
  function layout(root: string, sourceAt: number, builtAt?: number): string {
    const src = join(root, 'apps', 'demo', 'src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'main.ts'), '');
    utimesSync(join(src, 'main.ts'), sourceAt, sourceAt);
    writeFileSync(join(src, 'main.spec.ts'), ''); // specs are not build inputs
    utimesSync(join(src, 'main.spec.ts'), sourceAt + 500, sourceAt + 500);
    const main = join(root, 'dist', 'apps', 'demo', 'apps', 'demo', 'src', 'main.js');
    if (builtAt !== undefined) {
      mkdirSync(join(main, '..'), { recursive: true });
      writeFileSync(main, '');
      utimesSync(main, builtAt, builtAt);
    }
    return main;
  }

  /** A fake `nest build` that writes the entry file. */
  const fakeBuild =
    (main: string, calls: string[][]): Spawn =>
    (cmd, args) => {
      calls.push([cmd, ...args]);
      mkdirSync(join(main, '..'), { recursive: true });
      writeFileSync(main, '');
      return ok();
    };

  it('builds when dist is missing, and says so in one line', () =>
    withTempDir((root) => {
      const main = layout(root, 1000);
      const calls: string[][] = [];
      const lines: string[] = [];
      expect(ensureDemoBuilt({ root, spawn: fakeBuild(main, calls), log: (l) => lines.push(l) })).toBe(main);
      expect(calls).toHaveLength(1);
      expect(calls[0].slice(-2)).toEqual(['build', 'demo']);
      expect(lines).toEqual(['test-prepare: the demo is not built, running nest build demo']);
    }));

  it('builds when a source is newer than dist, not when dist is newer (e.g. .ci/run built it)', () =>
    withTempDir((root) => {
      const calls: string[][] = [];
      const main = layout(root, 2000, 1000);
      ensureDemoBuilt({ root, spawn: fakeBuild(main, calls), log: () => undefined });
      expect(calls).toHaveLength(1);

      utimesSync(main, 3000, 3000); // the spec file (mtime 2500) does not count
      ensureDemoBuilt({ root, spawn: fakeBuild(main, calls), log: () => undefined });
      expect(calls).toHaveLength(1);
    }));

  it('a failing build is an error with its output', () =>
    withTempDir((root) => {
      layout(root, 1000);
      const spawn: Spawn = () => ({ ...ok(), status: 1, stdout: 'TS2322: Type string is not number' });
      expect(() => ensureDemoBuilt({ root, spawn, log: () => undefined })).toThrow(
        /nest build demo failed \(exit code 1\)[\s\S]*TS2322/,
      );
    }));
});
