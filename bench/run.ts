/**
 * `npm run bench` (`tsx bench/run.ts`): runs every benchmark (issues 5 to 17) on this machine and
 * prints one markdown table on stdout (progress goes to stderr). Benchmarks never fail CI: a
 * missed target is marked ❌ in the table; the exit code is non-zero only when a benchmark
 * could not run at all.
 *
 * `--only asset,cold-start,command,status,memory,api-calls,latency,synth,scale` runs a subset
 * (`scale`: synth of 1, 200 and 1,000 users, resources per stack and every role's policies
 * against IAM's quotas; `command`: the command's start and credential-process; `status`: status over 1,000
 * secrets in the local simulation). The asset, cold-start and
 * command figures are measured beside the baseline's (main before issue 17, extracted and built
 * in a temporary directory: bench/support/baseline-checkout.ts).
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { apiCallRows, measureApiCalls } from './benchmarks/api-calls.js';
import {
  assetRows,
  findRotationAsset,
  measureAsset,
  type AssetSize,
} from './benchmarks/asset-size.js';
import { coldStartRows, measureColdStart, smokeTestAsset } from './benchmarks/cold-start.js';
import { commandStartRows, measureCommandStart } from './benchmarks/command-start.js';
import { measureMemory, memoryRows } from './benchmarks/memory.js';
import { measureStatusScale, statusScaleRows } from './benchmarks/status-scale.js';
import { latencyRows, measureRotationLatency } from './benchmarks/rotation-latency.js';
import {
  measureScale,
  scaleRows,
  synthesize,
  synthRows,
  type SynthResult,
} from './benchmarks/synth.js';
import { baselineCheckout, type BaselineCheckout } from './support/baseline-checkout.js';
import { removeTempDirs } from './support/paths.js';
import { progress } from './support/stats.js';
import { renderTable, type BenchRow } from './support/table.js';

const BENCHMARKS = [
  'synth',
  'scale',
  'asset',
  'cold-start',
  'command',
  'status',
  'memory',
  'api-calls',
  'latency',
] as const;
type BenchmarkName = (typeof BENCHMARKS)[number];

const selected = (): ReadonlySet<BenchmarkName> => {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  if (values.only === undefined) return new Set(BENCHMARKS);
  const names = values.only.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(BENCHMARKS as readonly string[]).includes(name)) {
      throw new Error(
        `--only: unknown benchmark "${name}"; expected some of ${BENCHMARKS.join(', ')}`,
      );
    }
  }
  return new Set(names as BenchmarkName[]);
};

const machineRow = (): BenchRow => {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  return {
    figure: 'machine',
    value: `${new Date().toISOString().slice(0, 10)}; ${String(cpus().length)} cores (${model}); Node.js ${process.version}; ${process.platform}/${process.arch}`,
    target: '—',
  };
};

const main = async (): Promise<number> => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const only = selected();
  const rows: BenchRow[] = [machineRow()];
  const failures: string[] = [];
  const attempt = async (name: string, body: () => Promise<void>): Promise<void> => {
    const startedAt = performance.now();
    try {
      await body();
      progress(`${name}: done in ${((performance.now() - startedAt) / 1_000).toFixed(1)} s`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push(`${name}: ${message}`);
      rows.push({
        figure: name,
        value: `could not run: ${message.split('\n')[0] ?? ''}`,
        target: '—',
      });
      progress(`${name} FAILED: ${message}`);
    }
  };

  // A first synth with one user provides the asset (and warms the caches of the timed synths).
  const synthResults: SynthResult[] = [];
  let asset: AssetSize | undefined;
  if (only.has('synth') || only.has('asset') || only.has('cold-start')) {
    await attempt('synth for the asset', async () => {
      progress('cdk synth (asset; warm-up of the synth benchmark)');
      asset = measureAsset(findRotationAsset((await synthesize(1)).outDir));
    });
  }
  let baseline: BaselineCheckout | undefined;
  if (only.has('asset') || only.has('cold-start') || only.has('command')) {
    await attempt('baseline checkout', () => {
      progress('extracting and building the baseline (main before issue 17)');
      baseline = baselineCheckout();
      return Promise.resolve();
    });
  }
  if (only.has('asset') && asset !== undefined) {
    const built = asset;
    rows.push(
      ...assetRows(
        built,
        baseline === undefined ? undefined : { commit: baseline.commit, file: baseline.assetEntry },
      ),
    );
    await attempt('asset smoke check', () => {
      rows.push(smokeTestAsset(built.entry));
      return Promise.resolve();
    });
  }
  if (only.has('cold-start')) {
    await attempt('cold start', async () => {
      if (asset === undefined) throw new Error('no asset: synth failed');
      rows.push(
        ...coldStartRows(
          await measureColdStart(asset.entry, {
            ...(baseline === undefined
              ? {}
              : { baseline: { commit: baseline.commit, assetEntry: baseline.assetEntry } }),
          }),
        ),
      );
    });
  }
  if (only.has('command')) {
    await attempt('command start', async () => {
      if (baseline === undefined) throw new Error('no baseline checkout');
      rows.push(...commandStartRows(await measureCommandStart(baseline)));
    });
  }
  if (only.has('status')) {
    await attempt('status over 1,000 secrets', async () => {
      rows.push(...statusScaleRows(await measureStatusScale()));
    });
  }
  if (only.has('memory')) {
    await attempt('memory', async () => {
      rows.push(...memoryRows(await measureMemory()));
    });
  }
  if (only.has('api-calls')) {
    await attempt('API calls', async () => {
      rows.push(...apiCallRows(await measureApiCalls()));
    });
  }
  if (only.has('latency')) {
    await attempt('rotation latency', async () => {
      rows.push(...latencyRows(await measureRotationLatency()));
    });
  }
  if (only.has('synth')) {
    for (const users of [1, 50, 200]) {
      await attempt(`synth, ${String(users)} user${users === 1 ? '' : 's'}`, async () => {
        progress(`cdk synth with ${String(users)} user${users === 1 ? '' : 's'}`);
        synthResults.push(await synthesize(users));
      });
    }
    rows.push(...synthRows(synthResults));
  }
  if (only.has('scale')) {
    await attempt('scale', async () => {
      rows.push(...scaleRows(await measureScale()));
    });
  }

  process.stdout.write(`${renderTable(rows)}\n`);
  if (failures.length > 0) {
    process.stderr.write(
      `\n${String(failures.length)} benchmark(s) could not run:\n${failures.join('\n')}\n`,
    );
    return 1;
  }
  return 0;
};

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 2;
  })
  .finally(() => {
    removeTempDirs();
  });
