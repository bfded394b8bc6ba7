/**
 * `cdk synth` wall time and resources per stack for 1, 50 and 200 configured users, and the
 * rotation function's asset exactly as synth writes it.
 *
 * Synth runs in a temporary working directory with no cdk.json, so the only configuration is
 * the generated file named by `-c iamKeyRotationConfigFile`, and the app runs as `tsx
 * bin/app.ts` (without the `npx` of cdk.json), so the figures stay comparable with earlier runs.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, projectPath } from '../support/paths.js';
import { ms, progress } from '../support/stats.js';
import type { BenchRow } from '../support/table.js';

/** CloudFormation's limit of resources per stack. */
export const STACK_RESOURCE_LIMIT = 500;
const USERS_PER_STACK = 100;

export interface SynthResult {
  readonly users: number;
  readonly wallMs: number;
  readonly resourcesPerStack: ReadonlyMap<string, number>;
  readonly outDir: string;
}

/** A config of `count` users, 100 per stack (the `stack` field on users past the first 100). */
export const generateConfig = (count: number): unknown => ({
  users: Array.from({ length: count }, (_, index) => {
    const stackIndex = Math.floor(index / USERS_PER_STACK);
    return {
      userName: `bench-user-${String(index + 1).padStart(3, '0')}`,
      createUser: index % 2 === 0,
      schedule: 'rate(30 days)',
      window: '4h',
      ...(stackIndex === 0 ? {} : { stack: `IamKeyRotation-${String(stackIndex + 1)}` }),
    };
  }),
});

const run = (
  command: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: {
        ...process.env,
        CDK_DISABLE_VERSION_CHECK: '1',
        CDK_DISABLE_CLI_TELEMETRY: 'true',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code: code ?? 1, stderr });
    });
  });

export const synthesize = async (users: number): Promise<SynthResult> => {
  const work = makeTempDir(`synth-${String(users)}`);
  const configFile = path.join(work, 'config.json');
  const outDir = path.join(work, 'cdk.out');
  writeFileSync(configFile, JSON.stringify(generateConfig(users), null, 2));
  const app = `${projectPath('node_modules', '.bin', 'tsx')} ${projectPath('bin', 'app.ts')}`;
  const startedAt = performance.now();
  const { code, stderr } = await run(
    projectPath('node_modules', '.bin', 'cdk'),
    [
      'synth',
      '--no-notices',
      '-q',
      '--app',
      app,
      '--output',
      outDir,
      '-c',
      `iamKeyRotationConfigFile=${configFile}`,
    ],
    work,
  );
  const wallMs = performance.now() - startedAt;
  if (code !== 0) {
    throw new Error(
      `cdk synth with ${String(users)} users exited ${String(code)}: ${stderr.slice(-2_000)}`,
    );
  }
  const resourcesPerStack = new Map<string, number>();
  for (const file of readdirSync(outDir).filter((name) => name.endsWith('.template.json'))) {
    const template = JSON.parse(readFileSync(path.join(outDir, file), 'utf8')) as {
      Resources?: Record<string, unknown>;
    };
    resourcesPerStack.set(
      file.replace(/\.template\.json$/, ''),
      Object.keys(template.Resources ?? {}).length,
    );
  }
  return { users, wallMs, resourcesPerStack, outDir };
};

export const synthRows = (results: readonly SynthResult[]): BenchRow[] =>
  results.map((result) => {
    const stacks = [...result.resourcesPerStack.entries()]
      .map(
        ([name, count]) =>
          `${name}: ${String(count)}${count > STACK_RESOURCE_LIMIT ? ' ⚠ OVER 500' : ''}`,
      )
      .join(', ');
    return {
      figure: `synth, ${String(result.users)} user${result.users === 1 ? '' : 's'}`,
      value: `${ms(result.wallMs)}; resources per stack: ${stacks}`,
      target: `report; ≤ ${String(STACK_RESOURCE_LIMIT)} resources per stack`,
      met: [...result.resourcesPerStack.values()].every((count) => count <= STACK_RESOURCE_LIMIT),
    };
  });

export const runSynthBenchmarks = async (): Promise<SynthResult[]> => {
  const results: SynthResult[] = [];
  for (const users of [1, 50, 200]) {
    progress(`cdk synth with ${String(users)} users`);
    results.push(await synthesize(users));
  }
  return results;
};
