import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetUserCommand } from '@aws-sdk/client-iam';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPlan, type PlanReport } from '../../cli/commands/plan.js';
import { UsageError } from '../../cli/errors.js';
import type { TargetAccess } from '../../cli/commands/status-targets.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';
import { PROJECT_ROOT } from '../support/cli-process.js';
import { REGION } from '../support/fake-aws.js';

/**
 * `runPlan` with the command's own clients on mocked AWS APIs: what it says when it cannot read a
 * user or reach an account. The verdicts themselves: test/cli/plan/user-plan.test.ts and, with
 * the built command over moto, test/cli/plan-over-moto.test.ts.
 */
let fake: FakeOperatorAws;
let directory: string;
beforeEach(() => {
  fake = new FakeOperatorAws();
  directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-plan-unit-'));
});
afterEach(() => {
  fake.restore();
  rmSync(directory, { recursive: true, force: true });
});

const configFile = (users: readonly object[]): string => {
  const file = path.join(directory, 'users.json');
  writeFileSync(file, JSON.stringify({ users }));
  return file;
};

describe('Command: plan', () => {
  it('reports a user it may not read as an error naming where and the permissions, and exits 1', async () => {
    // Arrange
    fake.addUser('alice');
    fake.iam.on(GetUserCommand).rejects(
      Object.assign(new Error('User: operator is not authorized to perform: iam:GetUser'), {
        name: 'AccessDenied',
      }),
    );
    const io = new CapturedIo();
    const targets: TargetAccess[] = [];

    // Act
    const code = await runPlan(
      {
        io,
        clientConfig: { region: REGION },
        dependenciesFor: (target) => {
          targets.push(target);
          return Promise.resolve(fake.dependencies(io));
        },
      },
      { config: configFile([{ userName: 'alice', schedule: 'rate(30 days)' }]), json: true },
    );

    // Assert
    expect(code).toBe(1);
    expect(targets).toEqual([{ region: REGION }]);
    const report = JSON.parse(io.out) as PlanReport;
    expect(report.canRotate).toBe(false);
    expect(report.users).toHaveLength(1);
    expect(report.users[0]).toMatchObject({ userName: 'alice', verdict: 'error', region: REGION });
    expect(report.users[0]?.findings[0]?.message).toMatch(
      /^cannot read IAM user alice or secret iam-key-rotation\/alice in region eu-west-1, .*not authorized to perform: iam:GetUser.*plan needs iam:GetUser/,
    );
  });

  it('prints AWS text without its control characters (no escape sequence reaches the terminal)', async () => {
    // Arrange: an error message (AWS data) carrying ESC, a C1 CSI and a forged line.
    fake.addUser('alice');
    fake.iam
      .on(GetUserCommand)
      .rejects(
        Object.assign(new Error('denied\u001b[2J\u009b31m\nfake: ok'), { name: 'AccessDenied' }),
      );
    const io = new CapturedIo();

    // Act
    const code = await runPlan(
      {
        io,
        clientConfig: { region: REGION },
        dependenciesFor: () => Promise.resolve(fake.dependencies(io)),
      },
      { config: configFile([{ userName: 'alice', schedule: 'rate(30 days)' }]), json: false },
    );

    // Assert
    expect(code).toBe(1);
    const printed = io.out + io.err;
    expect(printed).toContain('denied\\u{1b}[2J\\u{9b}31m\\u{0a}fake: ok');
    // eslint-disable-next-line no-control-regex -- the characters that must not be printed
    expect(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(printed)).toBe(false);
  });

  it('closes with the deploy commands (synth, bootstrap, deploy), the config path quoted', async () => {
    // Arrange: a user without keys and no secret yet, in a configuration whose path has a space.
    fake.addUser('alice');
    const io = new CapturedIo();
    const file = path.join(directory, 'my users.json');
    writeFileSync(
      file,
      JSON.stringify({ users: [{ userName: 'alice', schedule: 'rate(30 days)' }] }),
    );

    // Act
    const code = await runPlan(
      {
        io,
        clientConfig: { region: REGION },
        dependenciesFor: () => Promise.resolve(fake.dependencies(io)),
      },
      { config: file, json: false },
    );

    // Assert
    expect(code).toBe(0);
    expect(io.err).toContain(`npx cdk bootstrap -c 'iamKeyRotationConfigFile=${file}'`);
    expect(io.err).toContain(`npx cdk synth -c 'iamKeyRotationConfigFile=${file}'`);
    expect(io.err).toContain(`npx cdk deploy --all -c 'iamKeyRotationConfigFile=${file}'`);
  });

  it('does not tell an unknown user to "fix the findings" (its finding is a note): says to look with status', async () => {
    // Arrange: a managed secret after a rotation, without its current-key tag.
    fake.addUser('alice');
    const held = fake.addSecret('iam-key-rotation/alice', 'alice');
    held.versions.set('older', {
      value: undefined,
      stages: new Set(['AWSPREVIOUS']),
      createdDate: new Date(0),
    });
    const io = new CapturedIo();

    // Act
    const code = await runPlan(
      {
        io,
        clientConfig: { region: REGION },
        dependenciesFor: () => Promise.resolve(fake.dependencies(io)),
      },
      { config: configFile([{ userName: 'alice', schedule: 'rate(30 days)' }]), json: false },
    );

    // Assert
    expect(code).toBe(1);
    expect(io.err).toContain('note: current key unknown');
    expect(io.err).not.toContain('fix the findings above');
    expect(io.err).toContain(
      '1 of 1 users cannot rotate yet: plan cannot tell without reading the secret',
    );
  });

  it('refuses a --placement file that does not exist (a typo), asking nothing of AWS', async () => {
    // Arrange
    const io = new CapturedIo();
    const asked: TargetAccess[] = [];
    const placement = path.join(directory, 'users.placment.json');

    // Act
    const run = runPlan(
      {
        io,
        clientConfig: { region: REGION },
        dependenciesFor: (target) => {
          asked.push(target);
          return Promise.resolve(fake.dependencies(io));
        },
      },
      {
        config: configFile([{ userName: 'alice', schedule: 'rate(30 days)' }]),
        placement,
        json: false,
      },
    );

    // Assert
    await expect(run).rejects.toThrow(`--placement "${placement}": no such file`);
    await expect(run).rejects.toBeInstanceOf(UsageError);
    expect(asked).toEqual([]);
  });

  it('reports every user of an account it cannot reach, and still plans the others', async () => {
    // Arrange
    fake.addUser('bob');
    const io = new CapturedIo();

    // Act
    const code = await runPlan(
      {
        io,
        clientConfig: { region: REGION },
        dependenciesFor: (target) =>
          target.account === undefined
            ? Promise.resolve(fake.dependencies(io))
            : Promise.reject(new Error('AccessDenied: not authorized to perform: sts:AssumeRole')),
      },
      {
        config: configFile([
          { userName: 'alice', schedule: 'rate(30 days)', account: '111111111111' },
          { userName: 'bob', schedule: 'rate(30 days)' },
        ]),
        json: true,
        roleName: 'IamKeyRotationStatus',
      },
    );

    // Assert
    expect(code).toBe(1);
    const report = JSON.parse(io.out) as PlanReport;
    expect(report.users.map((row) => [row.userName, row.account, row.verdict])).toEqual([
      ['alice', '111111111111', 'error'],
      ['bob', expect.any(String), 'ok'],
    ]);
    expect(report.users[0]?.findings[0]?.message).toContain(
      'cannot read users and secrets through role arn:aws:iam::111111111111:role/IamKeyRotationStatus',
    );
    expect(io.err).toContain('1 of 2 users cannot rotate yet');
  });

  it('refuses, exit 2, a configuration naming an account without --role-name', async () => {
    // Arrange
    const io = new CapturedIo();

    // Act
    const outcome = runPlan(
      { io, clientConfig: {}, dependenciesFor: () => Promise.reject(new Error('not called')) },
      {
        config: configFile([
          { userName: 'alice', schedule: 'rate(30 days)', account: '111111111111' },
        ]),
        json: false,
      },
    );

    // Assert
    await expect(outcome).rejects.toThrow(
      'account 111111111111 is read through a role: add --role-name',
    );
    await expect(outcome).rejects.toHaveProperty('exitCode', 2);
    expect(io.out).toBe('');
  });
});

