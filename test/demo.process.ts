/**
 * Starts the BUILT demo as a child process on a free port with its own data directory, and stops it.
 * Used by the demo e2e and browser tests. Jest's global setup builds the demo when dist is missing or
 * stale (scripts/test-prepare.cjs), so `npm test` and `npx jest test/...` need no build step first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { builtDemoMain as findBuiltDemo } from '../scripts/test-prepare.cjs';
import { makeTempDir, removeTempDir } from './helpers/tmp';

const ROOT = resolve(__dirname, '..');

/** Where `nest build demo` put the entry file (it depends on the build's rootDir). */
export function builtDemoMain(): string {
  const found = findBuiltDemo(ROOT);
  if (!found) {
    throw new Error("The demo is not built. Jest's global setup builds it; by hand: npm run build");
  }
  return found;
}

export interface DemoProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Sends `signal` and resolves with how the process ended (kills it after `timeoutMs`). */
  stop(
    signal?: NodeJS.Signals,
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startDemo(
  env: Record<string, string> = {},
  startTimeoutMs = 30_000,
): Promise<DemoProcess> {
  // Resolved before the data directory exists, so a missing build leaves no directory behind.
  const main = builtDemoMain();
  const dataDir = makeTempDir('reservoir-demo');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [main], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: '',
        PORT: '0',
        DATA_DIR: dataDir,
        NO_COLOR: '1',
        FORCE_COLOR: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    removeTempDir(dataDir);
    throw err;
  }
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal })),
  );

  const cleanup = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    removeTempDir(dataDir);
  };
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => {
      cleanup(); // never leave a half-started demo holding a port and a data dir
      rej(new Error(`demo did not start within ${startTimeoutMs} ms:\n${out}`));
    }, startTimeoutMs);
    const onData = () => {
      const m = /Reservoir demo on (http:\/\/[^/\s]+)\/dashboard/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        res(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      cleanup();
      rej(new Error(`demo exited during startup (code ${code}, signal ${signal}):\n${out}`));
    });
  });

  let stopped: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  return {
    url,
    dataDir,
    child,
    output: () => out,
    stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        const result = await exited;
        clearTimeout(killer);
        removeTempDir(dataDir);
        return result;
      })();
      return stopped;
    },
  };
}

/** fetch + JSON with the tenant header when given. */
export async function call(
  base: string,
  method: string,
  path: string,
  /** `rawBody`: JSON text sent as is (for what JSON.stringify cannot write, e.g. `1e400`). */
  opts: { org?: string; body?: unknown; rawBody?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (opts.org !== undefined) headers['x-organisation-id'] = opts.org;
  const text = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (text !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, {
    method,
    headers,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
    ...(text !== undefined && { body: text }),
  });
  const answer = await res.text();
  let body: unknown = answer;
  try {
    body = answer ? JSON.parse(answer) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      // Bounded even when fn() itself hangs: it gets what is left of the deadline (at least 1 s).
      const v = await Promise.race([
        fn(),
        new Promise<never>((_, rej) =>
          setTimeout(
            () => rej(new Error('attempt timed out')),
            Math.max(1_000, deadline - Date.now()),
          ).unref(),
        ),
      ]);
      if (v) return v as T;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
