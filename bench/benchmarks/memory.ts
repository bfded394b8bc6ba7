/**
 * Peak RSS of one `node` process running three full rotations against the simulation. The
 * workload is bundled with esbuild (the rotation function's own options) and run with plain
 * `node`, so the figure holds the handler, the SDK, the simulation and Node.js itself, but no
 * TypeScript loader. Beside it: a bare `node -e ""`.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { build } from 'esbuild';
import { assetBuildOptions } from '../support/asset-build-options.js';
import { makeTempDir, projectPath } from '../support/paths.js';
import { median, progress } from '../support/stats.js';
import type { BenchRow } from '../support/table.js';

export const MEMORY_TARGET_MB = 96;

const maxRssOf = (args: string[]): { maxRssKb: number; stderr: string } => {
  const result = spawnSync(process.execPath, args, {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const stderr = result.stderr.toString();
  if (result.status !== 0) {
    throw new Error(
      `node ${args.join(' ')} exited ${String(result.status)}: ${stderr.slice(-1_500)}`,
    );
  }
  const line = stderr.split('\n').find((candidate) => candidate.startsWith('BENCH_RESULT '));
  if (line === undefined) throw new Error('the memory workload printed no BENCH_RESULT');
  const parsed = JSON.parse(line.slice('BENCH_RESULT '.length)) as { maxRssKb: number };
  return { maxRssKb: parsed.maxRssKb, stderr };
};

export interface MemoryResult {
  readonly runs: number;
  readonly workloadMb: number;
  readonly bareNodeMb: number;
}

export const measureMemory = async (runs = 3): Promise<MemoryResult> => {
  const dir = makeTempDir('memory');
  const outfile = path.join(dir, 'three-rotations.mjs');
  progress('memory: bundling the three-rotation workload');
  // The asset's options, but for the Node.js that runs the benchmark.
  await build(
    assetBuildOptions({
      entryPoints: [projectPath('bench', 'workloads', 'three-rotations.ts')],
      target: 'node20',
      outfile,
    }),
  );
  const bareScript =
    'process.stderr.write("BENCH_RESULT " + JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }) + "\\n")';
  const workload: number[] = [];
  const bare: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    progress(`memory: run ${String(run + 1)} of ${String(runs)}`);
    workload.push(maxRssOf([outfile]).maxRssKb);
    bare.push(maxRssOf(['-e', bareScript]).maxRssKb);
  }
  return { runs, workloadMb: median(workload) / 1024, bareNodeMb: median(bare) / 1024 };
};

export const memoryRows = (result: MemoryResult): BenchRow[] => [
  {
    figure: 'memory (peak RSS, 3 rotations in one process)',
    value: `${result.workloadMb.toFixed(1)} MB (median of ${String(result.runs)})`,
    target: `≤ ${String(MEMORY_TARGET_MB)} MB`,
    peer: `bare node: ${result.bareNodeMb.toFixed(1)} MB`,
    met: result.workloadMb <= MEMORY_TARGET_MB,
  },
];
