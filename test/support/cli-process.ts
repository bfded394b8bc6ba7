import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AccessKeyPair } from './moto/moto-aws.js';

/** The repository root (the package whose `bin` is the command). */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The file package.json's `bin` names, built by `npm ci` (and by test/support/global-setup.ts): what `npx iam-key-rotation` runs. */
export const CLI_ENTRY = path.join(PROJECT_ROOT, 'dist', 'cli', 'iam-key-rotation.mjs');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningCli {
  /** Resolves when the process has exited. */
  readonly done: Promise<CliRun>;
}

const DEFAULT_TIMEOUT_MS = 90_000;

/**
 * The environment a user's shell would give the command against moto: the endpoint, a region,
 * one access key, no shared config or credentials files (they point at files that do not exist),
 * no instance metadata. Nothing else is inherited but PATH.
 */
export const motoCliEnvironment = (
  endpoint: string,
  key: AccessKeyPair,
  scratchDir: string,
): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  HOME: scratchDir,
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: key.accessKeyId,
  AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
  AWS_CONFIG_FILE: path.join(scratchDir, 'no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: path.join(scratchDir, 'no-aws-credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
});

/**
 * Starts `node dist/cli/iam-key-rotation.mjs <args>` as a user would run it, with exactly `environment`,
 * stdin not a terminal (a pipe that delivers `input`, if any, and ends), in `cwd`. Killed by
 * its pid if it outlives `timeoutMs`.
 */
export const startCli = (
  args: readonly string[],
  environment: Readonly<Record<string, string>>,
  options: {
    readonly cwd?: string;
    readonly timeoutMs?: number;
    readonly command?: readonly string[];
    /** Written to the command's standard input, which then ends. */
    readonly input?: string;
  } = {},
): RunningCli => {
  const [executable, ...prefix] = options.command ?? [process.execPath, CLI_ENTRY];
  const child = spawn(executable ?? process.execPath, [...prefix, ...args], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { ...environment },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A command that exits without reading its input closes the pipe: not an error of the test.
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const done = new Promise<CliRun>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { done };
};

/** {@link startCli}, awaited. */
export const runCliProcess = (
  args: readonly string[],
  environment: Readonly<Record<string, string>>,
  options: {
    readonly cwd?: string;
    readonly timeoutMs?: number;
    readonly command?: readonly string[];
    readonly input?: string;
  } = {},
): Promise<CliRun> => startCli(args, environment, options).done;
