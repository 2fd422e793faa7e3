/** Jest globalTeardown: removes every temp directory this run created that a test left behind. */
import { sweepTempDirs } from './helpers/tmp';

export default function globalTeardown(): void {
  const run = process.env.RESERVOIR_TEST_RUN;
  if (!run) return;
  const left = sweepTempDirs(run);
  if (left.length) process.stderr.write(`global teardown removed ${left.length} leftover temp dir(s)\n`);
}
