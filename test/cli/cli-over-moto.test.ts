import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { CreateRoleCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  RotateSecretCommand,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromProcess } from '@aws-sdk/credential-provider-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESTED_STAGE } from '../../lambda/rotation/binding.js';
import type { StatusRow } from '../../cli/commands/status.js';
import { BINDING_TAG_KEY, CURRENT_KEY_TAG_KEY } from '../../lambda/rotation/binding.js';
import {
  CLI_ENTRY,
  motoCliEnvironment,
  PROJECT_ROOT,
  runCliProcess,
  startCli,
  type CliRun,
} from '../support/cli-process.js';
import { AuthenticatedDeployment } from '../support/moto/authenticated-deployment.js';
import {
  invokeStep,
  MotoAws,
  REGION,
  ROTATION_STEPS,
  type AccessKeyPair,
} from '../support/moto/moto-aws.js';
import { MOTO_ACCOUNT_ID } from '../support/moto/moto-server.js';
import { tagOwner } from '../support/moto/operator-actions.js';

/**
 * The `iam-key-rotation` command as a user runs it (`node dist/cli/iam-key-rotation.mjs`, the file of
 * package.json `bin`), against moto over HTTP with request authentication on: the command signs
 * as an operator whose only policy allows the calls the README says it makes, and the rotations
 * it starts are carried out by the bundled rotation function, invoked step by step by the test as
 * Secrets Manager would (the launcher's RotateSecret creates the AWSPENDING version and returns,
 * see moto-server-with-resource-arns.py). The test also plays the Lambda runtime's part of
 * shipping the function's log lines to CloudWatch Logs: each step's outcome, with the error the
 * bundled handler threw, in the function's JSON format.
 */
const HEALTHY = 'healthy-user';
const ROTATING = 'rotating-user';
const STUCK = 'stuck-user';
const MISMATCHED = 'mismatched-user';
const ROLLED_BACK = 'rollback-user';
const CANCELLED = 'cancel-user';
const FAILING = 'failing-user';
const CREDENTIALS = 'credentials-user';
const NEVER_ROTATED = 'never-rotated-user';
const USERS = [
  HEALTHY,
  ROTATING,
  STUCK,
  MISMATCHED,
  ROLLED_BACK,
  CANCELLED,
  FAILING,
  CREDENTIALS,
  NEVER_ROTATED,
];

const FUNCTION_NAME = 'IamKeyRotation-RotationFunction';
const LOG_GROUP = `/aws/lambda/${FUNCTION_NAME}`;
const LOG_STREAM = '2026/11/28/[$LATEST]0123456789abcdef';

/** What the README's "Operate it" says the command calls; nothing else is allowed. */
const OPERATOR_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: [
        'secretsmanager:ListSecrets',
        'secretsmanager:DescribeSecret',
        'secretsmanager:ListSecretVersionIds',
        'secretsmanager:GetSecretValue',
        'secretsmanager:RotateSecret',
        'secretsmanager:UpdateSecretVersionStage',
        'secretsmanager:PutSecretValue',
        'secretsmanager:TagResource',
        'iam:GetUser',
        'iam:ListAccessKeys',
        'iam:GetAccessKeyLastUsed',
        'iam:UpdateAccessKey',
        'iam:DeleteAccessKey',
        'lambda:GetFunctionConfiguration',
        'logs:FilterLogEvents',
      ],
      Resource: '*',
    },
  ],
};

interface World {
  readonly deployment: AuthenticatedDeployment;
  readonly admin: MotoAws;
  readonly lambda: LambdaClient;
  readonly logs: CloudWatchLogsClient;
  readonly functionArn: string;
  readonly operatorKey: AccessKeyPair;
  readonly scratchDir: string;
}

let world: World | undefined;
const given = (): World => {
  if (world === undefined) throw new Error('beforeAll did not complete');
  return world;
};

const env = (): Record<string, string> =>
  motoCliEnvironment(given().deployment.moto.endpoint, given().operatorKey, given().scratchDir);

/** `node dist/cli/iam-key-rotation.mjs <args>`, run from a directory outside the checkout. */
const cli = (...args: string[]): Promise<CliRun> =>
  runCliProcess(args, env(), { cwd: given().scratchDir });

const secretOf = (userName: string): string => given().deployment.secretOf(userName);
const stagesOf = async (userName: string): Promise<Record<string, string[]>> => {
  const stages = await given().admin.versionStages(secretOf(userName));
  return Object.fromEntries(
    Object.entries(stages)
      .filter(([, labels]) => labels.length > 0)
      .map(([id, labels]) => [id, [...labels].sort()]),
  );
};
const keyIdIn = async (userName: string, stage: string): Promise<string> =>
  String((await given().admin.secretValue(secretOf(userName), stage)).AccessKeyId);

