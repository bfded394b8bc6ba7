/**
 * `cdk synth` wall time and resources per stack for 1, 50 and 200 configured users, the scale
 * benchmark (1, 200 and 1,000 users: resources per stack and the characters of every role's
 * policies against IAM's quotas), and the rotation function's asset exactly as synth writes it.
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
import {
  MANAGED_POLICIES_PER_ROLE,
  MANAGED_POLICY_MAX_CHARS,
  ROLE_INLINE_POLICIES_MAX_CHARS,
  rolePolicyQuotaBreaches,
  rolePolicySizes,
  type RolePolicySizes,
  type TemplateJson,
} from '../../test/support/policy-size.js';

/** CloudFormation's limit of resources per stack. */
export const STACK_RESOURCE_LIMIT = 500;

export interface SynthResult {
  readonly users: number;
  readonly wallMs: number;
  readonly resourcesPerStack: ReadonlyMap<string, number>;
  /**
   * Per stack, the characters of the rotation function role's policies (inline and overflow
   * managed), as minified JSON, which is how IAM counts them (without white space).
   */
  /** Per stack, the worst-case IAM sizes of each role's policies (test/support/policy-size.ts). */
  readonly rolePolicySizesPerStack: ReadonlyMap<string, ReadonlyMap<string, RolePolicySizes>>;
  readonly outDir: string;
}

/**
 * A config of `count` users without `stack` (the app places them in stacks of 100 by itself),
 * half of them created by the stack, on one weekly schedule with a 24-hour window (spread).
 */
export const generateConfig = (count: number): unknown => ({
  users: Array.from({ length: count }, (_, index) => ({
    userName: `bench-user-${String(index + 1).padStart(4, '0')}`,
    createUser: index % 2 === 0,
    schedule: 'cron(0 0 ? * SUN *)',
  })),
});

/** The characters of the policies attached to the rotation function's role. */
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
  const rolePolicySizesPerStack = new Map<string, ReadonlyMap<string, RolePolicySizes>>();
  for (const file of readdirSync(outDir).filter((name) => name.endsWith('.template.json'))) {
    const template = JSON.parse(readFileSync(path.join(outDir, file), 'utf8')) as TemplateJson;
    const stackName = file.replace(/\.template\.json$/, '');
    resourcesPerStack.set(stackName, Object.keys(template.Resources).length);
    rolePolicySizesPerStack.set(stackName, rolePolicySizes(template));
  }
  return { users, wallMs, resourcesPerStack, rolePolicySizesPerStack, outDir };
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

/** The user counts of the scale benchmark (issue 11). */
export const SCALE_USER_COUNTS = [1, 200, 1000] as const;

/**
 * The scale benchmark: `cdk synth` of 1, 200 and 1,000 users without `stack` fields, each one
 * row with the wall time, the number of stacks, the largest stack's resources and the rotation
 * role's policy characters (largest stack).
 */
export const measureScale = async (): Promise<SynthResult[]> => {
  const results: SynthResult[] = [];
  for (const users of SCALE_USER_COUNTS) {
    progress(`cdk synth (scale) with ${String(users)} users`);
    results.push(await synthesize(users));
  }
  return results;
};

/** The rotation function's role of a stack's policy sizes (its logical id starts so). */
const rotationRole = (sizes: ReadonlyMap<string, RolePolicySizes>): RolePolicySizes => {
  const entry = [...sizes].find(([role]) => role.startsWith('RotationFunctionServiceRole'));
  if (entry === undefined) throw new Error('no RotationFunctionServiceRole in the template');
  return entry[1];
};

export const scaleRows = (results: readonly SynthResult[]): BenchRow[] =>
  results.map((result) => {
    const resources = [...result.resourcesPerStack.values()];
    const maxResources = Math.max(...resources);
    const rotationRoles = [...result.rolePolicySizesPerStack.values()].map(rotationRole);
    const inline = Math.max(...rotationRoles.map((role) => role.inline));
    const managed = Math.max(...rotationRoles.flatMap((role) => role.managed), 0);
    const managedCount = Math.max(...rotationRoles.map((role) => role.managed.length));
    const breaches = [...result.rolePolicySizesPerStack].flatMap(([stack, sizes]) =>
      rolePolicyQuotaBreaches(sizes).map((breach) => `${stack} ${breach}`),
    );
    return {
      figure: `scale: synth, ${String(result.users)} user${result.users === 1 ? '' : 's'}`,
      value:
        `${ms(result.wallMs)}; ${String(resources.length)} stack${resources.length === 1 ? '' : 's'}; ` +
        `resources per stack ${String(Math.min(...resources))}-${String(maxResources)}; ` +
        `rotation role (largest stack, worst-case ARNs): inline ${String(inline)} characters, ` +
        `${String(managedCount)} managed of at most ${String(managed)}` +
        (breaches.length > 0 ? `; ${breaches.join('; ')}` : '; every role within IAM quotas'),
      target: `< 60 s; ≤ ${String(STACK_RESOURCE_LIMIT)} resources per stack; each role: inline ≤ ${String(ROLE_INLINE_POLICIES_MAX_CHARS)}, managed ≤ ${String(MANAGED_POLICY_MAX_CHARS)} each, ≤ ${String(MANAGED_POLICIES_PER_ROLE)} managed`,
      met: result.wallMs < 60_000 && maxResources <= STACK_RESOURCE_LIMIT && breaches.length === 0,
    };
  });
