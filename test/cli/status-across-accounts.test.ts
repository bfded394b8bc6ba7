import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { statusTargetsOfConfig } from '../../cli/commands/status-targets.js';
import {
  ASSUMED_ROLE_SESSION_NAME,
  createCliDependenciesFor,
  type CliClientConfig,
} from '../../cli/dependencies.js';
import { roleArnOf } from '../../cli/partition.js';
import { runCli } from '../../cli/program.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';
import { REGION } from '../support/fake-aws.js';
import { CURRENT_KEY_TAG_KEY } from '../../lambda/rotation/binding.js';

const DAY = 86_400_000;
let fake: FakeOperatorAws;
let directory: string | undefined;

beforeEach(() => {
  fake = new FakeOperatorAws();
});

afterEach(() => {
  fake.restore();
  if (directory) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
});

/** Temporary credentials STS hands out for a role of `account`. */
const credentialsOf = (account: string) => ({
  AccessKeyId: `ASIA${account}0000`,
  SecretAccessKey: `role-secret-${account}`,
  SessionToken: `session-${account}`,
  Expiration: new Date(Date.now() + 900_000),
});

/** STS: AssumeRole answers for the roles of `accounts`, and denies any other. */
const stsAssuming = (accounts: readonly string[]): void => {
  fake.sts.on(AssumeRoleCommand).callsFake((input: { RoleArn: string }) => {
    const account = /^arn:aws[a-z-]*:iam::(\d{12}):role\//.exec(input.RoleArn)?.[1] ?? '';
    if (!accounts.includes(account)) {
      const error = new Error(
        `User: arn:aws:iam::999999999999:user/operator is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`,
      );
      error.name = 'AccessDenied';
      return Promise.reject(error);
    }
    return Promise.resolve({ Credentials: credentialsOf(account) });
  });
};

const run = async (argv: string[]): Promise<{ code: number; io: CapturedIo }> => {
  const io = new CapturedIo();
  const code = await runCli(argv, {
    io,
    environment: {},
    createDependencies: () => fake.dependencies(io),
    createTargetDependencies: async (clientConfig: CliClientConfig, target) => ({
      ...(await createCliDependenciesFor({
        clientConfig: {
          ...clientConfig,
          region: REGION,
          credentials: { accessKeyId: 'AKIAOPERATOR000000000', secretAccessKey: 'operator-secret' },
        },
        io,
        ...target,
      })),
      clock: { now: () => fake.now(), sleep: () => Promise.resolve() },
    }),
  });
  return { code, io };
};

/** A healthy secret (one rotation done). */
const healthySecret = (userName: string): void => {
  const secret = fake.addManagedSecret(userName, {
    lastRotatedDate: new Date(fake.now() - DAY),
    nextRotationDate: new Date(fake.now() + 29 * DAY),
  });
  const key = fake.addKey(userName);
  fake.startRotation(secret.name, `${userName}-version-2`);
  const pending = fake.version(secret.name, `${userName}-version-2`);
  pending.value = JSON.stringify({
    UserName: userName,
    AccessKeyId: key.accessKeyId,
    SecretAccessKey: key.secretAccessKey,
  });
  pending.stages = new Set(['AWSCURRENT']);
  fake.version(secret.name, 'initial-version').stages = new Set(['AWSPREVIOUS']);
  secret.tags[CURRENT_KEY_TAG_KEY] = `${userName}-version-2:${key.accessKeyId}`;
};

/** A configuration file of `users` in a fresh directory; returns its path. */
const configFile = (users: readonly Record<string, string>[]): string => {
  directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-status-'));
  const file = path.join(directory, 'users.json');
  writeFileSync(
    file,
    JSON.stringify({ users: users.map((user) => ({ schedule: 'rate(30 days)', ...user })) }),
  );
  return file;
};

