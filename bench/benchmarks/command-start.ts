/**
 * The command's start: `iam-key-rotation --help`, and `credential-process` (which the AWS CLI and
 * SDKs start for every profile they resolve) against a 127.0.0.1 endpoint that answers
 * GetSecretValue, each a new `node` process timed by the parent, minus a bare `node -e ""`.
 * Today's built command (dist/cli, as `npm ci` builds it) beside the baseline's (main 0189c65:
 * TypeScript through tsx), interleaved in a rotating order after a warm-up; each figure a median.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { buildCommand, COMMAND_FILE, COMMAND_OUTDIR } from '../../scripts/build-command.js';
import type { BaselineCheckout } from '../support/baseline-checkout.js';
import { makeTempDir } from '../support/paths.js';
import { median, ms, progress } from '../support/stats.js';
import type { BenchRow } from '../support/table.js';

/** The most `credential-process` may take over a bare `node` (issue 17). */
export const CREDENTIAL_PROCESS_TARGET_MS = 150;

const ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_VALUE = JSON.stringify({
  UserName: 'ci-deployer',
  AccessKeyId: ACCESS_KEY_ID,
  SecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
});

/**
 * Answers every request as Secrets Manager answers GetSecretValue (AWSCURRENT) and, with the same
 * document, DescribeSecret: the tags that make the secret one of this project's (credential-process
 * checks them first).
 */
const startSecretsManager = (): Promise<{ server: Server; url: string }> =>
  new Promise((resolve, reject) => {
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(
          JSON.stringify({
            ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-key-rotation/ci-deployer-AbCdEf',
            Name: 'iam-key-rotation/ci-deployer',
            VersionId: '00000000-0000-4000-8000-000000000001',
            SecretString: SECRET_VALUE,
            VersionStages: ['AWSCURRENT'],
            CreatedDate: 1_764_000_000,
            Tags: [
              { Key: 'iam-key-rotation:user', Value: 'ci-deployer' },
              {
                Key: 'aws:cloudformation:stack-id',
                Value:
                  'arn:aws:cloudformation:us-east-1:123456789012:stack/IamKeyRotation/00000000-0000-4000-8000-000000000000',
              },
            ],
          }),
        );
      });
    });
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${String(port)}` });
    });
  });

interface TimedCommand {
  readonly name: string;
  readonly args: readonly string[];
  /** What stdout must contain (checked at every run). */
  readonly expect?: string;
}

const timeOnce = (command: TimedCommand, env: NodeJS.ProcessEnv): Promise<number> =>
  new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn(process.execPath, [...command.args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const elapsed = performance.now() - startedAt;
      if (code !== 0 || (command.expect !== undefined && !stdout.includes(command.expect))) {
        reject(
          new Error(`${command.name} exited ${String(code)}: ${stderr.slice(-1_000) || stdout}`),
        );
      } else {
        resolve(elapsed);
      }
    });
  });

export interface CommandStartResult {
  readonly runs: number;
  readonly bareNodeMs: number;
  readonly helpMs: number;
  readonly credentialProcessMs: number;
  readonly baselineHelpMs: number;
  readonly baselineCredentialProcessMs: number;
  readonly baselineCommit: string;
}

export const measureCommandStart = async (
  baseline: BaselineCheckout,
  options: { runs?: number; warmups?: number } = {},
): Promise<CommandStartResult> => {
  progress('building the command as npm ci does (scripts/build-command.ts)');
  await buildCommand();
  const command = path.join(COMMAND_OUTDIR, COMMAND_FILE);
  const { server, url } = await startSecretsManager();
  const home = makeTempDir('command-start');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAI44QH8DHBEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'bench-not-a-secret',
    AWS_ENDPOINT_URL: url,
    AWS_CONFIG_FILE: path.join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const credentialProcess = ['credential-process', 'ci-deployer'];
  const commands: TimedCommand[] = [
    { name: 'bare node', args: ['-e', ''] },
    { name: 'help', args: [command, '--help'], expect: 'Usage: iam-key-rotation' },
    { name: 'credential-process', args: [command, ...credentialProcess], expect: ACCESS_KEY_ID },
    {
      name: 'baseline help',
      args: [baseline.commandEntry, '--help'],
      expect: 'Usage: iam-key-rotation',
    },
    {
      name: 'baseline credential-process',
      args: [baseline.commandEntry, ...credentialProcess],
      expect: ACCESS_KEY_ID,
    },
  ];
  const runs = options.runs ?? 15;
  const warmups = options.warmups ?? 2;
  const samples = commands.map(() => [] as number[]);
  progress(`command start: ${String(warmups)} warm-up and ${String(runs)} measured rounds`);
  try {
    for (let round = 0; round < warmups + runs; round += 1) {
      for (let offset = 0; offset < commands.length; offset += 1) {
        const index = (round + offset) % commands.length;
        const timed = commands[index];
        if (timed === undefined) continue;
        const elapsed = await timeOnce(timed, env);
        if (round >= warmups) samples[index]?.push(elapsed);
      }
    }
  } finally {
    server.close();
    server.closeAllConnections();
  }
  const at = (index: number): number => median(samples[index] ?? []);
  return {
    runs,
    bareNodeMs: at(0),
    helpMs: at(1),
    credentialProcessMs: at(2),
    baselineHelpMs: at(3),
    baselineCredentialProcessMs: at(4),
    baselineCommit: baseline.commit,
  };
};

export const commandStartRows = (result: CommandStartResult): BenchRow[] => {
  const over = (value: number): number => value - result.bareNodeMs;
  const note = `medians of ${String(result.runs)}, bare node ${ms(result.bareNodeMs)}`;
  return [
    {
      figure:
        'command: credential-process (new node process, one GetSecretValue on 127.0.0.1), minus bare node',
      value: `${ms(over(result.credentialProcessMs))} (${ms(result.credentialProcessMs)}; ${note})`,
      target: `≤ ${String(CREDENTIAL_PROCESS_TARGET_MS)} ms`,
      peer: `before (${result.baselineCommit}, tsx): ${ms(over(result.baselineCredentialProcessMs))} (${ms(result.baselineCredentialProcessMs)})`,
      met: over(result.credentialProcessMs) <= CREDENTIAL_PROCESS_TARGET_MS,
    },
    {
      figure: 'command: --help, minus bare node',
      value: `${ms(over(result.helpMs))} (${ms(result.helpMs)}; ${note})`,
      target: 'report',
      peer: `before (${result.baselineCommit}, tsx): ${ms(over(result.baselineHelpMs))} (${ms(result.baselineHelpMs)})`,
    },
  ];
};
