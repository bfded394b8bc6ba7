import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  GRACE_PERIOD_SECONDS_ENV,
  RETIREMENT_SCHEDULER_ROLE_ARN_ENV,
  RETIREMENT_SCHEDULE_GROUP_ENV,
} from '../../lambda/observability.js';
import { CURRENT_KEY_TAG_KEY, STACK_ID_ENV } from '../../lambda/rotation/binding.js';
import { KeyRotationFunction } from '../../lib/key-rotation-function.js';

function newStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

/** The secrets of the stack's region and account named iam-key-rotation/*. */
const SECRETS = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/*',
    ],
  ],
};

/** The one IAM user `name`, whatever its path. */
const userPattern = (name: string): unknown => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::123456789012:user/${name}`]],
});

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
};

/** Grants each user its secret iam-key-rotation/<name> of the stack. */
function grantUsers(
  stack: Stack,
  fn: KeyRotationFunction,
  names: readonly string[],
  encryptionKey?: kms.IKey,
): void {
  for (const name of names) {
    fn.grantRotation({
      user: iam.User.fromUserName(stack, `User-${name}`, name),
      secret: new secretsmanager.Secret(stack, `Secret-${name}`, {
        secretName: `iam-key-rotation/${name}`,
      }),
      encryptionKey,
    });
  }
}

/** Every statement of every policy of the template. */
function allStatements(template: Template): Statement[] {
  const json = template.toJSON() as {
    Resources: Record<
      string,
      { Type: string; Properties: { PolicyDocument?: { Statement: Statement[] } } }
    >;
  };
  return Object.values(json.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
    .flatMap((r) => r.Properties.PolicyDocument?.Statement ?? []);
}

describe('Construct: KeyRotationFunction', () => {
  describe('Function', () => {
    it('runs on Node.js 22 or newer, arm64, with JSON logs and the default sizes', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction');

      // Assert
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: Match.stringLikeRegexp('^nodejs(2[2-9]|[3-9][0-9])\\.x$'),
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 128,
        Timeout: 120,
        LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      });
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    });

    it('takes timeout and memory from props', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction', {
        timeout: Duration.minutes(5),
        memorySize: 256,
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
        Timeout: 300,
        MemorySize: 256,
      });
    });

    it.each([
      [
        Duration.seconds(10),
        'timeout must be between 30 seconds and 15 minutes (the testSecret step waits until 3 seconds before it), got 10 seconds',
      ],
      [Duration.minutes(16), 'got 16 minutes'],
    ])('fails when the timeout is %s', (timeout, message) => {
      // Arrange
      const stack = newStack();

      // Act & Assert
      expect(() => new KeyRotationFunction(stack, 'RotationFunction', { timeout })).toThrow(
        message,
      );
    });

    it('sets STALE_KEY_DAYS to 7 by default and to staleKeyDays when given', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'Weekly');
      new KeyRotationFunction(stack, 'Monthly', { staleKeyDays: 30 });

      // Assert
      const template = Template.fromStack(stack);
      for (const [prefix, days] of [
        ['^Weekly', '7'],
        ['^Monthly', '30'],
      ]) {
        template.hasResource('AWS::Lambda::Function', {
          Properties: Match.objectLike({ Environment: { Variables: { STALE_KEY_DAYS: days } } }),
          DependsOn: Match.arrayWith([Match.stringLikeRegexp(`${prefix}ServiceRole`)]),
        });
      }
    });

    it.each([0, 1001, 7.5, -1])('fails when staleKeyDays is %s', (staleKeyDays) => {
      // Arrange
      const stack = newStack();

      // Act & Assert
      expect(() => new KeyRotationFunction(stack, 'RotationFunction', { staleKeyDays })).toThrow(
        `staleKeyDays must be a whole number of days from 1 to 1000, got ${staleKeyDays}`,
      );
    });

    it.each([64, 10_241, 128.5])('fails when memorySize is %s', (memorySize) => {
      // Arrange
      const stack = newStack();

      // Act & Assert
      expect(() => new KeyRotationFunction(stack, 'RotationFunction', { memorySize })).toThrow(
        `memorySize must be a whole number of MB between 128 and 10240, got ${memorySize}`,
      );
    });
  });

  describe('Invoke permission', () => {
    it("lets only secretsmanager.amazonaws.com of this account invoke the function, for the stack's secret names", () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction');

      // Assert
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Lambda::Permission', 1);
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: '123456789012',
        SourceArn: SECRETS,
      });
    });
  });

  describe('Environment', () => {
    it("passes the stack's own id as IAM_KEY_ROTATION_STACK_ID", () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction');

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: { [STACK_ID_ENV]: { Ref: 'AWS::StackId' } } },
      });
    });
  });

  describe('Method: grantRotation', () => {
    it('starts with write access to its own log group only', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction');

      // Assert
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              Resource: {
                'Fn::GetAtt': [Match.stringLikeRegexp('^RotationFunctionLogGroup'), 'Arn'],
              },
            },
          ],
        },
      });
      template.hasResourceProperties('AWS::IAM::Role', {
        ManagedPolicyArns: Match.absent(),
      });
    });

    it("scopes the secrets by CloudFormation's stack-id tag, the users by ARN, and denies the rest", () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');

      // Act
      grantUsers(stack, fn, ['alice']);

      // Assert
      const template = Template.fromStack(stack);
      const ofThisStack = {
        'aws:ResourceTag/aws:cloudformation:stack-id': { Ref: 'AWS::StackId' },
      };
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [
            Match.objectLike({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] }),
            {
              Effect: 'Allow',
              Action: [
                'secretsmanager:DescribeSecret',
                'secretsmanager:GetSecretValue',
                'secretsmanager:PutSecretValue',
                'secretsmanager:UpdateSecretVersionStage',
                'secretsmanager:ListSecretVersionIds',
              ],
              Resource: SECRETS,
              Condition: { StringEquals: ofThisStack },
            },
            {
              Effect: 'Allow',
              Action: 'secretsmanager:TagResource',
              Resource: SECRETS,
              Condition: {
                StringEquals: ofThisStack,
                'ForAllValues:StringEquals': { 'aws:TagKeys': [CURRENT_KEY_TAG_KEY] },
              },
            },
            {
              Effect: 'Deny',
              Action: [
                'secretsmanager:DescribeSecret',
                'secretsmanager:GetSecretValue',
                'secretsmanager:PutSecretValue',
                'secretsmanager:UpdateSecretVersionStage',
                'secretsmanager:ListSecretVersionIds',
                'secretsmanager:TagResource',
              ],
              Resource: '*',
              Condition: { StringNotEquals: ofThisStack },
            },
            {
              Effect: 'Deny',
              Action: ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey'],
              Resource: '*',
              Condition: {
                StringNotLike: { 'iam:ResourceTag/iam-key-rotation:secret': SECRETS },
              },
            },
            {
              Effect: 'Allow',
              Action: [
                'iam:CreateAccessKey',
                'iam:ListAccessKeys',
                'iam:UpdateAccessKey',
                'iam:DeleteAccessKey',
                'iam:GetUser',
                'iam:GetAccessKeyLastUsed',
              ],
              Resource: userPattern('alice'),
            },
          ],
        },
      });
      // The stack tag stays as a cross-check; no permission depends on it.
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'iam-key-rotation/alice',
        Tags: [{ Key: 'iam-key-rotation:stack', Value: 'TestStack' }],
      });
      expect(JSON.stringify(template.toJSON())).not.toMatch(/iam:(Untag|Tag)User/);
      expect(JSON.stringify(template.toJSON())).not.toContain(
        'secretsmanager:ResourceTag/iam-key-rotation:stack',
      );
    });

    it.each([
      [
        'an imported secret',
        (stack: Stack) =>
          secretsmanager.Secret.fromSecretCompleteArn(
            stack,
            'Secret',
            'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/alice-AbCdEf',
          ),
        'got TestStack/Secret, which is imported or of another stack',
      ],
      [
        'a secret of another stack',
        (stack: Stack) =>
          new secretsmanager.Secret(new Stack(App.of(stack), 'Other'), 'Secret', {
            secretName: 'iam-key-rotation/alice',
          }),
        'got Other/Secret, which is imported or of another stack',
      ],
      [
        'a secret named after another user',
        (stack: Stack) =>
          new secretsmanager.Secret(stack, 'Secret', { secretName: 'iam-key-rotation/bob' }),
        'got a secret named "iam-key-rotation/bob"',
      ],
      [
        'a secret with a generated name',
        (stack: Stack) => new secretsmanager.Secret(stack, 'Secret'),
        'got a secret named by CloudFormation',
      ],
    ])('fails when granted %s', (_case, secretOf, message) => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');
      const secret = secretOf(stack);

      // Act & Assert
      expect(() => {
        fn.grantRotation({ user: iam.User.fromUserName(stack, 'User', 'alice'), secret });
      }).toThrow(
        `grantRotation needs a secret created by the rotation function's stack and named iam-key-rotation/alice (the function rotates only secrets whose aws:cloudformation:stack-id tag is its own stack, and takes the user from the name), ${message}`,
      );
    });

    it('gathers the user patterns into statements of at most 18, and keeps the rest of the policy as it is', () => {
      // Arrange
      const statementsOf = (count: number): Statement[] => {
        const stack = newStack();
        const fn = new KeyRotationFunction(stack, 'RotationFunction');
        const key = kms.Key.fromKeyArn(
          stack,
          'Key',
          'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        );
        grantUsers(
          stack,
          fn,
          Array.from({ length: count }, (_, i) => `user-${i}`),
          key,
        );
        return allStatements(Template.fromStack(stack));
      };

      // Act
      const one = statementsOf(1);
      const many = statementsOf(37);

      // Assert
      const userStatements = (statements: Statement[]): Statement[] =>
        statements.filter(
          (s) => s.Effect === 'Allow' && JSON.stringify(s.Action).includes('iam:CreateAccessKey'),
        );
      expect(
        userStatements(many).map((s) => (Array.isArray(s.Resource) ? s.Resource.length : 1)),
      ).toEqual([18, 18, 1]);
      expect(JSON.stringify(userStatements(many))).toContain('user/user-36"');
      const others = (statements: Statement[]): string =>
        JSON.stringify(statements.filter((s) => !userStatements(statements).includes(s)));
      expect(others(many)).toBe(others(one));
      expect(others(many)).toContain('kms:EncryptionContext:SecretARN');
    });

    it('grants a user once however often it is granted', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');
      const user = iam.User.fromUserName(stack, 'User', 'alice');
      const secret = new secretsmanager.Secret(stack, 'Secret', {
        secretName: 'iam-key-rotation/alice',
      });

      // Act
      fn.grantRotation({ user, secret });
      fn.grantRotation({ user, secret });

      // Assert
      const patterns = JSON.stringify(allStatements(Template.fromStack(stack))).split('user/alice');
      expect(patterns).toHaveLength(2);
    });

    it('reports no unacknowledged cdk-nag finding for the statements', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');
      grantUsers(stack, fn, ['alice', 'bob']);

      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assert
      expect(report.violations.filter((v) => v.ruleName.startsWith('AwsSolutions-IAM'))).toEqual(
        [],
      );
      expect(JSON.stringify(report.violations)).not.toContain('IAM5');
    });

    it('grants KMS through Secrets Manager for the secrets iam-key-rotation/* of a key only, once per key', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');
      const key = kms.Key.fromKeyArn(
        stack,
        'Key',
        'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      );

      // Act
      grantUsers(stack, fn, ['alice', 'bob'], key);

      // Assert
      const kmsStatements = allStatements(Template.fromStack(stack)).filter((s) =>
        JSON.stringify(s.Action).includes('kms:'),
      );
      expect(kmsStatements).toEqual([
        {
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: key.keyArn,
          Condition: {
            StringLike: { 'kms:EncryptionContext:SecretARN': SECRETS },
            // secretsmanager.<region>.amazonaws.com (amazonaws.com.cn in China regions)
            StringEquals: {
              'kms:ViaService': {
                'Fn::Join': ['', ['secretsmanager.eu-west-1.', { Ref: 'AWS::URLSuffix' }]],
              },
            },
          },
        },
      ]);
    });
  });

  describe('Grace period', () => {
    /** The logical id of the only resource of `type` whose id starts with `prefix`. */
    function logicalIdOf(template: Template, type: string, prefix: string): string {
      const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
      if (ids.length !== 1 || ids[0] === undefined) {
        throw new Error(`expected one ${type} ${prefix}*, got [${ids.join(', ')}]`);
      }
      return ids[0];
    }

    it('has no schedule group, scheduler role or grace period environment by default', () => {
      // Arrange
      const stack = newStack();

      // Act
      const fn = new KeyRotationFunction(stack, 'RotationFunction');

      // Assert
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 0);
      template.resourceCountIs('AWS::IAM::Role', 1);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: { STALE_KEY_DAYS: '7' } },
      });
      expect(JSON.stringify(template.toJSON())).not.toMatch(/scheduler:|iam:PassRole/);
      expect(fn.hasGracePeriod).toBe(false);
      expect(fn.retirementScheduleGroup).toBeUndefined();
      expect(fn.retirementSchedulerRole).toBeUndefined();
    });

    it('has none of them with a grace period of zero', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction', { gracePeriod: Duration.minutes(0) });

      // Assert
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 0);
      template.resourceCountIs('AWS::IAM::Role', 1);
    });

    it('passes the grace period, the schedule group and the scheduler role in the environment', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction', { gracePeriod: Duration.hours(24) });

      // Assert
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
      const groupId = logicalIdOf(template, 'AWS::Scheduler::ScheduleGroup', 'RotationFunction');
      const roleId = logicalIdOf(template, 'AWS::IAM::Role', 'RotationFunctionRetirementScheduler');
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: {
            STALE_KEY_DAYS: '7',
            [GRACE_PERIOD_SECONDS_ENV]: '86400',
            [RETIREMENT_SCHEDULE_GROUP_ENV]: { Ref: groupId },
            [RETIREMENT_SCHEDULER_ROLE_ARN_ENV]: { 'Fn::GetAtt': [roleId, 'Arn'] },
          },
        },
      });
    });

    it('lets only EventBridge Scheduler of this account assume the scheduler role, for schedules of the group', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction', { gracePeriod: Duration.minutes(90) });

      // Assert
      const template = Template.fromStack(stack);
      const groupId = logicalIdOf(template, 'AWS::Scheduler::ScheduleGroup', 'RotationFunction');
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'sts:AssumeRole',
              Principal: { Service: 'scheduler.amazonaws.com' },
              Condition: {
                StringEquals: { 'aws:SourceAccount': '123456789012' },
                ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [groupId, 'Arn'] } },
              },
            },
          ],
        },
        ManagedPolicyArns: Match.absent(),
      });
    });

    it('lets the scheduler role only invoke this function', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction', { gracePeriod: Duration.minutes(90) });

      // Assert
      const template = Template.fromStack(stack);
      const roleId = logicalIdOf(template, 'AWS::IAM::Role', 'RotationFunctionRetirementScheduler');
      const functionId = logicalIdOf(template, 'AWS::Lambda::Function', 'RotationFunction');
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: roleId }],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'lambda:InvokeFunction',
              Resource: { 'Fn::GetAtt': [functionId, 'Arn'] },
            },
          ],
        },
      });
    });

    it('lets the function create and delete schedules only in its group, and pass only the scheduler role to EventBridge Scheduler', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction', { gracePeriod: Duration.days(7) });

      // Assert
      const template = Template.fromStack(stack);
      const groupId = logicalIdOf(template, 'AWS::Scheduler::ScheduleGroup', 'RotationFunction');
      const roleId = logicalIdOf(template, 'AWS::IAM::Role', 'RotationFunctionRetirementScheduler');
      const serviceRoleId = logicalIdOf(template, 'AWS::IAM::Role', 'RotationFunctionServiceRole');
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: serviceRoleId }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Allow',
              Action: ['scheduler:CreateSchedule', 'scheduler:GetSchedule'],
              Resource: {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    ':scheduler:eu-west-1:123456789012:schedule/',
                    { Ref: groupId },
                    '/*',
                  ],
                ],
              },
            },
            {
              Effect: 'Allow',
              Action: 'iam:PassRole',
              Resource: { 'Fn::GetAtt': [roleId, 'Arn'] },
              Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
            },
          ]),
        },
      });
      const actions = JSON.stringify(template.toJSON())
        .match(/"(scheduler|iam):[A-Za-z]+"/g)
        ?.filter((name) => name !== '"iam:PassedToService"');
      expect(new Set(actions)).toEqual(
        new Set(['"scheduler:CreateSchedule"', '"scheduler:GetSchedule"', '"iam:PassRole"']),
      );
    });

    it('reports no unacknowledged cdk-nag finding', () => {
      // Arrange
      const stack = newStack();
      new KeyRotationFunction(stack, 'RotationFunction', { gracePeriod: Duration.hours(24) });

      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assert
      expect(report.violations).toEqual([]);
    });

    it.each([
      [
        Duration.seconds(90),
        'gracePeriod must be whole minutes (Duration.minutes(0) for none), got 1 minute 30 seconds',
      ],
      [Duration.seconds(30), 'gracePeriod must be whole minutes'],
    ])('fails when the grace period is %s', (gracePeriod, message) => {
      // Arrange
      const stack = newStack();

      // Act & Assert
      expect(() => new KeyRotationFunction(stack, 'RotationFunction', { gracePeriod })).toThrow(
        message,
      );
    });
  });
});