/**
 * The tag iam-key-rotation:current-key as finishSecret records it when AWSCURRENT moves, set by
 * the administrator only when the bundled function did not set it.
 */
const recordCurrentKeyUnlessRecorded = async (userName: string): Promise<void> => {
  const secretArn = secretOf(userName);
  const { Tags = [], VersionIdsToStages = {} } = await given().admin.secrets.send(
    new DescribeSecretCommand({ SecretId: secretArn }),
  );
  const current = Object.entries(VersionIdsToStages).find(([, stages]) =>
    stages.includes('AWSCURRENT'),
  )?.[0];
  const recorded = Tags.find((tag) => tag.Key === CURRENT_KEY_TAG_KEY)?.Value;
  if (current === undefined || recorded?.startsWith(`${current}:`) === true) return;
  await given().admin.secrets.send(
    new TagResourceCommand({
      SecretId: secretArn,
      Tags: [
        { Key: CURRENT_KEY_TAG_KEY, Value: `${current}:${await keyIdIn(userName, 'AWSCURRENT')}` },
      ],
    }),
  );
};

/** One line of the function's log, as its Powertools logger writes it, into CloudWatch Logs. */
const shipLogLine = async (
  secretArn: string,
  token: string,
  step: string,
  fields: Record<string, unknown>,
): Promise<void> => {
  const message = JSON.stringify({
    timestamp: new Date().toISOString(),
    service: 'iam-key-rotation',
    secretId: secretArn,
    step,
    clientRequestToken: token,
    ...fields,
  });
  await given().logs.send(
    new PutLogEventsCommand({
      logGroupName: LOG_GROUP,
      logStreamName: LOG_STREAM,
      logEvents: [{ timestamp: Date.now(), message }],
    }),
  );
};

/**
 * Invokes the steps of the rotation `token` with the bundled handler, as Secrets Manager does,
 * shipping each outcome to the log group. Stops at the first failure and returns it.
 */
const driveRotation = async (
  userName: string,
  token: string,
  options: {
    beforeStep?: (step: (typeof ROTATION_STEPS)[number]) => Promise<void>;
    pauseMs?: number;
  } = {},
): Promise<Error | undefined> => {
  const secretArn = secretOf(userName);
  for (const step of ROTATION_STEPS) {
    await options.beforeStep?.(step);
    try {
      await invokeStep(given().deployment.handler, step, secretArn, token);
      await shipLogLine(secretArn, token, step, { level: 'INFO', message: `${step}: done` });
    } catch (error) {
      const failure = error as Error;
      await shipLogLine(secretArn, token, step, {
        level: 'ERROR',
        message: `${step}: failed`,
        error: { name: failure.name, message: failure.message },
      });
      return failure;
    }
    if (options.pauseMs !== undefined)
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
  }
  return undefined;
};

/** The AWSPENDING version a RotateSecret made (by the command, in another process). */
const waitForNewPendingVersion = async (
  userName: string,
  known: ReadonlySet<string>,
): Promise<string> => {
  const giveUpAt = Date.now() + 30_000;
  while (Date.now() < giveUpAt) {
    const stages = await stagesOf(userName);
    const token = Object.entries(stages).find(
      ([id, labels]) =>
        labels.includes('AWSPENDING') && !labels.includes('AWSCURRENT') && !known.has(id),
    )?.[0];
    if (token !== undefined) return token;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`No new AWSPENDING version of ${userName} appeared`);
};

/** RotateSecret as the administrator (with the deployed function), then every step. */
const rotateByAdmin = async (userName: string, configure = false): Promise<string> => {
  const output = await given().admin.secrets.send(
    new RotateSecretCommand({
      SecretId: secretOf(userName),
      ...(configure
        ? { RotationLambdaARN: given().functionArn, RotationRules: { AutomaticallyAfterDays: 30 } }
        : {}),
    }),
  );
  const token = output.VersionId ?? '';
  const failure = await driveRotation(userName, token);
  if (failure !== undefined) throw failure;
  await recordCurrentKeyUnlessRecorded(userName);
  return token;
};

/** A zip holding one file, as CreateFunction wants its code. */
const functionZip = (): Buffer =>
  execFileSync('python3', [
    '-c',
    'import io,sys,zipfile\nb=io.BytesIO()\nz=zipfile.ZipFile(b,"w")\nz.writestr("index.mjs","export const handler = async () => {};")\nz.close()\nsys.stdout.buffer.write(b.getvalue())',
  ]);

