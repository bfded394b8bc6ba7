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
import { KeyRotationFunction } from '../../lib/key-rotation-function.js';

function newStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
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
    it('lets only secretsmanager.amazonaws.com of this account invoke the function', () => {
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

    it('grants the key actions, iam:GetUser and iam:GetAccessKeyLastUsed on the user of an imported secret by ARN, and no tagging', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');

      // Act
      fn.grantRotation({
        user: iam.User.fromUserName(stack, 'User', 'alice'),
        secret: secretsmanager.Secret.fromSecretCompleteArn(
          stack,
          'Secret',
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/alice-AbCdEf',
        ),
      });

      // Assert
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
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
              Resource: {
                'Fn::Join': [
                  '',
                  ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:user/alice'],
                ],
              },
            },
          ]),
        },
      });
      expect(JSON.stringify(template.toJSON())).not.toMatch(/iam:(Untag|Tag)User/);
    });

    it('scopes the users by their ownership tag and the secrets by name prefix and stack tag, for secrets of the stack', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');
      const secret = new secretsmanager.Secret(stack, 'Secret', {
        secretName: 'iam-key-rotation/alice',
      });

      // Act
      fn.grantRotation({ user: iam.User.fromUserName(stack, 'User', 'alice'), secret });

      // Assert
      const template = Template.fromStack(stack);
      const users = {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:user/*']],
      };
      const secrets = {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/*',
          ],
        ],
      };
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [
            Match.objectLike({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] }),
            {
              Effect: 'Allow',
              Action: [
                'iam:CreateAccessKey',
                'iam:ListAccessKeys',
                'iam:UpdateAccessKey',
                'iam:DeleteAccessKey',
                'iam:GetUser',
              ],
              Resource: users,
              Condition: { StringLike: { 'iam:ResourceTag/iam-key-rotation:secret': secrets } },
            },
            { Effect: 'Allow', Action: 'iam:GetAccessKeyLastUsed', Resource: users },
            {
              Effect: 'Allow',
              Action: [
                'secretsmanager:DescribeSecret',
                'secretsmanager:GetSecretValue',
                'secretsmanager:PutSecretValue',
                'secretsmanager:UpdateSecretVersionStage',
                'secretsmanager:ListSecretVersionIds',
              ],
              Resource: secrets,
              Condition: {
                StringEquals: { 'secretsmanager:ResourceTag/iam-key-rotation:stack': 'TestStack' },
              },
            },
          ],
        },
      });
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'iam-key-rotation/alice',
        Tags: [{ Key: 'iam-key-rotation:stack', Value: 'TestStack' }],
      });
    });

    it('keeps the same policy for 1 and for 150 secrets of the stack', () => {
      // Arrange
      const policyOf = (count: number): string => {
        const stack = newStack();
        const fn = new KeyRotationFunction(stack, 'RotationFunction');
        const key = kms.Key.fromKeyArn(
          stack,
          'Key',
          'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        );
        for (let i = 0; i < count; i++) {
          fn.grantRotation({
            user: iam.User.fromUserName(stack, `User${i}`, `user-${i}`),
            secret: new secretsmanager.Secret(stack, `Secret${i}`, {
              secretName: `iam-key-rotation/user-${i}`,
            }),
            encryptionKey: key,
          });
        }
        const template = Template.fromStack(stack);
        expect(template.findResources('AWS::IAM::ManagedPolicy')).toEqual({});
        return JSON.stringify(Object.values(template.findResources('AWS::IAM::Policy')));
      };

      // Act
      const one = policyOf(1);
      const many = policyOf(150);

      // Assert
      expect(many).toBe(one);
      expect(many).toContain('kms:EncryptionContext:SecretARN');
    });

    it('reports no unacknowledged cdk-nag finding for the tag-scoped statements', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');
      fn.grantRotation({
        user: iam.User.fromUserName(stack, 'User', 'alice'),
        secret: new secretsmanager.Secret(stack, 'Secret', {
          secretName: 'iam-key-rotation/alice',
        }),
      });

      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assert
      expect(report.violations.filter((v) => v.ruleName.startsWith('AwsSolutions-IAM'))).toEqual(
        [],
      );
      expect(JSON.stringify(report.violations)).not.toContain('IAM5');
    });

    it('gathers users and secrets into shared statements of at most 18 ARNs', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');

      // Act
      for (let i = 0; i < 19; i++) {
        fn.grantRotation({
          user: iam.User.fromUserName(stack, `User${i}`, `user-${i}`),
          secret: secretsmanager.Secret.fromSecretCompleteArn(
            stack,
            `Secret${i}`,
            `arn:aws:secretsmanager:eu-west-1:123456789012:secret:s${i}-AbCdEf`,
          ),
        });
      }

      // Assert
      const statements = Template.fromStack(stack).toJSON() as {
        Resources: Record<
          string,
          {
            Type: string;
            Properties: {
              PolicyDocument?: { Statement: { Action: string | string[]; Resource: unknown }[] };
            };
          }
        >;
      };
      const all = Object.values(statements.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
        .flatMap((r) => r.Properties.PolicyDocument?.Statement ?? []);
      const iamStatements = all.filter((s) =>
        JSON.stringify(s.Action).includes('iam:CreateAccessKey'),
      );
      expect(iamStatements.map((s) => (Array.isArray(s.Resource) ? s.Resource.length : 1))).toEqual(
        [18, 1],
      );
    });

    it('grants KMS through Secrets Manager for the secrets of a key only', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');
      const key = kms.Key.fromKeyArn(
        stack,
        'Key',
        'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      );
      const secretArns = ['a', 'b'].map(
        (name) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`,
      );

      // Act
      secretArns.forEach((arn, i) => {
        fn.grantRotation({
          user: iam.User.fromUserName(stack, `User${i}`, `user-${i}`),
          secret: secretsmanager.Secret.fromSecretCompleteArn(stack, `Secret${i}`, arn),
          encryptionKey: key,
        });
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Allow',
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
              Resource: key.keyArn,
              Condition: {
                StringEquals: {
                  'kms:EncryptionContext:SecretARN': secretArns,
                  // secretsmanager.<region>.amazonaws.com (amazonaws.com.cn in China regions)
                  'kms:ViaService': {
                    'Fn::Join': ['', ['secretsmanager.eu-west-1.', { Ref: 'AWS::URLSuffix' }]],
                  },
                },
              },
            },
          ]),
        },
      });
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
              Action: 'scheduler:CreateSchedule',
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
      expect(new Set(actions)).toEqual(new Set(['"scheduler:CreateSchedule"', '"iam:PassRole"']));
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
