/**
 * Temp directories for tests that are removed pass or fail: by the test's own cleanup
 * (`removeTempDir` in afterAll/finally), else by the global teardown or, when the run is
 * interrupted, by the exit and signal hooks test/global-setup.ts installs in Jest's own process.
 * Both sweep every directory of this run: their names carry the run id.
 *
 * The hooks live in the global setup because a test file's `process` is Jest's sandbox copy: an
 * 'exit' listener added there never fires.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Set by test/global-setup.ts; a test file run without it still gets its own id. */
const RUN_ENV = 'RESERVOIR_TEST_RUN';

export function testRunId(): string {
  const id = process.env[RUN_ENV] || String(process.pid);
  process.env[RUN_ENV] = id;
  return id;
}

/** `<tmp>/<prefix>-<run>-XXXXXX`, e.g. `reservoir-demo-4711-a1b2c3`. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-${testRunId()}-`));
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Removes every `reservoir-*-<run>-*` directory in the temp dir; returns what it removed. */
export function sweepTempDirs(run: string, dir = tmpdir()): string[] {
  const suffix = `-${run}-`;
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('reservoir-') && name.includes(suffix)) {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}