describe('Command: status --role-name', () => {
  it('assumes the role in each account and prints one table with account and region columns', async () => {
    // Arrange
    healthySecret('alice');
    stsAssuming(['111111111111', '222222222222']);

    // Act
    const { code, io } = await run([
      '--region',
      REGION,
      'status',
      '--role-name',
      'IamKeyRotationStatus',
      '--account',
      '111111111111',
      '--account',
      '222222222222',
    ]);

    // Assert
    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(fake.sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input)).toEqual([
      {
        RoleArn: 'arn:aws:iam::111111111111:role/IamKeyRotationStatus',
        RoleSessionName: ASSUMED_ROLE_SESSION_NAME,
        DurationSeconds: 900,
      },
      {
        RoleArn: 'arn:aws:iam::222222222222:role/IamKeyRotationStatus',
        RoleSessionName: ASSUMED_ROLE_SESSION_NAME,
        DurationSeconds: 900,
      },
    ]);
    const lines = io.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ACCOUNT\s+REGION\s+USER\s+CURRENT KEY/);
    expect(lines.slice(1).map((line) => line.split(/\s+/).slice(0, 3))).toEqual([
      ['111111111111', REGION, 'alice'],
      ['222222222222', REGION, 'alice'],
    ]);
    // Secrets Manager is read with each account's role credentials, not the operator's.
    const signers = await Promise.all(
      fake.secretsManager.commandCalls(ListSecretsCommand).map(async (call) => {
        const client = call.thisValue as {
          config: { credentials: () => Promise<{ accessKeyId: string }> };
        };
        return (await client.config.credentials()).accessKeyId;
      }),
    );
    expect(signers).toEqual(['ASIA1111111111110000', 'ASIA2222222222220000']);
  });

  it('fails when the role cannot be assumed in an account, still showing the others and saying what to check', async () => {
    // Arrange
    healthySecret('alice');
    stsAssuming(['111111111111']);

    // Act
    const { code, io } = await run([
      '--region',
      REGION,
      'status',
      '--role-name',
      'IamKeyRotationStatus',
      '--account',
      '111111111111',
      '--account',
      '333333333333',
      '--json',
    ]);

    // Assert
    expect(code).toBe(1);
    const json = JSON.parse(io.out) as { secrets: { account: string; userName: string }[] };
    expect(json.secrets.map((row) => [row.account, row.userName])).toEqual([
      ['111111111111', 'alice'],
    ]);
    expect(io.err).toContain(
      '333333333333 eu-west-1: error: cannot read the secrets through role arn:aws:iam::333333333333:role/IamKeyRotationStatus: AccessDenied:',
    );
    expect(io.err).toContain(
      'trusts your identity (sts:AssumeRole, with --external-id if its trust asks for one)',
    );
  });

  it('passes --external-id to AssumeRole and takes the partition of the role ARN from the region', async () => {
    // Arrange
    healthySecret('alice');
    stsAssuming(['111111111111']);

    // Act
    const { code } = await run([
      '--region',
      'cn-north-1',
      'status',
      '--role-name',
      'IamKeyRotationStatus',
      '--external-id',
      'ops-status-7f3a',
      '--account',
      '111111111111',
    ]);

    // Assert
    expect(code).toBe(0);
    expect(fake.sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input)).toEqual([
      {
        RoleArn: 'arn:aws-cn:iam::111111111111:role/IamKeyRotationStatus',
        RoleSessionName: ASSUMED_ROLE_SESSION_NAME,
        DurationSeconds: 900,
        ExternalId: 'ops-status-7f3a',
      },
    ]);
  });

  it.each([
    ['cn-northwest-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
    ['us-iso-east-1', 'aws-iso'],
    ['us-isob-east-1', 'aws-iso-b'],
    ['eu-west-1', 'aws'],
  ])('builds role ARNs in %s in partition %s', (region, partition) => {
    expect(roleArnOf('111111111111', 'Reader', region)).toBe(
      `arn:${partition}:iam::111111111111:role/Reader`,
    );
  });

  describe('--config', () => {
    it('has one row per configured user; a user without a secret is a finding (exit 1) and is listed', async () => {
      // Arrange: alice and carol deployed, bob configured but never deployed
      healthySecret('alice');
      healthySecret('carol');
      const file = configFile([{ userName: 'alice' }, { userName: 'bob' }, { userName: 'carol' }]);

      // Act
      const { code, io } = await run(['--region', REGION, 'status', '--config', file]);

      // Assert
      expect(code).toBe(1);
      const lines = io.out.trimEnd().split('\n');
      expect(lines.slice(1).map((line) => line.split(/\s+/)[2])).toEqual(['alice', 'bob', 'carol']);
      expect(lines[2]).toMatch(/bob\s.*missing secret$/);
      expect(io.err).toContain(
        '(current) eu-west-1: bob: missing secret: No secret iam-key-rotation/bob was found in region eu-west-1',
      );
      expect(fake.sts.commandCalls(AssumeRoleCommand)).toEqual([]);
    });

    it('lists only the configured users, not other managed secrets of the account', async () => {
      // Arrange
      healthySecret('alice');
      healthySecret('zoe');
      const file = configFile([{ userName: 'alice' }]);

      // Act
      const { code, io } = await run(['--region', REGION, 'status', '--config', file, '--json']);

      // Assert
      expect(code).toBe(0);
      const json = JSON.parse(io.out) as { secrets: { userName: string }[] };
      expect(json.secrets.map((row) => row.userName)).toEqual(['alice']);
    });

    it('gives every user of an account it cannot read an error row', async () => {
      // Arrange
      stsAssuming([]);
      const file = configFile([
        { userName: 'alice', account: '333333333333', region: 'eu-west-1' },
        { userName: 'bob', account: '333333333333', region: 'eu-west-1' },
      ]);

      // Act
      const { code, io } = await run(['status', '--config', file, '--role-name', 'Reader']);

      // Assert
      expect(code).toBe(1);
      expect(
        io.out
          .trimEnd()
          .split('\n')
          .slice(1)
          .map((line) => line.split(/\s+/)[2]),
      ).toEqual(['alice', 'bob']);
      expect(io.err).toContain(
        'cannot read the secrets through role arn:aws:iam::333333333333:role/Reader',
      );
    });

    it('fails with a usage error when a user has an account and --role-name is missing', async () => {
      // Arrange
      const file = configFile([{ userName: 'alice', account: '333333333333' }]);

      // Act
      const { code, io } = await run(['status', '--config', file]);

      // Assert
      expect(code).toBe(2);
      expect(io.err).toContain('account 333333333333 is read through a role: add --role-name');
    });
  });

  it.each([
    [
      ['--account', '111111111111'],
      'account 111111111111 is read through a role: add --role-name <role>',
    ],
    [
      ['--role-name', 'Reader'],
      '--role-name needs the accounts to look into: --account <id> (repeat for several) or --config <file>',
    ],
    [
      ['--external-id', 'ops-status', '--account', '111111111111'],
      '--external-id is passed to the role of --role-name: add --role-name <role>',
    ],
    [
      ['--role-name', 'Reader', '--external-id', 'x', '--account', '111111111111'],
      '--external-id: expected 2-1224 characters',
    ],
    [
      ['--role-name', 'Reader', '--account', '12345'],
      '--account: expected an AWS account id of 12 digits, got "12345"',
    ],
    [['--role-name', 'a/b', '--account', '111111111111'], '--role-name: expected an IAM role name'],
  ])('fails with a usage error for %j, naming the option', async (options, message) => {
    // Act
    const { code, io } = await run(['status', ...options]);

    // Assert
    expect(code).toBe(2);
    expect(io.err).toContain(message);
    expect(fake.sts.commandCalls(AssumeRoleCommand)).toEqual([]);
  });
});