beforeAll(async () => {
  const deployment = await AuthenticatedDeployment.start({
    config: {
      users: USERS.map((userName) => ({ userName, createUser: true, schedule: 'rate(30 days)' })),
    },
    templateSecretNames: true,
    versionCreatedDates: true,
  });
  const scratchDir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-cli-'));
  try {
    const { admin } = deployment;
    // The harness's own administrator for Lambda and CloudWatch Logs.
    await admin.createUser('cli-harness-admin');
    await admin.putUserPolicy('cli-harness-admin', 'everything', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
    });
    const adminKey = await admin.createAccessKey('cli-harness-admin');
    const config = {
      endpoint: deployment.moto.endpoint,
      region: REGION,
      credentials: adminKey,
      maxAttempts: 1,
    };
    const lambda = new LambdaClient(config);
    const logs = new CloudWatchLogsClient(config);
    // The operator who runs the command.
    await admin.createUser('operator');
    await admin.putUserPolicy('operator', 'iam-key-rotation-command', OPERATOR_POLICY);
    const operatorKey = await admin.createAccessKey('operator');
    // The rotation function as deployed (moto never runs it) and its log group.
    const role = await admin.iam.send(
      new CreateRoleCommand({
        RoleName: 'rotation-function-role',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'lambda.amazonaws.com' },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
      }),
    );
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: FUNCTION_NAME,
        Runtime: 'nodejs22.x',
        Role: role.Role?.Arn,
        Handler: 'index.handler',
        Code: { ZipFile: functionZip() },
      }),
    );
    await logs.send(new CreateLogGroupCommand({ logGroupName: LOG_GROUP }));
    await logs.send(
      new CreateLogStreamCommand({ logGroupName: LOG_GROUP, logStreamName: LOG_STREAM }),
    );
    world = {
      deployment,
      admin,
      lambda,
      logs,
      functionArn: created.FunctionArn ?? '',
      operatorKey,
      scratchDir,
    };
    // The rotation schedules' first rotations, by the deployed function.
    for (const userName of USERS) {
      if (userName !== NEVER_ROTATED) await rotateByAdmin(userName, true);
    }
  } catch (error) {
    rmSync(scratchDir, { recursive: true, force: true });
    await deployment.dispose();
    world = undefined;
    throw error;
  }
}, 180_000);

afterAll(async () => {
  if (world === undefined) return;
  world.lambda.destroy();
  world.logs.destroy();
  rmSync(world.scratchDir, { recursive: true, force: true });
  await world.deployment.dispose();
});

