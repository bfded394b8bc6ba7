/**
 * Cold start: a new `node` process that loads the asset (which creates its SDK clients at module
 * load), minus a bare `node -e ""`; beside it the Python reference rotation template's
 * equivalent, `import boto3` and three clients, minus a bare `python3 -c ""`. Beside them the
 * same loads timed inside the process (steadier on a shared machine), and the asset's modules
 * without the logger and clients, which splits load from client creation. All commands run
 * interleaved, in a rotating order, after a warm-up, and each figure is a median.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { STACK_ID_ENV } from '../../lambda/rotation/binding.js';
import { buildRotationAsset, ROTATION_ENTRY_FILE } from '../../lib/rotation-asset-build.js';
import { makeTempDir, projectPath } from '../support/paths.js';
import { median, ms, progress } from '../support/stats.js';
import type { BenchRow } from '../support/table.js';
import type { SmokeResult } from '../workloads/asset-smoke.js';

/** Import and client creation over a bare `node` (issue 17; issue 5 had 60 ms). */
export const COLD_START_TARGET_MS = 30;

const PYTHON_REFERENCE = [
  'import boto3',
  "session = boto3.session.Session(region_name='us-east-1')",
  "clients = [session.client(name) for name in ('secretsmanager', 'iam', 'sts')]",
].join('\n');

/** What the Lambda environment gives the function; no credentials are resolved at load. */
export const LAMBDA_LIKE_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'iam-key-rotation-bench',
  // The stack id the stack sets; without it every invocation fails before its first call.
  [STACK_ID_ENV]:
    'arn:aws:cloudformation:us-east-1:123456789012:stack/IamKeyRotation/00000000-0000-4000-8000-000000000000',
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'bench-not-a-secret',
  // The SDK warns on Node.js 20 (the Lambda runtime is Node.js 24, where it does not).
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // Keeps Python from writing bytecode caches into site-packages during the benchmark.
  PYTHONDONTWRITEBYTECODE: '1',
};

/**
 * `wall`: the parent times the whole process. `inside`: the process prints how long the import
 * (or Python's imports and clients) took by its own clock, which leaves out process start-up and
 * most of the machine's noise.
 */
export interface Command {
  readonly name: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly clock: 'wall' | 'inside';
}

