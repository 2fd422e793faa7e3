/**
 * Jest globalSetup of the integration project (runs only when an integration test is selected):
 * the system tools the tests need and the built demo, see scripts/test-prepare.cjs. Also makes sure
 * the temp directories of this run go away even when the run is cut short.
 */
import { randomBytes } from 'node:crypto';
import { ensureDemoBuilt, provisionTools } from '../scripts/test-prepare.cjs';
import { sweepTempDirs } from './helpers/tmp';

export default function globalSetup(): void {
  // Temp directories of this run carry this id (test/helpers/tmp.ts), so exactly they are swept.
  const run = randomBytes(4).toString('hex');
  process.env.RESERVOIR_TEST_RUN = run;
  // This is Jest's own process (test files only see a sandbox copy of `process`). Synchronous only.
  process.once('exit', () => sweepTempDirs(run));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      sweepTempDirs(run);
      process.kill(process.pid, signal); // then die of it as before
    });
  }
  provisionTools();
  ensureDemoBuilt();
}