describe('iam-key-rotation, spawned as a user runs it, against moto', () => {
  describe('Usage', () => {
    it('prints the help of every command with exit 0, and exits 2 on a usage error', async () => {
      // Act
      const helps = await Promise.all(
        ['status', 'rotate', 'rollback', 'cancel', 'credential-process'].map((command) =>
          cli(command, '--help'),
        ),
      );
      const usage = await cli('rotate', '--timeout', 'soon', HEALTHY);

      // Assert
      for (const help of helps) {
        expect(help).toMatchObject({ code: 0, stderr: '' });
        expect(help.stdout).toMatch(/^Usage: iam-key-rotation [a-z-]+ /);
      }
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain(
        "error: option '--timeout <duration>' argument 'soon' is invalid",
      );
      expect(usage.stdout).toBe('');
    });

    it('runs as `npx iam-key-rotation` in the checkout (package.json bin)', async () => {
      // Arrange: an npm cache of its own, as on an operator's machine that never ran npx here (a
      // shared cache can hold a half-written entry for the name, left by a run that was killed).
      // npx links the checkout into that cache; without scripts, it does not run the checkout's
      // `prepare` again (a rebuild of dist/cli, which npm ci and the global setup have built,
      // under the commands other tests run meanwhile): it runs the bin as built.
      const npmCache = path.join(given().scratchDir, 'npm-cache');
      // Act
      const run = await runCliProcess(
        ['--help'],
        {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? given().scratchDir,
          npm_config_cache: npmCache,
          npm_config_ignore_scripts: 'true',
        },
        {
          command: ['npx', '--no-install', 'iam-key-rotation'],
        },
      );

      // Assert
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Usage: iam-key-rotation [options] [command]');
    });
  });

  describe('status', () => {
    it('judges a healthy, a rotating, a stuck and a mismatched secret', async () => {
      // Arrange: pending rotations (RotateSecret without its steps yet), and a user claimed by
      // another secret
      const { admin } = given();
      await admin.secrets.send(new RotateSecretCommand({ SecretId: secretOf(STUCK) }));
      await admin.secrets.send(new RotateSecretCommand({ SecretId: secretOf(ROTATING) }));
      const otherSecret = `arn:aws:secretsmanager:eu-west-1:${MOTO_ACCOUNT_ID}:secret:iam-key-rotation/${MISMATCHED}-XyZ123`;
      await tagOwner(admin, MISMATCHED, otherSecret);
      const healthyKey = await keyIdIn(HEALTHY, 'AWSCURRENT');
      const startedAt = Date.now();

      // Act
      const all = await cli('status', '--json');
      const table = await cli('status', HEALTHY, ROTATING, STUCK, MISMATCHED);
      const fine = await cli('status', HEALTHY, ROTATING);
      // Version dates have second precision: make the stuck one at least 2 s old.
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, startedAt + 2_100 - Date.now())),
      );
      const stuck = await cli('status', STUCK, '--stuck-after', '1s');

      // Assert
      expect(all.code).toBe(1);
      const rows = (JSON.parse(all.stdout) as { secrets: StatusRow[] }).secrets;
      const verdictOf = (userName: string): readonly string[] | undefined =>
        rows.find((row) => row.userName === userName)?.verdicts;
      expect(verdictOf(HEALTHY)).toEqual(['ok']);
      expect(verdictOf(ROTATING)).toEqual(['rotating']);
      expect(verdictOf(STUCK)).toEqual(['rotating']);
      expect(verdictOf(MISMATCHED)).toEqual(['ownership mismatch']);
      expect(verdictOf(NEVER_ROTATED)).toEqual(['no key yet', 'rotation disabled']);
      expect(rows.find((row) => row.userName === HEALTHY)).toMatchObject({
        secretName: `iam-key-rotation/${HEALTHY}`,
        rotationEnabled: true,
        currentKey: { accessKeyId: healthyKey, status: 'Active' },
      });

      expect(table.code).toBe(1);
      expect(table.stdout.split('\n')[0]).toMatch(
        /^USER\s+CURRENT KEY\s+AGE\s+LAST USED\s+PREVIOUS KEY\s+ROTATED\s+NEXT\s+VERDICT$/,
      );
      expect(table.stdout).toMatch(
        // Ages are in their largest whole unit; a loaded machine may take over a minute to get here.
        new RegExp(`${HEALTHY}\\s+${healthyKey}\\s+\\d+[smh]\\s+\\S.*\\s+ok\\n`),
      );
      expect(table.stdout).toMatch(new RegExp(`${MISMATCHED}\\s.*ownership mismatch\\n`));
      expect(table.stderr).toContain(
        `${MISMATCHED}: ownership mismatch: IAM user ${MISMATCHED} is owned by secret ${otherSecret}`,
      );

      expect(fine).toMatchObject({ code: 0, stderr: '' });

      expect(stuck.code).toBe(1);
      expect(stuck.stdout).toMatch(new RegExp(`${STUCK}\\s.*stuck \\d+[smh]\\n`));
      expect(stuck.stderr).toContain(`Give it up: iam-key-rotation cancel ${STUCK}`);
    });
  });

  describe('rollback', () => {
    it('rolls back to the AWSPREVIOUS key, then a rotation started by the command succeeds', async () => {
      // Arrange: a second rotation, so AWSPREVIOUS holds the first key
      const firstToken = await stagesOf(ROLLED_BACK);
      const firstVersion =
        Object.entries(firstToken).find(([, labels]) => labels.includes('AWSCURRENT'))?.[0] ?? '';
      const rolledBackTo = await keyIdIn(ROLLED_BACK, 'AWSCURRENT');
      const secondVersion = await rotateByAdmin(ROLLED_BACK);
      const rolledBackFrom = await keyIdIn(ROLLED_BACK, 'AWSCURRENT');

      // Act: without a terminal and without --yes it refuses; with --yes it rolls back
      const refused = await cli('rollback', ROLLED_BACK);
      const stagesAfterRefusal = await stagesOf(ROLLED_BACK);
      const rollback = await cli('rollback', ROLLED_BACK, '--yes', '--step-timeout', '1s');

      // Assert
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(
        `Run again with --yes: iam-key-rotation rollback ${ROLLED_BACK} --yes`,
      );
      expect(stagesAfterRefusal[firstVersion]).toEqual(['AWSPREVIOUS']);
      expect(rollback.code).toBe(0);
      expect(rollback.stdout).toContain(
        `Rolled back iam-key-rotation/${ROLLED_BACK}: AWSCURRENT holds access key ${rolledBackTo} again, in the new version `,
      );
      expect(rollback.stderr).toContain(`reactivate access key ${rolledBackTo}`);
      const stagesAfterRollback = await stagesOf(ROLLED_BACK);
      const rolledBackVersion =
        Object.entries(stagesAfterRollback).find(([, labels]) =>
          labels.includes('AWSCURRENT'),
        )?.[0] ?? '';
      expect(rolledBackVersion).not.toBe(firstVersion);
      // testSecret's mark of the version it proved stays where it was
      expect(stagesAfterRollback[secondVersion]).toEqual(['AWSPREVIOUS', TESTED_STAGE]);
      expect(await keyIdIn(ROLLED_BACK, 'AWSCURRENT')).toBe(rolledBackTo);
      expect(await given().admin.listKeys(ROLLED_BACK)).toEqual(
        expect.arrayContaining([
          { accessKeyId: rolledBackTo, status: 'Active' },
          { accessKeyId: rolledBackFrom, status: 'Active' },
        ]),
      );

      // Act: status right after the rollback. The key rolled back from signed requests while it
      // was AWSCURRENT (testSecret signed with it), long after the key rolled back to was made.
      const afterRollback = await cli('status', ROLLED_BACK, '--json');

      // Assert
      const [row] = (JSON.parse(afterRollback.stdout) as { secrets: StatusRow[] }).secrets;
      expect(row?.currentKey?.accessKeyId).toBe(rolledBackTo);
      expect(row?.previousKey?.accessKeyId).toBe(rolledBackFrom);
      expect(row?.previousKey?.lastUsed?.date).toBeDefined();
      expect(row?.verdicts).not.toContain('old key still used');

      // Act: the next rotation, started and followed by the command
      const known = new Set(Object.keys(await stagesOf(ROLLED_BACK)));
      const rotate = startCli(['rotate', ROLLED_BACK, '--wait', '--timeout', '60'], env(), {
        cwd: given().scratchDir,
      });
      const token = await waitForNewPendingVersion(ROLLED_BACK, known);
      const failure = await driveRotation(ROLLED_BACK, token, { pauseMs: 300 });
      const run = await rotate.done;

      // Assert
      expect(failure).toBeUndefined();
      expect(run.code).toBe(0);
      const newKey = await keyIdIn(ROLLED_BACK, 'AWSCURRENT');
      expect(run.stdout).toMatch(
        new RegExp(
          `^Rotated iam-key-rotation/${ROLLED_BACK}: access key ${newKey} is AWSCURRENT; ${rolledBackTo} is AWSPREVIOUS\\. Took \\d+\\.\\d s\\.\\n$`,
        ),
      );
      expect(run.stderr).toContain('log: INFO createSecret: done');
      expect(run.stderr).toContain('AWSCURRENT moved to the new version (finishSecret)');
      expect(await given().admin.listKeys(ROLLED_BACK)).toEqual(
        expect.arrayContaining([
          { accessKeyId: rolledBackTo, status: 'Inactive' },
          { accessKeyId: newKey, status: 'Active' },
        ]),
      );
      expect(
        (await given().admin.listKeys(ROLLED_BACK)).map((key) => key.accessKeyId),
      ).not.toContain(rolledBackFrom);
    });
  });

  describe('cancel', () => {
    it('gives up an incomplete rotation and deletes its key, then a rotation started by the command succeeds', async () => {
      // Arrange: a rotation whose createSecret made a key, then stopped (say, IAM kept failing)
      const { admin } = given();
      const currentKey = await keyIdIn(CANCELLED, 'AWSCURRENT');
      const output = await admin.secrets.send(
        new RotateSecretCommand({ SecretId: secretOf(CANCELLED) }),
      );
      const stalled = output.VersionId ?? '';
      await invokeStep(given().deployment.handler, 'createSecret', secretOf(CANCELLED), stalled);
      const stalledKey = String(
        (await admin.secretValue(secretOf(CANCELLED), 'AWSPENDING', stalled)).AccessKeyId,
      );

      // Act
      const refused = await cli('rotate', CANCELLED);
      const cancel = await cli('cancel', CANCELLED, '--yes', '--step-timeout', '1s');
      const again = await cli('cancel', CANCELLED, '--yes', '--step-timeout', '1s');

      // Assert
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `a previous rotation isn't complete (AWSPENDING is on version ${stalled}`,
      );
      expect(refused.stderr).toContain(`iam-key-rotation cancel ${CANCELLED}`);
      expect(cancel.code).toBe(0);
      expect(cancel.stdout).toContain(`deleted access key ${stalledKey}`);
      expect((await stagesOf(CANCELLED))[stalled]).toBeUndefined();
      expect(await admin.listKeys(CANCELLED)).toEqual([
        { accessKeyId: currentKey, status: 'Active' },
      ]);
      expect(again).toMatchObject({ code: 0 });
      expect(again.stdout).toContain('Nothing to cancel');

      // Act: a new rotation, started and followed by the command
      const known = new Set(Object.keys(await stagesOf(CANCELLED)));
      const rotate = startCli(['rotate', CANCELLED, '--wait', '--json'], env(), {
        cwd: given().scratchDir,
      });
      const token = await waitForNewPendingVersion(CANCELLED, known);
      expect(await driveRotation(CANCELLED, token)).toBeUndefined();
      const run = await rotate.done;

      // Assert
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({
        outcome: 'rotated',
        clientRequestToken: token,
        accessKeyId: await keyIdIn(CANCELLED, 'AWSCURRENT'),
        previousAccessKeyId: currentKey,
      });
    });
  });

  describe('rotate --wait', () => {
    it("fails with exit 1 and prints the function's error when the rotation gives itself up", async () => {
      // Arrange: someone deactivates the new key right after createSecret made it
      const { admin } = given();
      const known = new Set(Object.keys(await stagesOf(FAILING)));
      const rotate = startCli(['rotate', FAILING, '--wait', '--timeout', '60'], env(), {
        cwd: given().scratchDir,
      });
      const token = await waitForNewPendingVersion(FAILING, known);

      // Act
      const failure = await driveRotation(FAILING, token, {
        beforeStep: async (step) => {
          if (step !== 'setSecret') return;
          const pendingKey = String(
            (await admin.secretValue(secretOf(FAILING), 'AWSPENDING', token)).AccessKeyId,
          );
          await admin.iam.send(
            new UpdateAccessKeyCommand({
              UserName: FAILING,
              AccessKeyId: pendingKey,
              Status: 'Inactive',
            }),
          );
        },
      });
      const run = await rotate.done;

      // Assert
      expect(failure?.name).toBe('RotationGivenUpError');
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(
        'log: ERROR setSecret: failed: RotationGivenUpError: setSecret: gave up this rotation',
      );
      expect(run.stderr).toMatch(
        new RegExp(
          `Rotation of iam-key-rotation/${FAILING} version ${token} failed after \\d+\\.\\d s: RotationGivenUpError: setSecret: gave up this rotation: access key \\w+ of IAM user ${FAILING} is Inactive`,
        ),
      );
    });
  });

  describe('credential-process', () => {
    it("hands the AWSCURRENT key to the AWS SDK's own fromProcess provider, which signs with it", async () => {
      // Arrange: a profile whose credential_process runs the command with the operator's key
      const { deployment, scratchDir } = given();
      const configFile = path.join(scratchDir, 'aws-config');
      const commandEnvironment = Object.entries(env())
        .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
        .join(' ');
      writeFileSync(
        configFile,
        `[profile rotated]\ncredential_process = env -i ${commandEnvironment} ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_ENTRY)} credential-process ${CREDENTIALS}\n`,
      );
      const direct = await cli('credential-process', CREDENTIALS);
      const noKey = await cli('credential-process', NEVER_ROTATED);

      // Act
      const credentials = await fromProcess({
        profile: 'rotated',
        configFilepath: configFile,
        filepath: path.join(scratchDir, 'no-aws-credentials'),
      })();
      const sts = new STSClient({
        endpoint: deployment.moto.endpoint,
        region: REGION,
        credentials,
        maxAttempts: 1,
      });
      const caller = await sts.send(new GetCallerIdentityCommand({})).finally(() => {
        sts.destroy();
      });

      // Assert
      expect(direct.code).toBe(0);
      expect(direct.stderr).toBe('');
      expect(Object.keys(JSON.parse(direct.stdout) as object)).toEqual([
        'Version',
        'AccessKeyId',
        'SecretAccessKey',
      ]);
      expect(credentials.accessKeyId).toBe(await keyIdIn(CREDENTIALS, 'AWSCURRENT'));
      expect(caller.Arn).toBe(`arn:aws:iam::${MOTO_ACCOUNT_ID}:user/${CREDENTIALS}`);
      expect(noKey.code).toBe(1);
      expect(noKey.stdout).toBe('');
      expect(noKey.stderr).toContain(
        `Secret iam-key-rotation/${NEVER_ROTATED} holds no access key yet`,
      );
    });

    it('never prints a secret access key from any other command', async () => {
      // Arrange
      const secretKeys = await Promise.all(
        [HEALTHY, CREDENTIALS].map(async (userName) =>
          String(
            (await given().admin.secretValue(secretOf(userName), 'AWSCURRENT')).SecretAccessKey,
          ),
        ),
      );

      // Act
      const runs = await Promise.all([
        cli('status'),
        cli('status', '--json'),
        cli('cancel', HEALTHY, '--json'),
      ]);

      // Assert
      for (const run of runs) {
        for (const secretKey of secretKeys)
          expect(run.stdout + run.stderr).not.toContain(secretKey);
      }
    });
  });

  describe('credential-process on a secret this project does not manage', () => {
    it('exits 1 with nothing on stdout and one line on stderr, though the secret holds a working key', async () => {
      // Arrange: a look-alike with the stack's own tags but no CloudFormation tags, holding a
      // working key of a stack user (say, copied there by someone who may create secrets)
      const { admin } = given();
      const key = await admin.createAccessKey(HEALTHY);
      const lookAlike = await admin.secrets.send(
        new CreateSecretCommand({
          Name: `${HEALTHY}-copy`,
          SecretString: JSON.stringify({
            UserName: HEALTHY,
            AccessKeyId: key.accessKeyId,
            SecretAccessKey: key.secretAccessKey,
          }),
          Tags: [{ Key: BINDING_TAG_KEY, Value: HEALTHY }],
        }),
      );
      const namedLikeTheStack = await admin.secrets.send(
        new CreateSecretCommand({
          Name: 'iam-key-rotation/look-alike-user',
          SecretString: JSON.stringify({
            UserName: 'look-alike-user',
            AccessKeyId: key.accessKeyId,
            SecretAccessKey: key.secretAccessKey,
          }),
          Tags: [{ Key: BINDING_TAG_KEY, Value: 'look-alike-user' }],
        }),
      );

      // Act
      const runs = await Promise.all([
        cli('credential-process', lookAlike.ARN ?? ''),
        cli('credential-process', 'look-alike-user'),
        cli('credential-process', namedLikeTheStack.ARN ?? ''),
      ]);

      // Assert
      for (const run of runs) {
        expect(run.code).toBe(1);
        expect(run.stdout).toBe('');
        expect(run.stderr.split('\n')).toHaveLength(2);
        expect(run.stderr.endsWith('\n')).toBe(true);
        expect(run.stderr).not.toContain(key.secretAccessKey);
      }
      expect(runs[0].stderr).toContain(
        `is named ${HEALTHY}-copy, but its tag iam-key-rotation:user names IAM user ${HEALTHY}`,
      );
      expect(runs[1].stderr).toContain('has no tag aws:cloudformation:stack-id');
      expect(runs[2].stderr).toContain('has no tag aws:cloudformation:stack-id');
    });
  });

  describe('status --config', () => {
    it('has one row per configured user, and a user whose secret does not exist is a finding (exit 1)', async () => {
      // Arrange: a configuration naming a deployed user and one never deployed
      const file = path.join(given().scratchDir, 'users.json');
      writeFileSync(
        file,
        JSON.stringify({
          users: [
            { userName: HEALTHY, schedule: 'rate(30 days)' },
            { userName: 'never-deployed-user', schedule: 'rate(30 days)' },
          ],
        }),
      );

      // Act
      const run = await cli('status', '--config', file);

      // Assert
      expect(run.code).toBe(1);
      const rows = run.stdout.trimEnd().split('\n').slice(1);
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatch(new RegExp(`^${MOTO_ACCOUNT_ID}\\s+us-east-1\\s+${HEALTHY}\\s`));
      expect(rows[1]).toMatch(/never-deployed-user\s.*missing secret$/);
      expect(run.stderr).toContain(
        'never-deployed-user: missing secret: No secret iam-key-rotation/never-deployed-user was found in region us-east-1, account 123456789012',
      );
    });
  });

  describe("the SDK's profile warning", () => {
    it('is not printed with --profile while AWS_ACCESS_KEY_ID is set, and credential-process keeps stderr empty', async () => {
      // Arrange: a profile with the operator's key, and the environment's key set as well
      const { scratchDir, operatorKey } = given();
      const credentialsFile = path.join(scratchDir, 'operator-credentials');
      writeFileSync(
        credentialsFile,
        `[ops]\naws_access_key_id = ${operatorKey.accessKeyId}\naws_secret_access_key = ${operatorKey.secretAccessKey}\n`,
      );
      const environment = { ...env(), AWS_SHARED_CREDENTIALS_FILE: credentialsFile };
      const run = (...args: string[]): Promise<CliRun> =>
        runCliProcess(args, environment, { cwd: scratchDir });

      // Act
      const status = await run('status', HEALTHY, '--profile', 'ops');
      const credentials = await run('credential-process', CREDENTIALS, '--profile', 'ops');
      const missing = await run('status', 'nobody', '--profile', 'ops');

      // Assert
      expect(status).toMatchObject({ code: 0, stderr: '' });
      expect(credentials).toMatchObject({ code: 0, stderr: '' });
      expect(missing.stderr).not.toContain('Multiple credential sources');
      expect(missing.stderr).toContain(
        'No secret iam-key-rotation/nobody was found in region us-east-1, account 123456789012, profile ops',
      );
    });
  });

  describe('docs/organization.md, as written', () => {
    it('creates the read-only status role with its commands, and status reads through it without GetSecretValue', async () => {
      // Arrange: the page's role commands, run with the AWS CLI against moto as the account's
      // administrator; the operator may only assume the role (the page's operator policy)
      const { admin, deployment, scratchDir } = given();
      const page = readFileSync(path.join(PROJECT_ROOT, 'docs', 'organization.md'), 'utf8');
      const roleCommands = [...page.matchAll(/```sh[^\n]*\n([\s\S]*?)```/g)]
        .map((match) => match[1] ?? '')
        .find((block) => block.includes('aws iam create-role'));
      expect(roleCommands).toBeDefined();
      await admin.createUser('org-operator');
      await admin.putUserPolicy(
        'org-operator',
        'assume-iam-key-rotation-status',
        JSON.parse(
          readFileSync(
            path.join(PROJECT_ROOT, 'docs', 'organization-operator-assume-policy.json'),
            'utf8',
          ),
        ) as object,
      );
      const orgOperatorKey = await admin.createAccessKey('org-operator');
      // The trust policy edited as the page says: the operators' principal (here a user) and
      // the external id kept; moto knows no organization, so aws:PrincipalOrgID is left out.
      const pageDir = path.join(scratchDir, 'organization-page');
      mkdirSync(path.join(pageDir, 'docs'), { recursive: true });
      const trust = JSON.parse(
        readFileSync(
          path.join(PROJECT_ROOT, 'docs', 'organization-status-role-trust.json'),
          'utf8',
        ),
      ) as {
        Statement: {
          Principal: { AWS: string[] };
          Condition: { StringEquals: Record<string, string> };
        }[];
      };
      for (const statement of trust.Statement) {
        statement.Principal.AWS = [`arn:aws:iam::${MOTO_ACCOUNT_ID}:user/org-operator`];
        delete statement.Condition.StringEquals['aws:PrincipalOrgID'];
      }
      writeFileSync(
        path.join(pageDir, 'docs', 'organization-status-role-trust.json'),
        JSON.stringify(trust),
      );
      copyFileSync(
        path.join(PROJECT_ROOT, 'docs', 'organization-status-role-policy.json'),
        path.join(pageDir, 'docs', 'organization-status-role-policy.json'),
      );
      const adminKey = await admin.secrets.config.credentials();
      execFileSync('bash', ['-euc', roleCommands ?? 'false'], {
        cwd: pageDir,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: scratchDir,
          AWS_ENDPOINT_URL: deployment.moto.endpoint,
          AWS_DEFAULT_REGION: REGION,
          AWS_ACCESS_KEY_ID: adminKey.accessKeyId,
          AWS_SECRET_ACCESS_KEY: adminKey.secretAccessKey,
          AWS_CONFIG_FILE: path.join(scratchDir, 'no-aws-config'),
          AWS_SHARED_CREDENTIALS_FILE: path.join(scratchDir, 'no-aws-credentials'),
        },
        stdio: 'pipe',
      });
      const environment = motoCliEnvironment(deployment.moto.endpoint, orgOperatorKey, scratchDir);
      // (moto 5.2.1 admits an AssumeRole without the ExternalId its trust policy asks for, so
      // the external id's use is proven in status-across-accounts.test.ts, not here.)
      const throughRole = (secret: string): Promise<CliRun> =>
        runCliProcess(
          [
            'status',
            '--role-name',
            'IamKeyRotationStatus',
            '--external-id',
            'iam-key-rotation-status',
            '--account',
            MOTO_ACCOUNT_ID,
            '--json',
            secret,
          ],
          environment,
          { cwd: scratchDir },
        );

      // Act
      const healthy = await throughRole(HEALTHY);
      const neverRotated = await throughRole(NEVER_ROTATED);
      const ownKeyOnly = await runCliProcess(['status', HEALTHY], environment, { cwd: scratchDir });

      // Assert
      expect(healthy.stderr).toBe('');
      expect(healthy.code).toBe(0);
      const [row] = (JSON.parse(healthy.stdout) as { secrets: StatusRow[] }).secrets;
      expect(row).toMatchObject({
        account: MOTO_ACCOUNT_ID,
        verdicts: ['ok'],
        currentKeySource: 'tag',
        currentKey: { accessKeyId: await keyIdIn(HEALTHY, 'AWSCURRENT'), status: 'Active' },
      });
      // No tag and no right to read the value: a finding, not a crash.
      expect(neverRotated.code).toBe(1);
      const [unknown] = (JSON.parse(neverRotated.stdout) as { secrets: StatusRow[] }).secrets;
      expect(unknown?.verdicts).toContain('current key unknown');
      expect(neverRotated.stderr).toContain('and GetSecretValue of AWSCURRENT was denied');
      // The operator's own identity reads nothing: only the role can.
      expect(ownKeyOnly.code).toBe(1);
      expect(ownKeyOnly.stdout).toMatch(new RegExp(`${HEALTHY}\\s.*error\\n$`));
      expect(ownKeyOnly.stderr).toContain('AccessDenied');
    });
  });
});
