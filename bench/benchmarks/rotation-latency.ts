/**
 * Wall time of a full rotation against the simulation on a real clock, with new keys rejected
 * by STS for D = 0, 2, 8 and 15 s. Each run bootstraps with D = 0, then times a steady-state
 * rotation under D. Runs go one after another: run concurrently, the polling attempts of one
 * rotation queue behind the others' on this 2-core machine and each 1 s wait drifts by tens of
 * ms, which is not what a Lambda (one invocation per container) sees.
 */
import { RealClock } from '../../local/simulation/index.js';
import { createRotationRig } from '../support/rotation-rig.js';
import { median, ms, progress } from '../support/stats.js';
import type { BenchRow } from '../support/table.js';

export const LATENCY_DELAYS_MS = [0, 2_000, 8_000, 15_000];
export const LATENCY_SLACK_MS = 1_000;

const timeRotation = async (delayMs: number, seed: number): Promise<number> => {
  const rig = await createRotationRig({ clock: new RealClock(), propagationDelayMs: 0, seed });
  const bootstrap = await rig.rotate();
  if (bootstrap.status !== 'succeeded') throw new Error(`bootstrap rotation ${bootstrap.status}`);
  rig.sim.setPropagationDelay(delayMs);
  const outcome = await rig.rotate();
  if (outcome.status !== 'succeeded') {
    throw new Error(`rotation with D=${String(delayMs)} ms ended ${outcome.status}`);
  }
  return outcome.wallMs;
};

export interface LatencyResult {
  readonly delayMs: number;
  readonly runs: readonly number[];
}

export const measureRotationLatency = async (
  options: { zeroDelayRuns?: number; runs?: number } = {},
): Promise<LatencyResult[]> => {
  const zeroDelayRuns = options.zeroDelayRuns ?? 7;
  const runs = options.runs ?? 3;
  await timeRotation(0, 999);
  const results: LatencyResult[] = [];
  for (const delayMs of LATENCY_DELAYS_MS) {
    const count = delayMs === 0 ? zeroDelayRuns : runs;
    progress(`rotation latency: D=${String(delayMs / 1_000)} s × ${String(count)}`);
    const timed: number[] = [];
    for (let run = 0; run < count; run += 1)
      timed.push(await timeRotation(delayMs, delayMs + run + 1));
    results.push({ delayMs, runs: timed });
  }
  return results;
};

export const latencyRows = (results: readonly LatencyResult[]): BenchRow[] =>
  results.map((result) => {
    const value = median(result.runs);
    const target = result.delayMs + LATENCY_SLACK_MS;
    return {
      figure: `rotation latency, D = ${String(result.delayMs / 1_000)} s`,
      value: `${ms(value)} (median of ${String(result.runs.length)}; D + ${ms(value - result.delayMs)})`,
      target: `≤ ${ms(target)} (D + 1 s)`,
      met: value <= target,
    };
  });