export const timeOnce = (command: Command, env: NodeJS.ProcessEnv): number => {
  const startedAt = performance.now();
  const result = spawnSync(command.file, command.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const elapsed = performance.now() - startedAt;
  if (result.status !== 0) {
    throw new Error(
      `${command.name} exited ${String(result.status)}: ${result.stderr.toString().slice(-1_000)}`,
    );
  }
  if (command.clock === 'wall') return elapsed;
  const reported = Number(result.stdout.toString().trim().split('\n').at(-1));
  if (!Number.isFinite(reported)) throw new Error(`${command.name} printed no duration`);
  return reported;
};

/**
 * `node` arguments that run `before`, load `entry` as the Lambda runtime does (`require` for a
 * `.cjs` file, `import()` for an ES module), then run `after`.
 */
export const loadBetween = (entry: string, before: string, after: string): string[] =>
  entry.endsWith('.cjs')
    ? ['-e', `${before} require(${JSON.stringify(entry)}); ${after}`]
    : [
        '--input-type=module',
        '-e',
        `${before} await import(${JSON.stringify(pathToFileURL(entry).href)}); ${after}`,
      ];

/** Loads a module (see {@link loadBetween}) and prints how long that took, in ms. */
export const importTimer = (entry: string): string[] =>
  loadBetween(
    entry,
    'const t = performance.now();',
    'process.stdout.write(String(performance.now() - t));',
  );

export interface ColdStartResult {
  readonly runs: number;
  readonly bareNodeMs: number;
  readonly assetMs: number;
  readonly barePythonMs: number;
  readonly boto3Ms: number;
  /** Measured inside the process: `require(asset)` (an ES module baseline: `await import`). */
  readonly assetImportMs: number;
  /** Measured inside the process: the same modules, bundled alike, without the logger and clients. */
  readonly withoutClientsImportMs: number;
  /** Measured inside the process: `import boto3` and three clients. */
  readonly boto3InsideMs: number;
  /** The baseline's asset (main before issue 17), beside: process wall time, and timed inside. */
  readonly baseline?: {
    readonly commit: string;
    readonly assetMs: number;
    readonly importMs: number;
  };
}

/** Builds bench/workloads/load-without-clients.ts as the asset is built (lib/rotation-asset-build.ts). */
export const bundleWithoutClients = async (): Promise<string> => {
  const outdir = makeTempDir('cold-start');
  await buildRotationAsset(outdir, {
    entry: projectPath('bench', 'workloads', 'load-without-clients.ts'),
  });
  return path.join(outdir, ROTATION_ENTRY_FILE);
};

export const measureColdStart = async (
  assetEntry: string,
  options: {
    runs?: number;
    warmups?: number;
    /** The baseline's asset, measured in the same rounds. */
    baseline?: { readonly commit: string; readonly assetEntry: string };
  } = {},
): Promise<ColdStartResult> => {
  const withoutClients = await bundleWithoutClients();
  const runs = options.runs ?? 21;
  const warmups = options.warmups ?? 3;
  // A Lambda-like environment, not this shell's: a NODE_EXTRA_CA_CERTS there (this machine sets
  // one) makes every node start parse a certificate bundle, about 45 ms on both sides.
  const env = { PATH: process.env.PATH ?? '', ...LAMBDA_LIKE_ENV };
  const pythonInside = `import time\nstarted = time.perf_counter()\n${PYTHON_REFERENCE}\nprint((time.perf_counter() - started) * 1000)`;
  const commands: Command[] = [
    { name: 'bare node', file: process.execPath, args: ['-e', ''], clock: 'wall' },
    { name: 'asset', file: process.execPath, args: [assetEntry], clock: 'wall' },
    { name: 'bare python', file: 'python3', args: ['-c', ''], clock: 'wall' },
    { name: 'boto3', file: 'python3', args: ['-c', PYTHON_REFERENCE], clock: 'wall' },
    {
      name: 'asset import',
      file: process.execPath,
      args: importTimer(assetEntry),
      clock: 'inside',
    },
    {
      name: 'import without clients',
      file: process.execPath,
      args: importTimer(withoutClients),
      clock: 'inside',
    },
    { name: 'boto3 inside', file: 'python3', args: ['-c', pythonInside], clock: 'inside' },
    ...(options.baseline === undefined
      ? []
      : [
          {
            name: 'baseline asset',
            file: process.execPath,
            args: [options.baseline.assetEntry],
            clock: 'wall' as const,
          },
          {
            name: 'baseline asset import',
            file: process.execPath,
            args: importTimer(options.baseline.assetEntry),
            clock: 'inside' as const,
          },
        ]),
  ];
  const samples = commands.map(() => [] as number[]);
  progress(`cold start: ${String(warmups)} warm-up and ${String(runs)} measured rounds`);
  for (let round = 0; round < warmups + runs; round += 1) {
    for (let offset = 0; offset < commands.length; offset += 1) {
      const index = (round + offset) % commands.length;
      const command = commands[index];
      if (command === undefined) continue;
      const elapsed = timeOnce(command, env);
      if (round >= warmups) samples[index]?.push(elapsed);
    }
  }
  const medians = samples.map((values) => median(values));
  const at = (index: number): number => medians[index] ?? NaN;
  return {
    runs,
    bareNodeMs: at(0),
    assetMs: at(1),
    barePythonMs: at(2),
    boto3Ms: at(3),
    assetImportMs: at(4),
    withoutClientsImportMs: at(5),
    boto3InsideMs: at(6),
    ...(options.baseline === undefined
      ? {}
      : { baseline: { commit: options.baseline.commit, assetMs: at(7), importMs: at(8) } }),
  };
};

export const coldStartRows = (result: ColdStartResult): BenchRow[] => {
  const nodeOver = result.assetMs - result.bareNodeMs;
  const pythonOver = result.boto3Ms - result.barePythonMs;
  return [
    {
      figure: 'cold start (new node process: load asset + create clients, minus bare node)',
      value: `${ms(nodeOver)} (asset ${ms(result.assetMs)} − bare node ${ms(result.bareNodeMs)}; medians of ${String(result.runs)})`,
      target: `≤ ${String(COLD_START_TARGET_MS)} ms`,
      peer: `${result.baseline === undefined ? '' : `before (${result.baseline.commit}): ${ms(result.baseline.assetMs - result.bareNodeMs)}; `}Python: import boto3 + 3 clients ${ms(pythonOver)} over bare python (${ms(result.boto3Ms)} − ${ms(result.barePythonMs)}); ratio node/python ${(nodeOver / pythonOver).toFixed(2)}`,
      met: nodeOver <= COLD_START_TARGET_MS,
    },
    {
      figure: 'cold start, timed inside the process (require(asset); the baseline: await import)',
      value: `${ms(result.assetImportMs)} = module evaluation ${ms(result.withoutClientsImportMs)} + logger and clients ${ms(result.assetImportMs - result.withoutClientsImportMs)}`,
      target: `report (≤ ${String(COLD_START_TARGET_MS)} ms)`,
      peer: `${result.baseline === undefined ? '' : `before (${result.baseline.commit}): ${ms(result.baseline.importMs)}; `}Python, timed inside: ${ms(result.boto3InsideMs)}; ratio ${(result.assetImportMs / result.boto3InsideMs).toFixed(2)}`,
    },
  ];
};

type SmokeMode = SmokeResult['mode'];

/** Runs bench/workloads/asset-smoke.ts on the asset in a new process, in one credentials mode. */
const runAssetSmoke = (assetEntry: string, mode: SmokeMode): SmokeResult => {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', projectPath('bench', 'workloads', 'asset-smoke.ts'), assetEntry, mode],
    {
      cwd: projectPath(),
      env: { ...process.env, ...LAMBDA_LIKE_ENV },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 30_000,
    },
  );
  const line = result.stderr
    .toString()
    .split('\n')
    .find((candidate) => candidate.startsWith('BENCH_RESULT '));
  if (line === undefined) {
    throw new Error(
      `asset smoke check (${mode} credentials) printed no result: ${result.stderr.toString().slice(-1_000)}`,
    );
  }
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as SmokeResult;
};