describe('Function: statusTargetsOfConfig', () => {
  it('reads each account and region of the users once, in order, with their users', async () => {
    // Arrange
    directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-status-'));
    const file = path.join(directory, 'users.json');
    writeFileSync(
      file,
      JSON.stringify({
        users: [
          { userName: 'a', schedule: 'rate(30 days)' },
          {
            userName: 'b',
            schedule: 'rate(30 days)',
            account: '111111111111',
            region: 'eu-west-1',
          },
          {
            userName: 'c',
            schedule: 'rate(30 days)',
            account: '111111111111',
            region: 'eu-west-1',
          },
          { userName: 'd', schedule: 'rate(30 days)', account: '222222222222' },
        ],
      }),
    );

    // Act
    const targets = await statusTargetsOfConfig(file);

    // Assert
    expect(targets).toEqual([
      { users: ['a'] },
      { account: '111111111111', region: 'eu-west-1', users: ['b', 'c'] },
      { account: '222222222222', users: ['d'] },
    ]);
  });

  it('fails with a usage error that names the file and the field of an invalid configuration', async () => {
    // Arrange
    directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-status-'));
    const file = path.join(directory, 'users.json');
    writeFileSync(
      file,
      JSON.stringify({ users: [{ userName: 'a', schedule: 'rate(30 days)', account: '1' }] }),
    );

    // Act & Assert
    await expect(statusTargetsOfConfig(file)).rejects.toThrow(
      `--config "${file}": iamKeyRotation.users[0].account: expected an AWS account id of 12 digits`,
    );
  });
});