describe('The role policy of docs/organization-status-role-policy.json', () => {
  /** IAM's resource match: `*` any run of characters, `?` one. */
  const matches = (pattern: string, arn: string): boolean =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    ).test(arn);

  it("lets plan ask CloudFormation about this product's stacks only", () => {
    // Arrange
    const policy = JSON.parse(
      readFileSync(path.join(PROJECT_ROOT, 'docs', 'organization-status-role-policy.json'), 'utf8'),
    ) as {
      Statement: { Effect: string; Action: string | string[]; Resource: string | string[] }[];
    };
    const resources = policy.Statement.filter(
      (statement) =>
        statement.Effect === 'Allow' &&
        [statement.Action].flat().some((action) => action.startsWith('cloudformation:')),
    ).flatMap((statement) => [statement.Resource].flat());
    const allows = (arn: string): boolean => resources.some((pattern) => matches(pattern, arn));

    // Assert
    expect(resources.length).toBeGreaterThan(0);
    expect(allows('arn:aws:cloudformation:eu-west-1:123456789012:stack/IamKeyRotation/1a2b')).toBe(
      true,
    );
    expect(
      allows(
        'arn:aws:cloudformation:eu-west-1:123456789012:stack/IamKeyRotation-123456789012-eu-west-1-2/1a2b',
      ),
    ).toBe(true);
    expect(allows('arn:aws:cloudformation:eu-west-1:123456789012:stack/Payroll/1a2b')).toBe(false);
  });
});