/** Empty when the smoke run saw what it should; otherwise what was wrong. */
const smokeProblem = (result: SmokeResult): string => {
  const first = result.requests[0];
  const signedAsExpected =
    first?.target === 'secretsmanager.DescribeSecret' &&
    first.accessKeyId === result.expectedAccessKeyId;
  const endpointAsExpected =
    result.mode === 'environment'
      ? result.credentialRequests.length === 0
      : result.credentialRequests.length > 0 &&
        result.credentialRequests.every(({ authorized }) => authorized) &&
        first?.containerSessionToken === true;
  return signedAsExpected && endpointAsExpected
    ? ''
    : `${result.mode}: unexpected requests ${JSON.stringify(result.requests)}, credentials endpoint ${JSON.stringify(result.credentialRequests)}`;
};

/**
 * Loads the asset in a new process with Lambda-like environment variables and invokes it once
 * against a 127.0.0.1 endpoint, then again in a second process where the credentials come from
 * a 127.0.0.1 container credentials endpoint instead of the environment: the first request must
 * be signed with AWS_ACCESS_KEY_ID from the environment, then with the key the endpoint handed
 * out for its token (carrying its session token). These are the two links of the credential
 * chain the bundle keeps (lambda/aws/lambda-credential-provider.ts).
 */
export const smokeTestAsset = (assetEntry: string): BenchRow => {
  const problems = (['environment', 'container'] as const)
    .map((mode) => smokeProblem(runAssetSmoke(assetEntry, mode)))
    .filter((problem) => problem !== '');
  return {
    figure: 'asset smoke check (invoke once per credential source against 127.0.0.1)',
    value:
      problems.length === 0
        ? 'DescribeSecret signed with AWS_ACCESS_KEY_ID from the environment; without it, with the key from AWS_CONTAINER_CREDENTIALS_FULL_URI (token sent, session token carried)'
        : problems.join('; '),
    target: "signed with the environment credentials, else the container endpoint's",
    met: problems.length === 0,
  };
};
