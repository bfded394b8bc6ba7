/**
 * The memory workload: three full rotations against the simulation in this process, with the
 * handler logging at INFO as in Lambda. Prints `BENCH_RESULT {json}` on stderr at the end.
 * Run bundled (bench/benchmarks/memory.ts) so no TypeScript loader sits in the process.
 */
import { VirtualClock } from '../../local/simulation/index.js';
import { createRotationRig } from '../support/rotation-rig.js';

const main = async (): Promise<void> => {
  const rig = await createRotationRig({
    clock: new VirtualClock(),
    propagationDelayMs: 8_000,
    logLevel: 'INFO',
  });
  const statuses: string[] = [];
  for (let index = 0; index < 3; index += 1) {
    statuses.push((await rig.rotate()).status);
  }
  if (statuses.some((status) => status !== 'succeeded')) {
    throw new Error(`rotations ended ${statuses.join(', ')}`);
  }
  const usage = process.resourceUsage();
  process.stderr.write(
    `BENCH_RESULT ${JSON.stringify({ maxRssKb: usage.maxRSS, calls: rig.sim.calls.length, statuses })}\n`,
  );
};

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
